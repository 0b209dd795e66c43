#include "engine/invariants.h"

#include <cstddef>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "engine/event_format.h"
#include "engine/reference_engine.h"

namespace bourse::testing {
namespace {

__extension__ using I128 = __int128;

std::string to_text(I128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    const int d = static_cast<int>(v % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (d < 0 ? -d : d)));
    v /= 10;
  }
  return negative ? "-" + digits : digits;
}

// Collects failure lines; stops recording after a few so a broken state
// does not produce megabytes of text.
class Report {
 public:
  std::ostream& fail() {
    ++count_;
    if (count_ > kMaxLines) return sink_;
    out_ << "\n  ";
    return out_;
  }
  std::string str() const {
    if (count_ == 0) return "";
    std::string s = "invariant violations: " + std::to_string(count_) + out_.str();
    if (count_ > kMaxLines) s += "\n  ...";
    return s;
  }

 private:
  static constexpr int kMaxLines = 20;
  int count_ = 0;
  std::ostringstream out_;
  std::ostringstream sink_;
};

void check_levels(Report& r, InstrumentId instrument, const char* side_text, const std::vector<LevelView>& levels,
                  bool descending) {
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const LevelView& l = levels[i];
    if (l.qty.value <= 0 || l.order_count == 0) {
      r.fail() << "instrument " << instrument.value << " " << side_text << " level " << l.price.value
               << " is empty (qty " << l.qty.value << ", orders " << l.order_count << ")";
    }
    if (i > 0) {
      const int64_t prev = levels[i - 1].price.value;
      if (descending ? !(prev > l.price.value) : !(prev < l.price.value)) {
        r.fail() << "instrument " << instrument.value << " " << side_text << " levels out of order: " << prev
                 << " then " << l.price.value;
      }
    }
  }
}

}  // namespace

std::string check_invariants(const InvariantInput& in, const std::map<uint32_t, int64_t>& supply) {
  Report r;

  // No negative balance; conservation per asset.
  for (const auto& [key, b] : in.balances) {
    const bool may_owe = in.margin_accounts.count(key.first) != 0;
    if ((b.available.value < 0 && !may_owe) || b.locked.value < 0) {
      r.fail() << "negative balance account " << key.first << " asset " << key.second << ": available "
               << b.available.value << " locked " << b.locked.value;
    }
  }
  for (AssetId asset : in.assets) {
    const auto pool = in.pool.find(asset.value);
    I128 total = pool == in.pool.end() ? 0 : pool->second;
    for (AccountId account : in.accounts) {
      const auto it = in.balances.find({account.value, asset.value});
      if (it == in.balances.end()) continue;
      total += it->second.available.value;
      total += it->second.locked.value;
    }
    const auto s = supply.find(asset.value);
    const int64_t expected = s == supply.end() ? 0 : s->second;
    if (total != expected) {
      r.fail() << "asset " << asset.value << ": sum of balances " << to_text(total) << " != supply " << expected;
    }
  }
  for (const auto& [asset, amount] : supply) {
    bool known = false;
    for (AssetId a : in.assets) known = known || a.value == asset;
    if (!known && amount != 0) r.fail() << "supply of unknown asset " << asset;
  }

  // Orders: quantities, holds per (account, asset), open order counts.
  std::map<std::pair<uint32_t, uint32_t>, I128> holds;
  std::map<uint32_t, uint32_t> open_orders;
  std::set<uint64_t> ids;
  for (const OrderView& o : in.orders) {
    if (!ids.insert(o.id.value).second) r.fail() << "order id listed twice: " << o.id.value;
    if (o.filled.value < 0 || o.filled > o.qty || o.leaves().value <= 0) {
      r.fail() << "bad quantities: " << order_view_to_string(o);
    }
    if (o.hold.value < 0) r.fail() << "negative hold: " << order_view_to_string(o);
    // A MARGIN order locks nothing: its hold is a reserve in the margin check.
    if (o.product == Product::kCash) holds[{o.account.value, o.hold_asset.value}] += o.hold.value;
    ++open_orders[o.account.value];
  }
  for (const auto& [key, b] : in.balances) {
    const auto it = holds.find(key);
    const I128 held = it == holds.end() ? 0 : it->second;
    if (held != b.locked.value) {
      r.fail() << "account " << key.first << " asset " << key.second << ": locked " << b.locked.value
               << " != sum of order holds " << to_text(held);
    }
  }
  for (const auto& [key, held] : holds) {
    if (in.balances.count(key) == 0 && held != 0) {
      r.fail() << "account " << key.first << " asset " << key.second << ": orders hold " << to_text(held)
               << " but the balance is missing";
    }
  }
  for (const auto& [account, reported] : in.reported_open_orders) {
    const auto it = open_orders.find(account);
    const uint32_t actual = it == open_orders.end() ? 0 : it->second;
    if (actual != reported) {
      r.fail() << "account " << account << ": open_orders " << reported << " but " << actual << " live orders";
    }
  }
  for (const auto& [account, count] : open_orders) {
    if (in.reported_open_orders.count(account) == 0) {
      r.fail() << "account " << account << " has " << count << " live orders but is not listed";
    }
  }

  // Books: sorted, non-empty levels matching the resting orders, not crossed.
  std::map<std::tuple<uint32_t, uint8_t, int64_t>, std::pair<I128, uint32_t>> from_orders;
  for (const OrderView& o : in.orders) {
    if (o.pending_trigger) continue;
    auto& level = from_orders[{o.instrument.value, static_cast<uint8_t>(o.side), o.price.value}];
    level.first += o.leaves().value;
    level.second += 1;
  }
  std::size_t listed_levels = 0;
  for (const auto& book : in.books) {
    check_levels(r, book.instrument, "bid", book.bids, true);
    check_levels(r, book.instrument, "ask", book.asks, false);
    if (!book.bids.empty() && !book.asks.empty() && book.bids.front().price >= book.asks.front().price) {
      r.fail() << "instrument " << book.instrument.value << " crossed: best bid " << book.bids.front().price.value
               << " >= best ask " << book.asks.front().price.value;
    }
    for (Side side : {Side::kBuy, Side::kSell}) {
      for (const LevelView& l : side == Side::kBuy ? book.bids : book.asks) {
        ++listed_levels;
        const auto it = from_orders.find({book.instrument.value, static_cast<uint8_t>(side), l.price.value});
        const std::pair<I128, uint32_t> expected =
            it == from_orders.end() ? std::pair<I128, uint32_t>{0, 0} : it->second;
        if (expected.first != l.qty.value || expected.second != l.order_count) {
          r.fail() << "instrument " << book.instrument.value << (side == Side::kBuy ? " bid " : " ask ")
                   << l.price.value << ": level says qty " << l.qty.value << " orders " << l.order_count
                   << ", resting orders give " << to_text(expected.first) << " / " << expected.second;
        }
      }
    }
  }
  if (listed_levels != from_orders.size()) {
    r.fail() << "books list " << listed_levels << " levels but resting orders form " << from_orders.size();
  }
  return r.str();
}

std::string check_invariants(const Engine& engine, const std::map<uint32_t, int64_t>& supply) {
  InvariantInput in;
  engine.for_each_asset([&](const AssetSpec& a) { in.assets.push_back(a.id); });
  in.accounts.push_back(kFeeAccount);
  engine.for_each_account([&](const AccountView& a) {
    if (a.id == kFeeAccount) return;  // the fee account is added above either way
    in.accounts.push_back(a.id);
    in.reported_open_orders[a.id.value] = a.open_orders;
  });
  for (AccountId account : in.accounts) {
    for (AssetId asset : in.assets) in.balances[{account.value, asset.value}] = engine.balance(account, asset);
  }
  engine.for_each_order([&](const OrderView& o) { in.orders.push_back(o); });
  for (AssetId asset : in.assets) in.pool[asset.value] = engine.margin_pool(asset).value;
  engine.for_each_account([&](const AccountView& a) {
    if (a.margin_tier != 0) in.margin_accounts.insert(a.id.value);
  });
  engine.for_each_position([&](const PositionView& p) { in.margin_accounts.insert(p.account.value); });
  engine.for_each_instrument([&](const InstrumentView& v) {
    InvariantInput::Book book;
    book.instrument = v.spec.id;
    book.bids = engine.depth(v.spec.id, Side::kBuy, std::numeric_limits<std::size_t>::max());
    book.asks = engine.depth(v.spec.id, Side::kSell, std::numeric_limits<std::size_t>::max());
    in.books.push_back(std::move(book));
  });
  return check_invariants(in, supply);
}

std::string check_invariants(const ReferenceEngine& engine, const std::map<uint32_t, int64_t>& supply) {
  InvariantInput in;
  for (const AssetSpec& a : engine.assets()) in.assets.push_back(a.id);
  in.accounts.push_back(kFeeAccount);
  for (const AccountView& a : engine.accounts()) {
    in.accounts.push_back(a.id);
    in.reported_open_orders[a.id.value] = a.open_orders;
  }
  for (AccountId account : in.accounts) {
    for (AssetId asset : in.assets) in.balances[{account.value, asset.value}] = engine.balance(account, asset);
  }
  in.orders = engine.orders();
  for (const InstrumentView& v : engine.instruments()) {
    in.books.push_back({v.spec.id, engine.depth(v.spec.id, Side::kBuy), engine.depth(v.spec.id, Side::kSell)});
  }
  return check_invariants(in, supply);
}

}  // namespace bourse::testing
