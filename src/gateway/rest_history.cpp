// History endpoints: every order, fill and balance change of the caller's
// account since the venue started, from the store's projection (written by
// projector::HistoryProjector off the order path). They lag the live
// endpoints (/v1/orders, /v1/fills, /v1/balances, which answer from memory
// and see a client's own writes at once) by the projector's delay.
// SQLite reads run on the worker pool.
#include <charconv>

#include "bourse/core/decimal.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"

namespace bourse::gateway {
namespace {

bool parse_hex(std::string_view text, uint64_t* out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), *out, 16);
  return !text.empty() && r.ec == std::errc() && r.ptr == text.data() + text.size();
}

}  // namespace

std::string history_cursor(uint64_t a, std::optional<uint64_t> b) {
  char buf[48];
  auto r = std::to_chars(buf, buf + 20, a, 16);
  std::string out = "h" + std::string(buf, r.ptr);
  if (b) {
    r = std::to_chars(buf, buf + 20, *b, 16);
    out += "." + std::string(buf, r.ptr);
  }
  return out;
}

bool parse_history_cursor(const std::string& text, bool two_part, uint64_t* a, uint64_t* b) {
  if (text.size() < 2 || text[0] != 'h') return false;
  const std::string_view body = std::string_view(text).substr(1);
  const std::size_t dot = body.find('.');
  if (two_part != (dot != std::string_view::npos)) return false;
  if (!two_part) return parse_hex(body, a);
  return parse_hex(body.substr(0, dot), a) && parse_hex(body.substr(dot + 1), b);
}

#define BOURSE_BIND(fn) [this](const std::shared_ptr<Call>& c) { fn(c); }

void RestApi::add_history_routes() {
  private_route("GET", "/v1/history/orders", auth::kScopeRead, BOURSE_BIND(get_history_orders), 5);
  private_route("GET", "/v1/history/fills", auth::kScopeRead, BOURSE_BIND(get_history_fills), 5);
  private_route("GET", "/v1/history/ledger", auth::kScopeRead, BOURSE_BIND(get_history_ledger), 5);
}

bool RestApi::history_query(const std::shared_ptr<Call>& call, bool with_symbol, store::HistoryQuery* q) {
  q->account = call->principal.user_id;
  std::string text;
  if (with_symbol && call->request.query_param("symbol", &text) == QueryParam::kFound) {
    const auto info = market_.instrument(text);
    if (!info) {
      call->fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + text + "'");
      return false;
    }
    q->instrument = info->spec.id.value;
  }
  const auto start = int_param(call, "start", 0, 0, INT64_MAX / 1'000'000);
  if (!start) return false;
  const auto end = int_param(call, "end", INT64_MAX / 1'000'000, 0, INT64_MAX / 1'000'000);
  if (!end) return false;
  q->from = *start * 1'000'000;
  q->to = *end >= INT64_MAX / 1'000'000 ? INT64_MAX : *end * 1'000'000;
  const auto limit = int_param(call, "limit", 100, 1, 500);
  if (!limit) return false;
  q->limit = static_cast<std::size_t>(*limit);
  return true;
}

void RestApi::get_history_orders(const std::shared_ptr<Call>& call) {
  store::HistoryQuery q;
  if (!history_query(call, true, &q)) return;
  std::string text;
  if (call->request.query_param("cursor", &text) == QueryParam::kFound &&
      !parse_history_cursor(text, false, &q.before, nullptr)) {
    return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
  }
  offload(call, [this, call, q] {
    const auto rows = services_.store->order_history(q);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("orders").begin_array();
    for (const store::OrderHistoryRow& r : rows) {
      if (const auto info = market_.instrument(InstrumentId{r.instrument})) render_order(w, *info, order_record_of(r));
    }
    w.end_array().key("next_cursor");
    if (rows.size() == q.limit) w.value(history_cursor(rows.back().order_id)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_history_fills(const std::shared_ptr<Call>& call) {
  store::HistoryQuery q;
  if (!history_query(call, true, &q)) return;
  std::string text;
  if (call->request.query_param("cursor", &text) == QueryParam::kFound &&
      !parse_history_cursor(text, true, &q.before, &q.before_secondary)) {
    return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
  }
  offload(call, [this, call, q] {
    const auto rows = services_.store->fill_history(q);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("fills").begin_array();
    for (const store::FillHistoryRow& r : rows) {
      const auto info = market_.instrument(InstrumentId{r.instrument});
      if (!info) continue;
      accounts::FillRecord f{TradeId{r.trade_id}, OrderId{r.order_id}, InstrumentId{r.instrument},
                             static_cast<Side>(r.side), Price{r.price}, Qty{r.qty}, Amount{r.notional},
                             Amount{r.fee}, r.maker, r.time, r.seq};
      render_fill(w, *info, f);  // "id" is the journal seq of the trade here
    }
    w.end_array().key("next_cursor");
    if (rows.size() == q.limit) w.value(history_cursor(rows.back().trade_id, rows.back().order_id)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

// The account's value history (portfolio::ValueRecorder), newest first,
// with `start`/`end` in milliseconds and a cursor.
void RestApi::get_portfolio_history(const std::shared_ptr<Call>& call) {
  store::HistoryQuery q;
  if (!history_query(call, false, &q)) return;
  std::string text;
  uint64_t before = static_cast<uint64_t>(INT64_MAX);
  if (call->request.query_param("cursor", &text) == QueryParam::kFound &&
      (!parse_history_cursor(text, false, &before, nullptr) || before > static_cast<uint64_t>(INT64_MAX))) {
    return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
  }
  offload(call, [this, call, q, before] {
    const auto rows = services_.store->portfolio_values(q.account, q.from, q.to, static_cast<int64_t>(before), q.limit);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("points").begin_array();
    for (const store::PortfolioValueRow& r : rows) {
      const auto asset = market_.asset(AssetId{r.currency});
      Int128 value = 0;
      if (!asset || !parse_wide_integer(r.value, &value)) continue;
      w.begin_object().field("time", to_millis(r.time)).field("currency", asset->code.view());
      w.field("value", format_wide_decimal(value, asset->scale)).field("complete", r.complete).end_object();
    }
    w.end_array().key("next_cursor");
    if (rows.size() == q.limit) w.value(history_cursor(static_cast<uint64_t>(rows.back().time))); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_history_ledger(const std::shared_ptr<Call>& call) {
  store::HistoryQuery q;
  if (!history_query(call, false, &q)) return;
  std::string text;
  if (call->request.query_param("cursor", &text) == QueryParam::kFound &&
      !parse_history_cursor(text, true, &q.before, &q.before_secondary)) {
    return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
  }
  offload(call, [this, call, q] {
    const auto rows = services_.store->ledger_history(q);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("entries").begin_array();
    for (const store::LedgerHistoryRow& r : rows) {
      const auto asset = market_.asset(AssetId{r.asset});
      if (!asset) continue;
      w.begin_object().field("seq", r.seq).field("asset", asset->code.view());
      w.field("change", format_decimal(r.change, asset->scale));
      w.field("available", format_decimal(r.available, asset->scale));
      w.field("locked", format_decimal(r.locked, asset->scale));
      w.field("cause", command_type_name(static_cast<CommandType>(r.cause)));
      w.field("time", to_millis(r.time)).end_object();
    }
    w.end_array().key("next_cursor");
    if (rows.size() == q.limit) w.value(history_cursor(rows.back().seq, rows.back().asset)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

}  // namespace bourse::gateway
