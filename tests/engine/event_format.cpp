#include "engine/event_format.h"

#include <sstream>

namespace bourse::testing {
namespace {

// Small streaming helper: `f.add("qty", q)` appends " qty=<value>".
class Fields {
 public:
  explicit Fields(const char* head) { out_ << head; }
  Fields& add(const char* name, int64_t v) {
    out_ << ' ' << name << '=' << v;
    return *this;
  }
  Fields& add(const char* name, uint64_t v) {
    out_ << ' ' << name << '=' << v;
    return *this;
  }
  Fields& add(const char* name, uint32_t v) {
    out_ << ' ' << name << '=' << v;
    return *this;
  }
  Fields& add(const char* name, int32_t v) {
    out_ << ' ' << name << '=' << v;
    return *this;
  }
  Fields& add(const char* name, uint8_t v) {
    out_ << ' ' << name << '=' << static_cast<unsigned>(v);
    return *this;
  }
  Fields& add(const char* name, bool v) {
    out_ << ' ' << name << '=' << (v ? 1 : 0);
    return *this;
  }
  Fields& add(const char* name, const char* v) {
    out_ << ' ' << name << '=' << (v != nullptr ? v : "(null)");
    return *this;
  }
  Fields& add(const char* name, Price v) { return add(name, v.value); }
  Fields& add(const char* name, Qty v) { return add(name, v.value); }
  Fields& add(const char* name, Amount v) { return add(name, v.value); }
  Fields& add(const char* name, OrderId v) { return add(name, v.value); }
  Fields& add(const char* name, TradeId v) { return add(name, v.value); }
  Fields& add(const char* name, AccountId v) { return add(name, v.value); }
  Fields& add(const char* name, InstrumentId v) { return add(name, v.value); }
  Fields& add(const char* name, AssetId v) { return add(name, v.value); }
  Fields& add(const char* name, Wide v) {
    Int128 x = v.get();
    const bool negative = x < 0;
    std::string digits;
    do {
      const auto d = static_cast<int>(x % 10);
      digits.insert(digits.begin(), static_cast<char>('0' + (d < 0 ? -d : d)));
      x /= 10;
    } while (x != 0);
    out_ << ' ' << name << '=' << (negative ? "-" : "") << digits;
    return *this;
  }
  Fields& add(const char* name, Product v) { return named(name, product_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, MarkSource v) { return named(name, mark_source_name(v), static_cast<unsigned>(v)); }
  template <std::size_t N>
  Fields& add(const char* name, const FixedString<N>& v) {
    out_ << ' ' << name << "=\"" << v.view() << '"';
    return *this;
  }
  // Enums print as name(number) so that out-of-range values stay visible.
  Fields& add(const char* name, Side v) { return named(name, side_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, OrderType v) { return named(name, order_type_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, TimeInForce v) { return named(name, tif_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, RejectReason v) { return named(name, reject_reason_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, CancelReason v) { return named(name, cancel_reason_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, CommandType v) { return named(name, command_type_name(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, StpMode v) { return named(name, stp_text(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, InstrumentStatus v) { return named(name, status_text(v), static_cast<unsigned>(v)); }
  Fields& add(const char* name, ExpireReason v) { return named(name, expire_text(v), static_cast<unsigned>(v)); }
  Fields& leg(const char* name, const TradeLeg& l) {
    out_ << ' ' << name << "={";
    Fields inner("");
    inner.add("order", l.order_id)
        .add("account", l.account)
        .add("fee", l.fee)
        .add("leaves", l.leaves)
        .add("filled", l.filled)
        .add("reserved", l.reserved);
    out_ << inner.str() << " }";
    return *this;
  }
  std::string str() const { return out_.str(); }

 private:
  static const char* stp_text(StpMode v) {
    switch (v) {
      case StpMode::kAccountDefault:
        return "DEFAULT";
      case StpMode::kCancelNewest:
        return "CANCEL_NEWEST";
      case StpMode::kCancelOldest:
        return "CANCEL_OLDEST";
      case StpMode::kCancelBoth:
        return "CANCEL_BOTH";
    }
    return "?";
  }
  static const char* status_text(InstrumentStatus v) {
    switch (v) {
      case InstrumentStatus::kTrading:
        return "TRADING";
      case InstrumentStatus::kHalted:
        return "HALTED";
      case InstrumentStatus::kClosed:
        return "CLOSED";
      case InstrumentStatus::kPreOpen:
        return "PRE_OPEN";
      case InstrumentStatus::kSessionClosed:
        return "SESSION_CLOSED";
    }
    return "?";
  }
  static const char* expire_text(ExpireReason v) {
    switch (v) {
      case ExpireReason::kDay:
        return "DAY";
      case ExpireReason::kGtd:
        return "GTD";
    }
    return "?";
  }
  Fields& named(const char* name, const char* text, unsigned number) {
    out_ << ' ' << name << '=' << (text != nullptr ? text : "?") << '(' << number << ')';
    return *this;
  }
  std::ostringstream out_;
};

void add_header(Fields& f, const CommandHeader& h) {
  f.add("seq", h.seq)
      .add("ts", h.timestamp)
      .add("corr", h.correlation)
      .add("src", static_cast<uint32_t>(h.source))
      .add("cmd", h.type);
}

void add_instrument_spec(Fields& f, const InstrumentSpec& s) {
  f.add("id", s.id)
      .add("symbol", s.symbol)
      .add("base", s.base)
      .add("quote", s.quote)
      .add("tick", s.tick_size)
      .add("lot", s.lot_size)
      .add("min_qty", s.min_qty)
      .add("max_qty", s.max_qty)
      .add("min_notional", s.min_notional)
      .add("ref", s.reference_price)
      .add("price_scale", s.price_scale)
      .add("band_bps", s.band_bps)
      .add("maker_ppm", s.maker_fee_ppm)
      .add("taker_ppm", s.taker_fee_ppm)
      .add("status", s.status)
      .add("external", s.external);
}

void add_margin_params(Fields& f, const SetMarginParams& m) {
  f.add("instrument", m.instrument).add("mark", m.mark_source).add("reference", m.mark_reference);
  for (int t = 0; t < kMarginTiers; ++t) {
    f.add("initial_ppm", m.initial_ppm[t]).add("maintenance_ppm", m.maintenance_ppm[t]);
  }
}

}  // namespace

std::string event_to_string(const Event& e) {
  Fields f(event_type_name(e.type) != nullptr ? event_type_name(e.type) : "?");
  f.add("type", static_cast<uint8_t>(e.type));
  switch (e.type) {
    case EventType::kOrderAccepted: {
      const auto& x = e.accepted;
      f.add("order", x.order_id)
          .add("cid", x.client_order_id)
          .add("account", x.account)
          .add("instrument", x.instrument)
          .add("side", x.side)
          .add("otype", x.type)
          .add("tif", x.tif)
          .add("price", x.price)
          .add("stop", x.stop_price)
          .add("qty", x.qty)
          .add("expire_at", x.expire_at)
          .add("hold", x.hold)
          .add("hold_price", x.hold_price)
          .add("stp", x.stp)
          .add("post_only", x.post_only)
          .add("pending", x.pending_trigger)
          .add("product", x.product);
      break;
    }
    case EventType::kOrderRejected: {
      const auto& x = e.rejected;
      f.add("reason", x.reason)
          .add("command", x.command)
          .add("cid", x.client_order_id)
          .add("order", x.order_id)
          .add("account", x.account)
          .add("instrument", x.instrument);
      break;
    }
    case EventType::kTrade: {
      const auto& x = e.trade;
      f.add("trade", x.trade_id)
          .add("instrument", x.instrument)
          .add("price", x.price)
          .add("qty", x.qty)
          .add("notional", x.notional)
          .add("aggressor_side", x.aggressor_side)
          .leg("aggressor", x.aggressor)
          .leg("passive", x.passive);
      break;
    }
    case EventType::kOrderCancelled: {
      const auto& x = e.cancelled;
      f.add("order", x.order_id)
          .add("reason", x.reason)
          .add("account", x.account)
          .add("instrument", x.instrument)
          .add("leaves", x.leaves)
          .add("filled", x.filled);
      break;
    }
    case EventType::kOrderExpired: {
      const auto& x = e.expired;
      f.add("order", x.order_id)
          .add("reason", x.reason)
          .add("account", x.account)
          .add("instrument", x.instrument)
          .add("leaves", x.leaves)
          .add("filled", x.filled);
      break;
    }
    case EventType::kOrderAmended: {
      const auto& x = e.amended;
      f.add("order", x.order_id)
          .add("account", x.account)
          .add("instrument", x.instrument)
          .add("price", x.price)
          .add("stop", x.stop_price)
          .add("qty", x.qty)
          .add("leaves", x.leaves)
          .add("hold", x.hold)
          .add("hold_price", x.hold_price)
          .add("priority_kept", x.priority_kept);
      break;
    }
    case EventType::kOrderTriggered: {
      const auto& x = e.triggered;
      f.add("order", x.order_id)
          .add("account", x.account)
          .add("instrument", x.instrument)
          .add("last_price", x.last_price);
      break;
    }
    case EventType::kBalanceChanged: {
      const auto& x = e.balance;
      f.add("account", x.account).add("asset", x.asset).add("available", x.available).add("locked", x.locked);
      break;
    }
    case EventType::kBookLevelChanged: {
      const auto& x = e.book_level;
      f.add("instrument", x.instrument)
          .add("side", x.side)
          .add("price", x.price)
          .add("qty", x.qty)
          .add("orders", x.order_count);
      break;
    }
    case EventType::kTransferCompleted: {
      const auto& x = e.transfer;
      f.add("account", x.account).add("asset", x.asset).add("amount", x.amount).add("deposit", x.is_deposit);
      break;
    }
    case EventType::kAssetAdded: {
      const auto& x = e.asset_added;
      f.add("id", x.id).add("code", x.code).add("scale", x.scale);
      break;
    }
    case EventType::kInstrumentAdded:
      add_instrument_spec(f, e.instrument_added);
      break;
    case EventType::kInstrumentStatusChanged:
      f.add("instrument", e.instrument_status.instrument).add("status", e.instrument_status.status);
      break;
    case EventType::kAccountConfigured: {
      const auto& x = e.account_configured;
      f.add("account", x.account).add("max_open_orders", x.max_open_orders).add("default_stp", x.default_stp)
          .add("margin_tier", x.margin_tier);
      break;
    }
    case EventType::kAccountStatusChanged:
      f.add("account", e.account_status.account).add("enabled", e.account_status.enabled);
      break;
    case EventType::kExternalTradeApplied: {
      const auto& x = e.external_trade;
      f.add("trade", x.trade_id).add("instrument", x.instrument).add("price", x.price).add("qty", x.qty)
          .add("notional", x.notional).add("time", x.time).add("side", x.aggressor_side);
      break;
    }
    case EventType::kPositionChanged: {
      const auto& x = e.position;
      f.add("account", x.account).add("instrument", x.instrument).add("qty", x.qty).add("cost", x.cost)
          .add("realized", x.realized).add("fees", x.fees);
      break;
    }
    case EventType::kMarginParamsSet:
      add_margin_params(f, e.margin_params);
      break;
    case EventType::kMarginStatusChanged: {
      const auto& x = e.margin_status;
      f.add("account", x.account).add("asset", x.asset).add("in_call", x.in_call).add("equity", x.equity)
          .add("maintenance", x.maintenance).add("initial", x.initial);
      break;
    }
    case EventType::kAccountLimitsSet: {
      const auto& x = e.account_limits;
      f.add("account", x.account).add("instrument", x.instrument).add("max_order_qty", x.max_order_qty)
          .add("max_order_notional", x.max_order_notional).add("max_position", x.max_position);
      break;
    }
    case EventType::kLossLimitSet:
      f.add("account", e.loss_limit.account).add("asset", e.loss_limit.asset)
          .add("max_daily_loss", e.loss_limit.max_daily_loss);
      break;
    case EventType::kCircuitLimitsSet:
      f.add("instrument", e.circuit_limits.instrument).add("lower", e.circuit_limits.lower)
          .add("upper", e.circuit_limits.upper).add("breaker_bps", e.circuit_limits.breaker_bps)
          .add("window_s", e.circuit_limits.window_s).add("cooloff_s", e.circuit_limits.cooloff_s);
      break;
    case EventType::kCircuitBreakerTripped:
      f.add("instrument", e.breaker.instrument).add("anchor", e.breaker.anchor).add("price", e.breaker.price)
          .add("resume_at", e.breaker.resume_at);
      break;
    case EventType::kDailyLossLimitReached:
      f.add("account", e.daily_loss.account).add("asset", e.daily_loss.asset).add("loss", e.daily_loss.loss);
      break;
    case EventType::kCancelAfterSet:
      f.add("account", e.cancel_after.account).add("cancel_at", e.cancel_after.cancel_at)
          .add("fired", e.cancel_after.fired);
      break;
    case EventType::kLiquidation: {
      const auto& x = e.liquidation;
      f.add("account", x.account).add("instrument", x.instrument).add("qty", x.qty).add("unrealized", x.unrealized)
          .add("reason", liquidation_reason_name(x.reason));
      break;
    }
  }
  f.add("|", "cause");
  add_header(f, e.cause);
  return f.str();
}

std::string command_to_string(const Command& c) {
  Fields f(command_type_name(c.header.type) != nullptr ? command_type_name(c.header.type) : "?");
  add_header(f, c.header);
  f.add("|", "payload");
  const auto& p = c.payload;
  switch (c.header.type) {
    case CommandType::kPlaceOrder: {
      const auto& x = p.place;
      f.add("account", x.account)
          .add("instrument", x.instrument)
          .add("cid", x.client_order_id)
          .add("side", x.side)
          .add("otype", x.type)
          .add("tif", x.tif)
          .add("price", x.price)
          .add("stop", x.stop_price)
          .add("qty", x.qty)
          .add("expire_at", x.expire_at)
          .add("stp", x.stp)
          .add("post_only", x.post_only)
          .add("product", x.product);
      break;
    }
    case CommandType::kCancelOrder:
      f.add("account", p.cancel.account).add("order", p.cancel.order_id).add("cid", p.cancel.client_order_id);
      break;
    case CommandType::kAmendOrder: {
      const auto& x = p.amend;
      f.add("account", x.account)
          .add("order", x.order_id)
          .add("new_price", x.new_price)
          .add("new_stop", x.new_stop_price)
          .add("new_qty", x.new_qty);
      break;
    }
    case CommandType::kCancelAll:
      f.add("account", p.cancel_all.account).add("instrument", p.cancel_all.instrument);
      break;
    case CommandType::kDeposit:
    case CommandType::kWithdraw:
      f.add("account", p.transfer.account).add("asset", p.transfer.asset).add("amount", p.transfer.amount);
      break;
    case CommandType::kAddAsset:
      f.add("id", p.add_asset.id).add("code", p.add_asset.code).add("scale", p.add_asset.scale);
      break;
    case CommandType::kAddInstrument:
      add_instrument_spec(f, p.add_instrument);
      break;
    case CommandType::kSetInstrumentStatus:
      f.add("instrument", p.set_instrument_status.instrument).add("status", p.set_instrument_status.status);
      break;
    case CommandType::kConfigureAccount:
      f.add("account", p.configure_account.account)
          .add("max_open_orders", p.configure_account.max_open_orders)
          .add("default_stp", p.configure_account.default_stp)
          .add("margin_tier", p.configure_account.margin_tier);
      break;
    case CommandType::kSetAccountEnabled:
      f.add("account", p.set_account_enabled.account).add("enabled", p.set_account_enabled.enabled);
      break;
    case CommandType::kExpireDayOrders:
      f.add("instrument", p.expire_day_orders.instrument);
      break;
    case CommandType::kHeartbeat:
      break;
    case CommandType::kExternalTrade: {
      const auto& x = p.external_trade;
      f.add("instrument", x.instrument).add("price", x.price).add("qty", x.qty).add("time", x.time)
          .add("side", x.aggressor_side);
      break;
    }
    case CommandType::kSetMarginParams:
      add_margin_params(f, p.set_margin_params);
      break;
    case CommandType::kSquareOff:
      f.add("instrument", p.square_off.instrument);
      break;
    case CommandType::kCancelAfter:
      f.add("account", p.cancel_after.account).add("timeout_ms", p.cancel_after.timeout_ms);
      break;
    case CommandType::kSetAccountLimits: {
      const auto& x = p.set_account_limits;
      f.add("account", x.account).add("instrument", x.instrument).add("max_order_qty", x.max_order_qty)
          .add("max_order_notional", x.max_order_notional).add("max_position", x.max_position);
      break;
    }
    case CommandType::kSetCircuitLimits:
      f.add("instrument", p.set_circuit_limits.instrument).add("lower", p.set_circuit_limits.lower)
          .add("upper", p.set_circuit_limits.upper).add("breaker_bps", p.set_circuit_limits.breaker_bps);
      break;
    case CommandType::kSetLossLimit:
      f.add("account", p.set_loss_limit.account).add("asset", p.set_loss_limit.asset)
          .add("max_daily_loss", p.set_loss_limit.max_daily_loss);
      break;
  }
  return f.str();
}

std::string order_view_to_string(const OrderView& o) {
  Fields f("Order");
  f.add("id", o.id)
      .add("account", o.account)
      .add("instrument", o.instrument)
      .add("side", o.side)
      .add("otype", o.type)
      .add("tif", o.tif)
      .add("stp", o.stp)
      .add("post_only", o.post_only)
      .add("pending", o.pending_trigger)
      .add("price", o.price)
      .add("stop", o.stop_price)
      .add("qty", o.qty)
      .add("filled", o.filled)
      .add("hold", o.hold)
      .add("hold_asset", o.hold_asset)
      .add("expire_at", o.expire_at)
      .add("cid", o.client_order_id)
      .add("product", o.product);
  return f.str();
}

}  // namespace bourse::testing
