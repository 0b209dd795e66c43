#include "accounts/cost_basis.h"

#include <algorithm>
#include <charconv>

#include "bourse/core/decimal.h"

namespace bourse::accounts {
namespace {

// part × take / whole, truncated toward zero, for 0 <= take <= whole, whole > 0,
// without the 128-bit product (part may be near 2^126).
Int128 share(Int128 part, int64_t take, int64_t whole) {
  return part / whole * take + part % whole * take / whole;
}

}  // namespace

std::string encode_cost_lines(const std::vector<CostLine>& lines) {
  std::string out;
  for (const CostLine& l : lines) {
    if (!out.empty()) out += ';';
    out += std::to_string(l.quote.value) + ':' + std::to_string(l.qty) + ':' + format_wide_decimal(l.cost, 0) + ':' +
           format_wide_decimal(l.realized, 0);
  }
  return out;
}

bool decode_cost_lines(const std::string& text, std::vector<CostLine>* lines) {
  lines->clear();
  if (!text.empty() && text.back() == ';') return false;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find(';'), rest.size());
    std::string_view item = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    std::string_view field[4];
    for (int i = 0; i < 4; ++i) {
      const std::size_t colon = i < 3 ? item.find(':') : item.size();
      if (colon == std::string_view::npos) return false;
      field[i] = item.substr(0, colon);
      item.remove_prefix(std::min(colon + 1, item.size()));
    }
    CostLine l;
    uint32_t quote = 0;
    auto whole = [](std::string_view f, auto* v) {
      const auto r = std::from_chars(f.data(), f.data() + f.size(), *v);
      return r.ec == std::errc{} && r.ptr == f.data() + f.size();
    };
    if (!whole(field[0], &quote) || !whole(field[1], &l.qty) ||
        !parse_wide_integer(field[2], &l.cost) || !parse_wide_integer(field[3], &l.realized) || l.qty < 0) {
      return false;
    }
    l.quote = AssetId{quote};
    lines->push_back(l);
  }
  return true;
}

void CostBasis::add_instrument(InstrumentId id, AssetId base, AssetId quote) {
  instruments_[id.value] = {base, quote};
}

HoldingCost& CostBasis::at(AccountId account, AssetId asset) {
  const Key k{account.value, asset.value};
  auto it = holdings_.find(k);
  if (it == holdings_.end()) {
    HoldingCost h;
    h.account = account;
    h.asset = asset;
    it = holdings_.emplace(k, std::move(h)).first;
  }
  touched(k);
  return it->second;
}

void CostBasis::touched(const Key& k) {
  if (track_) changed_.insert(k);
}

void CostBasis::on_cash_fill(AccountId account, InstrumentId instrument, Side side, int64_t qty, int64_t notional,
                             int64_t fee) {
  auto ins = instruments_.find(instrument.value);
  if (ins == instruments_.end() || qty <= 0) return;
  const AssetId quote = ins->second.second;
  HoldingCost& h = at(account, ins->second.first);
  auto line = std::lower_bound(h.lines.begin(), h.lines.end(), quote,
                               [](const CostLine& l, AssetId q) { return l.quote < q; });
  if (side == Side::kBuy) {
    if (line == h.lines.end() || line->quote != quote) line = h.lines.insert(line, CostLine{quote, 0, 0, 0});
    line->qty = sat_add(line->qty, qty);
    line->cost += static_cast<Int128>(notional) + fee;
    return;
  }
  if (line == h.lines.end() || line->quote != quote || line->qty == 0) return;  // no known cost in this quote
  const int64_t covered = std::min(qty, line->qty);
  const Int128 net = static_cast<Int128>(notional) - fee;
  const Int128 proceeds = covered == qty ? net : share(net, covered, qty);
  const Int128 released = covered == line->qty ? line->cost : share(line->cost, covered, line->qty);
  line->qty -= covered;
  line->cost -= released;
  line->realized += proceeds - released;
}

void CostBasis::on_transfer(AccountId account, AssetId asset, int64_t amount, bool deposit, Timestamp time) {
  HoldingCost& h = at(account, asset);
  const int64_t day = time / kNanosPerDay;
  if (h.flow_day != day) {
    h.flow_day = day;
    h.net_flow = 0;
  }
  h.net_flow = sat_add(h.net_flow, deposit ? amount : -amount);
}

void CostBasis::on_total(AccountId account, AssetId asset, int64_t total) {
  auto it = holdings_.find(Key{account.value, asset.value});
  if (it == holdings_.end()) return;
  HoldingCost& h = it->second;
  Int128 held = 0;
  for (const CostLine& l : h.lines) held += l.qty;
  const Int128 excess = held - std::max<int64_t>(total, 0);
  if (excess <= 0) return;
  touched(it->first);
  // Take the excess from the lines in proportion to their quantities
  // (floored), then the rounding leftover from the first lines that still hold some.
  std::vector<int64_t> take(h.lines.size());
  Int128 taken = 0;
  for (std::size_t i = 0; i < h.lines.size(); ++i) {
    take[i] = static_cast<int64_t>(static_cast<Int128>(h.lines[i].qty) * excess / held);
    taken += take[i];
  }
  for (std::size_t i = 0; i < h.lines.size() && taken < excess; ++i) {
    const int64_t more = static_cast<int64_t>(std::min<Int128>(h.lines[i].qty - take[i], excess - taken));
    take[i] += more;
    taken += more;
  }
  for (std::size_t i = 0; i < h.lines.size(); ++i) {
    CostLine& l = h.lines[i];
    if (take[i] == 0) continue;
    const Int128 released = take[i] == l.qty ? l.cost : share(l.cost, take[i], l.qty);
    l.qty -= take[i];
    l.cost -= released;
  }
  // A line with nothing held and nothing realized says nothing.
  std::erase_if(h.lines, [](const CostLine& l) { return l.qty == 0 && l.cost == 0 && l.realized == 0; });
}

const HoldingCost* CostBasis::find(AccountId account, AssetId asset) const {
  auto it = holdings_.find(Key{account.value, asset.value});
  return it == holdings_.end() ? nullptr : &it->second;
}

std::vector<HoldingCost> CostBasis::of(AccountId account) const {
  std::vector<HoldingCost> out;
  for (auto it = holdings_.lower_bound(Key{account.value, 0});
       it != holdings_.end() && it->first.first == account.value; ++it) {
    if (!it->second.empty()) out.push_back(it->second);
  }
  return out;
}

void CostBasis::for_each(const std::function<void(const HoldingCost&)>& fn) const {
  for (const auto& [k, h] : holdings_) {
    if (!h.empty()) fn(h);
  }
}

void CostBasis::put(const HoldingCost& h) { holdings_[Key{h.account.value, h.asset.value}] = h; }

std::vector<HoldingCost> CostBasis::drain_changes() {
  std::vector<HoldingCost> out;
  for (const Key& k : changed_) {
    auto it = holdings_.find(k);
    if (it == holdings_.end()) continue;
    out.push_back(it->second);
  }
  changed_.clear();
  return out;
}

}  // namespace bourse::accounts
