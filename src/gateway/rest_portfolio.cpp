// Portfolio endpoints (docs/portfolio.md): the caller's holdings with their
// cost basis (GET /v1/holdings) and the account valued in one currency with
// the day's PnL (GET /v1/portfolio), from the read models at the venue's
// mark prices (portfolio/valuation.h). The value history is in
// rest_history.cpp (it is read from the store).
#include "bourse/core/decimal.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"
#include "portfolio/valuation.h"

namespace bourse::gateway {
namespace {

constexpr int64_t kNanosPerDay = 86'400'000'000'000;

void optional_amount(JsonWriter& w, const char* key, const std::optional<Int128>& v, int scale) {
  w.key(key);
  if (v) w.value(format_wide_decimal(*v, scale)); else w.null();
}

}  // namespace

#define BOURSE_BIND(fn) [this](const std::shared_ptr<Call>& c) { fn(c); }

void RestApi::add_portfolio_routes() {
  private_route("GET", "/v1/holdings", auth::kScopeRead, BOURSE_BIND(get_holdings), 2);
  private_route("GET", "/v1/portfolio", auth::kScopeRead, BOURSE_BIND(get_portfolio), 5);
  private_route("GET", "/v1/portfolio/history", auth::kScopeRead, BOURSE_BIND(get_portfolio_history), 5);
  private_route("POST", "/v1/admin/reconcile", auth::kScopeAdmin, BOURSE_BIND(post_reconcile), 50);
}

// Replays the journal on a worker thread (one run at a time) and answers
// with the report: 200 either way; "ok" says whether anything differed.
void RestApi::post_reconcile(const std::shared_ptr<Call>& call) {
  if (services_.data_dir.empty()) return call->fail(404, "NOT_FOUND", "reconciliation is not available here");
  offload(call, [this, call] {
    if (reconciling_.exchange(true)) {
      return call->fail(409, "RECONCILE_RUNNING", "a reconciliation is already running; retry when it ends");
    }
    struct Done {
      std::atomic<bool>& flag;
      ~Done() { flag.store(false); }
    } done{reconciling_};
    portfolio::ReconcileReport report;
    std::string error;
    bool ran = false;
    try {
      ran = portfolio::reconcile(services_.data_dir, engine_.config(), services_.store, &report, &error);
    } catch (const std::exception& e) {  // e.g. no memory for the second engine: the server keeps serving
      error = e.what();
    }
    if (!ran) return call->fail(500, "RECONCILE_FAILED", error);
    std::string out;
    JsonWriter w(&out);
    render_reconcile(w, report);
    call->json(200, std::move(out));
  });
}

std::optional<AssetSpec> RestApi::currency_param(const std::shared_ptr<Call>& call) {
  std::string code = services_.portfolio_currency;
  if (call->request.query_param("currency", &code) == QueryParam::kMalformed) {
    call->fail(400, "INVALID_PARAMETER", "currency: an asset code");
    return std::nullopt;
  }
  auto asset = code.size() <= 12 ? market_.asset(code) : std::nullopt;
  if (!asset) call->fail(422, "UNKNOWN_ASSET", "no asset '" + code.substr(0, 12) + "' to value in");
  return asset;
}

void RestApi::get_holdings(const std::shared_ptr<Call>& call) {
  const auto currency = currency_param(call);
  if (!currency) return;
  const portfolio::PriceBook prices(market_);
  const auto v = portfolio::value_account(services_.accounts->holdings(AccountId{call->principal.user_id}), prices,
                                          currency->id, clock_.now() / kNanosPerDay);
  std::string out;
  JsonWriter w(&out);
  w.begin_object().field("currency", currency->code.view()).key("holdings").begin_array();
  for (const portfolio::HoldingValue& h : v.holdings) {
    const AssetSpec* asset = prices.asset(h.asset);
    if (!asset) continue;
    w.begin_object().field("asset", asset->code.view());
    w.field("available", format_decimal(h.available, asset->scale));
    w.field("locked", format_decimal(h.locked, asset->scale));
    w.field("total", format_wide_decimal(h.total, asset->scale));
    optional_amount(w, "value", h.value, currency->scale);
    w.field("net_transfers_today", format_decimal(h.net_flow_today, asset->scale));
    w.key("cost_basis").begin_array();
    for (const portfolio::CostLineValue& c : h.cost) {
      const AssetSpec* quote = prices.asset(c.line.quote);
      const auto* pair = prices.pair(h.asset, c.line.quote);
      if (!quote) continue;
      w.begin_object().field("currency", quote->code.view());
      w.field("qty", format_decimal(c.line.qty, asset->scale));
      w.field("cost", format_wide_decimal(c.line.cost, quote->scale));
      w.key("average_price");
      if (pair && c.line.qty > 0) w.value(format_decimal(c.average_price.value, pair->spec.price_scale)); else w.null();
      optional_amount(w, "unrealized_pnl", c.unrealized, quote->scale);
      w.field("realized_pnl", format_wide_decimal(c.line.realized, quote->scale));
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().field("complete", v.complete).end_object();
  call->json(200, std::move(out));
}

void RestApi::get_portfolio(const std::shared_ptr<Call>& call) {
  const auto currency = currency_param(call);
  if (!currency) return;
  // The day's opening value is in the store: read it off the I/O thread.
  offload(call, [this, call, currency = *currency] {
    const AccountId account{call->principal.user_id};
    const Timestamp now = clock_.now();
    const int64_t today = now / kNanosPerDay;
    const auto open = services_.store->portfolio_value_at_or_before(account.value, today * kNanosPerDay);
    const portfolio::PriceBook prices(market_);
    const auto v = portfolio::value_account(services_.accounts->holdings(account), prices, currency.id, today);
    // The opening value in this currency: as recorded, or converted at
    // today's prices when it was recorded in another.
    std::optional<Int128> open_value;
    Int128 recorded = 0;
    if (open && parse_wide_integer(open->value, &recorded)) {
      open_value = prices.convert(AssetId{open->currency}, recorded, currency.id);
    }
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("currency", currency.code.view()).field("as_of", to_millis(now));
    w.field("total_value", format_wide_decimal(v.total(), currency.scale));
    w.field("holdings_value", format_wide_decimal(v.holdings_value, currency.scale));
    w.field("unrealized_pnl", format_wide_decimal(v.unrealized_value, currency.scale));
    w.field("complete", v.complete);
    w.key("day").begin_object();
    optional_amount(w, "open_value", open_value, currency.scale);
    w.key("open_time");
    if (open) w.value(to_millis(open->time)); else w.null();
    w.field("net_transfers", format_wide_decimal(v.net_flow_value, currency.scale));
    // Only between two complete valuations: an asset priced now but not at
    // the open would count its whole value as profit.
    std::optional<Int128> pnl;
    if (open_value && open->complete && v.complete) pnl = v.total() - *open_value - v.net_flow_value;
    optional_amount(w, "pnl", pnl, currency.scale);
    w.end_object();
    w.key("holdings").begin_array();
    for (const portfolio::HoldingValue& h : v.holdings) {
      const AssetSpec* asset = prices.asset(h.asset);
      if (!asset || h.total == 0) continue;
      w.begin_object().field("asset", asset->code.view()).field("total", format_wide_decimal(h.total, asset->scale));
      optional_amount(w, "value", h.value, currency.scale);
      w.end_object();
    }
    w.end_array().key("positions").begin_array();
    for (const portfolio::PositionValue& p : v.positions) {
      const auto* info = prices.instrument(p.position.instrument);
      if (!info || p.position.qty == 0) continue;
      w.begin_object().field("symbol", info->spec.symbol.view());
      w.field("qty", format_decimal(p.position.qty, info->base.scale));
      w.field("mark_price", format_decimal(p.mark.value, info->spec.price_scale));
      w.field("unrealized_pnl", format_wide_decimal(p.unrealized, info->quote.scale));
      optional_amount(w, "value", p.value, currency.scale);
      w.end_object();
    }
    w.end_array().end_object();
    call->json(200, std::move(out));
  });
}

}  // namespace bourse::gateway
