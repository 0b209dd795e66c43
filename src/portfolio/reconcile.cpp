#include "portfolio/reconcile.h"

#include <map>
#include <tuple>
#include <unordered_map>

#include "accounts/account_read_model.h"
#include "bourse/core/decimal.h"
#include "bourse/engine/position.h"
#include "bourse/sequencer/exchange.h"
#include "projector/history_projector.h"

namespace bourse::portfolio {
namespace {

// MARGIN positions from MARGIN fills alone: the independent recomputation.
class FillPositions {
 public:
  struct Line {
    position::Position pos;
    Int128 fees = 0;
  };

  void on_event(const Event& e) {
    switch (e.type) {
      case EventType::kAssetAdded: scales_[e.asset_added.id.value] = e.asset_added.scale; break;
      case EventType::kInstrumentAdded: {
        const InstrumentSpec& s = e.instrument_added;
        int64_t d = 1;
        for (int k = 0; k < s.price_scale + scales_[s.base.value] - scales_[s.quote.value]; ++k) d *= 10;
        divisors_[s.id.value] = d;
        break;
      }
      case EventType::kOrderAccepted:
        if (e.accepted.product == Product::kMargin) margin_orders_.emplace(e.accepted.order_id.value, e.accepted.account);
        break;
      case EventType::kOrderCancelled: margin_orders_.erase(e.cancelled.order_id.value); break;
      case EventType::kOrderExpired: margin_orders_.erase(e.expired.order_id.value); break;
      case EventType::kTrade: {
        const Side passive = e.trade.aggressor_side == Side::kBuy ? Side::kSell : Side::kBuy;
        leg(e, e.trade.aggressor, e.trade.aggressor_side);
        leg(e, e.trade.passive, passive);
        break;
      }
      default: break;
    }
  }
  const std::map<std::pair<uint32_t, uint32_t>, Line>& lines() const { return lines_; }

 private:
  void leg(const Event& e, const TradeLeg& l, Side side) {
    auto it = margin_orders_.find(l.order_id.value);
    if (it == margin_orders_.end()) return;
    Line& line = lines_[{l.account.value, e.trade.instrument.value}];
    position::apply_fill(line.pos, side, e.trade.qty.value, e.trade.price, divisors_[e.trade.instrument.value]);
    line.fees += l.fee.value;
    if (l.leaves.value == 0) margin_orders_.erase(it);
  }

  std::unordered_map<uint32_t, int32_t> scales_;
  std::unordered_map<uint32_t, int64_t> divisors_;
  std::unordered_map<uint64_t, AccountId> margin_orders_;
  std::map<std::pair<uint32_t, uint32_t>, Line> lines_;
};

std::string text(Int128 v) { return format_wide_decimal(v, 0); }

}  // namespace

bool reconcile(const std::string& data_dir, const EngineConfig& config, store::Store* store, ReconcileReport* report,
               std::string* error) {
  *report = ReconcileReport{};
  auto differ = [&](std::string line) {
    ++report->difference_count;
    if (report->differences.size() < ReconcileReport::kMaxListed) report->differences.push_back(std::move(line));
  };

  // The store's side first: the replay then stops comparing at its seq.
  std::vector<accounts::HoldingCost> stored;
  uint64_t store_seq = 0;
  if (store) stored = projector::stored_holding_costs(*store, &store_seq);
  report->store_seq = store_seq;

  Engine engine(config);
  accounts::AccountReadModel derived;  // from events only, from seq 1
  FillPositions fills;
  std::vector<accounts::HoldingCost> replayed_costs;
  bool costs_taken = store == nullptr;
  const ReplayResult r = replay_data_dir(data_dir, true, &engine, [&](std::span<const Event> events) {
    for (const Event& e : events) {
      if (!costs_taken && e.cause.seq > store_seq) {
        replayed_costs = derived.all_holding_costs();
        costs_taken = true;
      }
      derived.on_durable_batch(std::span<const Event>(&e, 1));
      fills.on_event(e);
    }
  });
  if (!r.ok) {
    *error = r.error;
    return false;
  }
  report->journal_seq = engine.last_seq();
  if (!costs_taken) replayed_costs = derived.all_holding_costs();
  if (store && store_seq > report->journal_seq) {
    differ("store history_seq " + std::to_string(store_seq) + " is past the journal's end " +
           std::to_string(report->journal_seq));
  }

  // 1. Positions: engine state, fills, PositionChanged.
  std::map<std::pair<uint32_t, uint32_t>, PositionView> engine_positions;
  engine.for_each_position([&](const PositionView& p) {
    if (p.qty != 0 || p.cost != 0 || p.realized != 0 || p.fees != 0) {
      engine_positions[{p.account.value, p.instrument.value}] = p;
    }
  });
  std::map<std::pair<uint32_t, uint32_t>, accounts::PositionRecord> event_positions;
  std::map<uint32_t, bool> accounts_seen;
  engine.for_each_account([&](const AccountView& a) { accounts_seen[a.id.value] = true; });
  for (AccountId a : derived.account_ids()) accounts_seen[a.value] = true;
  for (const auto& [id, unused] : accounts_seen) {
    for (const accounts::PositionRecord& p : derived.positions(AccountId{id})) {
      if (p.qty != 0 || p.cost != 0 || p.realized != 0 || p.fees != 0) event_positions[{id, p.instrument.value}] = p;
    }
  }
  std::map<std::pair<uint32_t, uint32_t>, bool> keys;
  for (const auto& [k, v] : engine_positions) keys[k] = true;
  for (const auto& [k, v] : event_positions) keys[k] = true;
  for (const auto& [k, v] : fills.lines()) {
    if (v.pos.qty != 0 || v.pos.cost != 0 || v.pos.realized != 0 || v.fees != 0) keys[k] = true;
  }
  for (const auto& [k, unused] : keys) {
    ++report->positions;
    const auto where = "account " + std::to_string(k.first) + " instrument " + std::to_string(k.second);
    auto e = engine_positions.find(k);
    auto d = event_positions.find(k);
    auto f = fills.lines().find(k);
    const auto describe = [](int64_t q, Int128 c, Int128 realized, Int128 fee) {
      return "qty " + std::to_string(q) + " cost " + text(c) + " realized " + text(realized) + " fees " + text(fee);
    };
    const std::string engine_text =
        e == engine_positions.end() ? describe(0, 0, 0, 0) : describe(e->second.qty, e->second.cost, e->second.realized, e->second.fees);
    const std::string events_text =
        d == event_positions.end() ? describe(0, 0, 0, 0) : describe(d->second.qty, d->second.cost, d->second.realized, d->second.fees);
    const std::string fills_text = f == fills.lines().end()
                                       ? describe(0, 0, 0, 0)
                                       : describe(f->second.pos.qty, f->second.pos.cost, f->second.pos.realized, f->second.fees);
    if (engine_text != fills_text) differ("position " + where + ": engine " + engine_text + ", from fills " + fills_text);
    if (engine_text != events_text) differ("position " + where + ": engine " + engine_text + ", from events " + events_text);
  }

  // 2. Balances: every asset of every account, both ways.
  std::vector<AssetId> assets;
  engine.for_each_asset([&](const AssetSpec& a) { assets.push_back(a.id); });
  for (const auto& [id, unused] : accounts_seen) {
    std::map<uint32_t, accounts::BalanceRecord> from_events;
    for (const accounts::BalanceRecord& b : derived.balances(AccountId{id})) from_events[b.asset.value] = b;
    for (AssetId asset : assets) {
      const Balance b = engine.balance(AccountId{id}, asset);
      auto it = from_events.find(asset.value);
      const int64_t avail = it == from_events.end() ? 0 : it->second.available.value;
      const int64_t locked = it == from_events.end() ? 0 : it->second.locked.value;
      if (b.available.value == 0 && b.locked.value == 0 && avail == 0 && locked == 0) continue;
      ++report->balances;
      if (b.available.value != avail || b.locked.value != locked) {
        differ("balance account " + std::to_string(id) + " asset " + std::to_string(asset.value) + ": engine " +
               std::to_string(b.available.value) + "/" + std::to_string(b.locked.value) + ", from events " +
               std::to_string(avail) + "/" + std::to_string(locked));
      }
    }
  }

  // 3. The stored cost basis against the recomputed one at the store's seq.
  if (store) {
    std::map<std::pair<uint32_t, uint32_t>, const accounts::HoldingCost*> a, b;
    for (const auto& h : stored) a[{h.account.value, h.asset.value}] = &h;
    for (const auto& h : replayed_costs) b[{h.account.value, h.asset.value}] = &h;
    std::map<std::pair<uint32_t, uint32_t>, bool> all;
    for (const auto& [k, v] : a) all[k] = true;
    for (const auto& [k, v] : b) all[k] = true;
    for (const auto& [k, unused] : all) {
      ++report->holdings;
      const accounts::HoldingCost empty;
      const accounts::HoldingCost& s = a.count(k) ? *a[k] : empty;
      const accounts::HoldingCost& x = b.count(k) ? *b[k] : empty;
      if (s.lines != x.lines || s.flow_day != x.flow_day || s.net_flow != x.net_flow) {
        differ("holding account " + std::to_string(k.first) + " asset " + std::to_string(k.second) + ": store [" +
               accounts::encode_cost_lines(s.lines) + "] flow " + std::to_string(s.net_flow) + "@" +
               std::to_string(s.flow_day) + ", from the journal [" + accounts::encode_cost_lines(x.lines) + "] flow " +
               std::to_string(x.net_flow) + "@" + std::to_string(x.flow_day));
      }
    }
  }
  return true;
}

}  // namespace bourse::portfolio
