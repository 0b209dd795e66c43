// Randomized command streams for the differential test: a fixed catalogue of
// assets and instruments with different scales, a dozen accounts, then a mix
// of every command with mostly-valid parameters and deliberate mistakes.
// observe() feeds the engine's events back so that cancels and amends mostly
// hit live orders and prices follow the last trade.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "bourse/engine/command.h"
#include "bourse/engine/engine.h"
#include "bourse/engine/event.h"

namespace bourse::testing {

struct RandomCommandConfig {
  uint32_t instruments = 4;           // 1..4 from the catalogue (BTC-USD, ETH-USD, ACME-EUR, ETH-BTC)
  uint32_t accounts = 12;             // trading accounts 1..accounts
  uint32_t target_live_orders = 250;  // above this, cancels get likelier than new orders
  int32_t price_spread_ticks = 10;    // passive limit prices within this many ticks of the last price
  // The engine the stream is meant for: ids at or past these limits are
  // generated on purpose to provoke INVALID_ACCOUNT / CAPACITY_EXCEEDED.
  EngineConfig engine = {.max_accounts = 1024,
                         .max_assets = 64,
                         .max_instruments = 64,
                         .order_capacity = 1u << 16,  // far above the ~400 live orders the account limits allow
                         .default_max_open_orders = 64};
};

class RandomCommandGenerator {
 public:
  RandomCommandGenerator(uint64_t seed, RandomCommandConfig config);

  // Assets, instruments, accounts and initial deposits (all valid).
  std::vector<Command> setup();
  // The next command, with seq = previous + 1 and a slightly later timestamp.
  Command next();
  // Feed back the events of the last applied command.
  void observe(std::span<const Event> events);

  std::size_t live_orders() const { return live_.size(); }

 private:
  struct LiveOrder {
    uint64_t id = 0;
    uint32_t account = 0;
    uint32_t instrument = 0;
    Side side = Side::kBuy;
    OrderType type = OrderType::kLimit;
    TimeInForce tif = TimeInForce::kGtc;
    int64_t price = 0;
    int64_t stop_price = 0;
    int64_t qty = 0;
    int64_t filled = 0;
    bool pending = false;
    ClientOrderId client_order_id;
  };
  struct InstrumentInfo {
    InstrumentSpec spec;
    int64_t last_price = 0;
    InstrumentStatus status = InstrumentStatus::kTrading;
  };
  struct AccountInfo {
    uint32_t id = 0;
    bool enabled = true;
    uint32_t max_open_orders = 0;
    StpMode default_stp = StpMode::kCancelNewest;
    uint64_t next_client_id = 1;
    std::vector<ClientOrderId> dead_client_ids;  // recently finished, reusable
  };

  // --- randomness -------------------------------------------------------------
  uint64_t below(uint64_t n);             // uniform in [0, n)
  int64_t range(int64_t lo, int64_t hi);  // uniform in [lo, hi]
  bool chance(double p);

  // --- command builders --------------------------------------------------------
  Command stamp(Command c);
  Command gen_place();
  Command gen_cancel();
  Command gen_amend();
  Command gen_cancel_all();
  Command gen_deposit();
  Command gen_withdraw();
  Command gen_status();
  Command gen_configure();
  Command gen_admin();
  Command gen_external_trade();

  // --- helpers -------------------------------------------------------------------
  uint32_t pick_account();
  uint32_t pick_instrument();
  const InstrumentInfo* instrument(uint32_t id) const;
  int64_t reference(const InstrumentInfo& inst) const;
  int64_t band_low(const InstrumentInfo& inst) const;
  int64_t band_high(const InstrumentInfo& inst) const;
  int64_t lots(const InstrumentInfo& inst);
  const LiveOrder* best_opposite(uint32_t instrument, Side side) const;
  const LiveOrder* random_live(bool same_account_only, uint32_t account);
  ClientOrderId fresh_client_id(AccountInfo& account);
  int64_t comfortable_balance(uint32_t asset) const;
  int64_t available(uint32_t account, uint32_t asset) const;
  void remove_live(uint64_t id);

  RandomCommandConfig config_;
  std::mt19937_64 rng_;
  Seq seq_ = 0;
  Timestamp now_ = 0;
  std::vector<AssetSpec> assets_;
  std::vector<InstrumentInfo> instruments_;
  std::vector<AccountInfo> accounts_;
  std::vector<LiveOrder> live_;
  std::unordered_map<uint64_t, std::size_t> live_index_;
  std::unordered_map<uint64_t, int64_t> available_;  // (account << 32 | asset) -> available
  std::unordered_map<uint32_t, int64_t> supply_;
  uint32_t extra_assets_added_ = 0;
  static constexpr uint32_t kExternalInstrument = 40;  // ACME-EXT: market data only, ticks from ExternalTrade
  Timestamp external_time_ = 1'000'000'000;           // the external market's clock
  uint32_t extra_instruments_added_ = 0;
  uint64_t highest_order_id_ = 0;
};

}  // namespace bourse::testing
