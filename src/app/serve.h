// `bourse serve`: the engine service, read models, REST gateway and
// (optionally) the market simulator in one process. Runs until SIGINT or
// SIGTERM, then drains gracefully and exits 0.
#pragma once

#include "serve_config.h"

namespace bourse::app {

int run_serve(const ServeConfig& config);

}  // namespace bourse::app
