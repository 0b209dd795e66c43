#include <cstring>

#include "bourse/engine/command.h"

namespace bourse {

std::size_t command_payload_size(CommandType type) {
  switch (type) {
    case CommandType::kPlaceOrder: return sizeof(PlaceOrder);
    case CommandType::kCancelOrder: return sizeof(CancelOrder);
    case CommandType::kAmendOrder: return sizeof(AmendOrder);
    case CommandType::kCancelAll: return sizeof(CancelAll);
    case CommandType::kDeposit:
    case CommandType::kWithdraw: return sizeof(Transfer);
    case CommandType::kAddAsset: return sizeof(AssetSpec);
    case CommandType::kAddInstrument: return sizeof(InstrumentSpec);
    case CommandType::kSetInstrumentStatus: return sizeof(SetInstrumentStatus);
    case CommandType::kConfigureAccount: return sizeof(ConfigureAccount);
    case CommandType::kSetAccountEnabled: return sizeof(SetAccountEnabled);
    case CommandType::kExpireDayOrders: return sizeof(ExpireDayOrders);
    case CommandType::kHeartbeat: return sizeof(Heartbeat);
    case CommandType::kExternalTrade: return sizeof(ExternalTrade);
    case CommandType::kSetMarginParams: return sizeof(SetMarginParams);
    case CommandType::kSquareOff: return sizeof(SquareOff);
    case CommandType::kCancelAfter: return sizeof(CancelAfter);
    case CommandType::kSetAccountLimits: return sizeof(SetAccountLimits);
    case CommandType::kSetLossLimit: return sizeof(SetLossLimit);
    case CommandType::kSetCircuitLimits: return sizeof(SetCircuitLimits);
  }
  return 0;
}

std::size_t encode_command(const Command& c, unsigned char* out) {
  const std::size_t payload = command_payload_size(c.header.type);
  std::memcpy(out, &c.header, sizeof(CommandHeader));
  std::memcpy(out + sizeof(CommandHeader), &c.payload, payload);
  return sizeof(CommandHeader) + payload;
}

bool decode_command(const unsigned char* data, std::size_t size, Command* out) {
  if (size < sizeof(CommandHeader)) return false;
  Command c;
  std::memcpy(&c.header, data, sizeof(CommandHeader));
  // An unknown type travels as a bare header: the engine rejects it with
  // INVALID_COMMAND, on replay exactly as the first time.
  const std::size_t payload = command_payload_size(c.header.type);
  if (size != sizeof(CommandHeader) + payload) return false;
  std::memcpy(static_cast<void*>(&c.payload), data + sizeof(CommandHeader), payload);
  *out = c;
  return true;
}

}  // namespace bourse
