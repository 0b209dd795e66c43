#include "engine/differential_driver.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <span>
#include <sstream>
#include <vector>

#include "bourse/engine/engine.h"
#include "engine/event_format.h"
#include "engine/invariants.h"
#include "engine/reference_engine.h"

namespace bourse::testing {
namespace {

constexpr std::size_t kHistory = 8;  // previous commands shown in a failure

bool same_order(const OrderView& a, const OrderView& b) {
  return a.id == b.id && a.account == b.account && a.instrument == b.instrument && a.side == b.side &&
         a.type == b.type && a.tif == b.tif && a.stp == b.stp && a.post_only == b.post_only &&
         a.pending_trigger == b.pending_trigger && a.price == b.price && a.stop_price == b.stop_price &&
         a.qty == b.qty && a.filled == b.filled && a.hold == b.hold && a.hold_asset == b.hold_asset &&
         a.expire_at == b.expire_at && a.client_order_id == b.client_order_id;
}

std::string level_text(const LevelView& l) {
  return "price=" + std::to_string(l.price.value) + " qty=" + std::to_string(l.qty.value) +
         " orders=" + std::to_string(l.order_count);
}

std::string account_text(const AccountView& a) {
  return "account=" + std::to_string(a.id.value) + " enabled=" + std::to_string(a.enabled ? 1 : 0) +
         " default_stp=" + std::to_string(static_cast<unsigned>(a.default_stp)) +
         " max_open_orders=" + std::to_string(a.max_open_orders) + " open_orders=" + std::to_string(a.open_orders);
}

std::string instrument_text(const InstrumentView& v) {
  return "instrument=" + std::to_string(v.spec.id.value) +
         " status=" + std::to_string(static_cast<unsigned>(v.spec.status)) +
         " last=" + std::to_string(v.last_price.value) + " band=[" + std::to_string(v.band_low.value) + "," +
         std::to_string(v.band_high.value) + "] divisor=" + std::to_string(v.notional_divisor.value);
}

// Compares everything observable through the query API; returns "" when equal.
std::string compare_state(const Engine& engine, const ReferenceEngine& ref) {
  std::ostringstream out;

  const std::vector<AssetSpec> ref_assets = ref.assets();
  std::vector<AssetSpec> eng_assets;
  engine.for_each_asset([&](const AssetSpec& a) { eng_assets.push_back(a); });
  // Only for_each_order promises an order (ascending id); sort the other lists.
  std::sort(eng_assets.begin(), eng_assets.end(), [](const AssetSpec& a, const AssetSpec& b) { return a.id < b.id; });
  if (eng_assets.size() != ref_assets.size()) {
    out << "asset count: engine " << eng_assets.size() << " reference " << ref_assets.size();
    return out.str();
  }
  for (std::size_t i = 0; i < ref_assets.size(); ++i) {
    if (std::memcmp(&eng_assets[i], &ref_assets[i], sizeof(AssetSpec)) != 0) {
      out << "asset #" << i << ": engine id " << eng_assets[i].id.value << " code " << eng_assets[i].code.view()
          << " scale " << eng_assets[i].scale << ", reference id " << ref_assets[i].id.value << " code "
          << ref_assets[i].code.view() << " scale " << ref_assets[i].scale;
      return out.str();
    }
  }

  const std::vector<AccountView> ref_accounts = ref.accounts();
  std::vector<AccountView> eng_accounts;
  engine.for_each_account([&](const AccountView& a) {
    if (a.id != kFeeAccount) eng_accounts.push_back(a);
  });
  std::sort(eng_accounts.begin(), eng_accounts.end(),
            [](const AccountView& a, const AccountView& b) { return a.id < b.id; });
  if (eng_accounts.size() != ref_accounts.size()) {
    out << "account count: engine " << eng_accounts.size() << " reference " << ref_accounts.size();
    return out.str();
  }
  for (std::size_t i = 0; i < ref_accounts.size(); ++i) {
    const AccountView& e = eng_accounts[i];
    const AccountView& r = ref_accounts[i];
    if (e.id != r.id || e.enabled != r.enabled || e.default_stp != r.default_stp ||
        e.max_open_orders != r.max_open_orders || e.open_orders != r.open_orders) {
      out << "account:\n  engine:    " << account_text(e) << "\n  reference: " << account_text(r);
      return out.str();
    }
  }

  std::vector<AccountId> balance_accounts{kFeeAccount};
  for (const AccountView& a : ref_accounts) balance_accounts.push_back(a.id);
  for (AccountId account : balance_accounts) {
    for (const AssetSpec& asset : ref_assets) {
      const Balance e = engine.balance(account, asset.id);
      const Balance r = ref.balance(account, asset.id);
      if (e.available != r.available || e.locked != r.locked) {
        out << "balance account " << account.value << " asset " << asset.id.value << ": engine available "
            << e.available.value << " locked " << e.locked.value << ", reference available " << r.available.value
            << " locked " << r.locked.value;
        return out.str();
      }
    }
  }

  const std::vector<InstrumentView> ref_instruments = ref.instruments();
  std::vector<InstrumentView> eng_instruments;
  engine.for_each_instrument([&](const InstrumentView& v) { eng_instruments.push_back(v); });
  std::sort(eng_instruments.begin(), eng_instruments.end(),
            [](const InstrumentView& a, const InstrumentView& b) { return a.spec.id < b.spec.id; });
  if (eng_instruments.size() != ref_instruments.size()) {
    out << "instrument count: engine " << eng_instruments.size() << " reference " << ref_instruments.size();
    return out.str();
  }
  for (std::size_t i = 0; i < ref_instruments.size(); ++i) {
    const InstrumentView& e = eng_instruments[i];
    const InstrumentView& r = ref_instruments[i];
    if (std::memcmp(&e.spec, &r.spec, sizeof(InstrumentSpec)) != 0 || e.last_price != r.last_price ||
        e.band_low != r.band_low || e.band_high != r.band_high || e.notional_divisor != r.notional_divisor) {
      out << "instrument (spec bytes "
          << (std::memcmp(&e.spec, &r.spec, sizeof(InstrumentSpec)) == 0 ? "equal" : "differ")
          << "):\n  engine:    " << instrument_text(e) << "\n  reference: " << instrument_text(r);
      return out.str();
    }
    for (Side side : {Side::kBuy, Side::kSell}) {
      const auto eng_levels = engine.depth(r.spec.id, side, std::numeric_limits<std::size_t>::max());
      const auto ref_levels = ref.depth(r.spec.id, side);
      const std::size_t n = std::max(eng_levels.size(), ref_levels.size());
      for (std::size_t k = 0; k < n; ++k) {
        const bool both = k < eng_levels.size() && k < ref_levels.size();
        if (both && eng_levels[k].price == ref_levels[k].price && eng_levels[k].qty == ref_levels[k].qty &&
            eng_levels[k].order_count == ref_levels[k].order_count) {
          continue;
        }
        out << "depth instrument " << r.spec.id.value << (side == Side::kBuy ? " bids" : " asks") << " level #" << k
            << ":\n  engine:    " << (k < eng_levels.size() ? level_text(eng_levels[k]) : "(none)")
            << "\n  reference: " << (k < ref_levels.size() ? level_text(ref_levels[k]) : "(none)");
        return out.str();
      }
    }
  }

  const std::vector<OrderView> ref_orders = ref.orders();
  std::vector<OrderView> eng_orders;
  eng_orders.reserve(ref_orders.size());
  engine.for_each_order([&](const OrderView& o) { eng_orders.push_back(o); });
  const std::size_t n = std::max(eng_orders.size(), ref_orders.size());
  for (std::size_t k = 0; k < n; ++k) {
    if (k < eng_orders.size() && k < ref_orders.size() && same_order(eng_orders[k], ref_orders[k])) continue;
    out << "live order #" << k << " (engine has " << eng_orders.size() << ", reference " << ref_orders.size()
        << "):\n  engine:    " << (k < eng_orders.size() ? order_view_to_string(eng_orders[k]) : "(none)")
        << "\n  reference: " << (k < ref_orders.size() ? order_view_to_string(ref_orders[k]) : "(none)");
    return out.str();
  }
  if (engine.live_order_count() != ref_orders.size()) {
    out << "live_order_count " << engine.live_order_count() << " but " << ref_orders.size() << " live orders";
    return out.str();
  }
  return "";
}

std::string event_lists(const std::vector<std::string>& engine_events, const std::vector<std::string>& ref_events) {
  std::ostringstream out;
  const std::size_t n = std::max(engine_events.size(), ref_events.size());
  bool marked = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string* e = i < engine_events.size() ? &engine_events[i] : nullptr;
    const std::string* r = i < ref_events.size() ? &ref_events[i] : nullptr;
    if (e != nullptr && r != nullptr && *e == *r) {
      out << "  [" << i << "] same       " << *e << "\n";
      continue;
    }
    out << "  [" << i << "] engine:    " << (e != nullptr ? *e : "(none)") << (marked ? "" : "   <== first difference")
        << "\n  [" << i << "] reference: " << (r != nullptr ? *r : "(none)") << "\n";
    marked = true;
  }
  return out.str();
}

}  // namespace

DifferentialResult run_differential(uint64_t seed, uint64_t commands, const RandomCommandConfig& config) {
  DifferentialResult result;
  Engine engine(config.engine);
  ReferenceEngine ref(config.engine);
  RandomCommandGenerator generator(seed, config);
  std::map<uint32_t, int64_t> supply;
  std::deque<std::string> history;

  auto fail = [&](uint64_t index, const Command& command, const std::string& what) {
    std::ostringstream out;
    out << "differential mismatch: seed " << seed << ", command index " << index << " (seq " << command.header.seq
        << ")\n"
        << what << "\ncommand: " << command_to_string(command) << "\nprevious commands:\n";
    for (const auto& h : history) out << "  " << h << "\n";
    result.ok = false;
    result.failure = out.str();
  };

  // Applies one command to both engines and checks everything; false on a mismatch.
  auto step = [&](uint64_t index, const Command& command) -> bool {
    const std::span<const Event> real = engine.apply(command);
    const std::vector<Event> expected = ref.apply(command);
    ++result.commands;

    std::vector<std::string> real_text, ref_text;
    real_text.reserve(real.size());
    ref_text.reserve(expected.size());
    for (const Event& e : real) real_text.push_back(event_to_string(e));
    for (const Event& e : expected) ref_text.push_back(event_to_string(e));
    if (real_text != ref_text) {
      fail(index, command,
           "events differ (engine " + std::to_string(real_text.size()) + ", reference " +
               std::to_string(ref_text.size()) + "):\n" + event_lists(real_text, ref_text));
      return false;
    }

    for (const Event& e : real) {
      ++result.event_counts[e.type];
      switch (e.type) {
        case EventType::kOrderRejected:
          ++result.reject_counts[e.rejected.reason];
          break;
        case EventType::kOrderCancelled:
          ++result.cancel_counts[e.cancelled.reason];
          break;
        case EventType::kOrderExpired:
          ++result.expire_counts[e.expired.reason];
          break;
        case EventType::kOrderAmended:
          ++result.priority_kept_counts[e.amended.priority_kept];
          break;
        case EventType::kTransferCompleted:
          supply[e.transfer.asset.value] +=
              e.transfer.is_deposit != 0 ? e.transfer.amount.value : -e.transfer.amount.value;
          break;
        default:
          break;
      }
    }
    generator.observe(real);

    if (engine.last_seq() != command.header.seq) {
      fail(index, command,
           "last_seq " + std::to_string(engine.last_seq()) + " after applying seq " +
               std::to_string(command.header.seq));
      return false;
    }
    if (const std::string diff = compare_state(engine, ref); !diff.empty()) {
      fail(index, command,
           "state differs after matching events: " + diff + "\nevents:\n" + event_lists(real_text, ref_text));
      return false;
    }
    if (const std::string bad = check_invariants(engine, supply); !bad.empty()) {
      fail(index, command, bad + "\nevents:\n" + event_lists(real_text, ref_text));
      return false;
    }
    history.push_back(command_to_string(command));
    if (history.size() > kHistory) history.pop_front();
    return true;
  };

  uint64_t index = 0;
  Command current;
  try {
    for (const Command& c : generator.setup()) {
      current = c;
      if (!step(index++, c)) return result;
    }
    for (uint64_t i = 0; i < commands; ++i) {
      current = generator.next();
      if (!step(index++, current)) return result;
    }
  } catch (const std::exception& e) {
    fail(index == 0 ? 0 : index - 1, current, std::string("exception: ") + e.what());
  }
  return result;
}

}  // namespace bourse::testing
