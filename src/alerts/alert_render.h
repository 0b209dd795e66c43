// The JSON of alert rules and firings, shared by REST, the WebSocket channel
// and webhooks (docs/alerts.md). Values are exact decimal strings in the
// instrument's units: prices at its price scale, percent changes with two
// decimals, volume multiples with four, indicators as /v1/indicators
// writes them.
#pragma once

#include <optional>
#include <string>

#include "alerts/alert_engine.h"
#include "gateway/json_writer.h"
#include "marketdata/market_view.h"
#include "store/store.h"

namespace bourse::alerts {

// How many decimals a rule's threshold is written and parsed with.
int threshold_scale(AlertKind kind, Indicator indicator, const marketdata::InstrumentInfo* info);
bool threshold_may_be_negative(AlertKind kind, Indicator indicator);
const char* alert_status_name(uint8_t status);  // "active", "triggered", "expired"

// A rule as GET /v1/alerts shows it (no secret).
void render_alert(gateway::JsonWriter& w, const store::AlertRow& row, const marketdata::InstrumentInfo* info);

// A firing's data object.
std::string render_firing(const Firing& f, const store::AlertRow& row, uint64_t firing_id, uint64_t seq,
                          const marketdata::MarketView& market);

}  // namespace bourse::alerts
