// `bourse demo`: the engine demo behind `make run` until the gateway exists.
#pragma once

#include <string>

namespace bourse::app {

struct DemoOptions {
  std::string data_dir = "./data";
  int seconds = 0;  // 0: until SIGINT/SIGTERM
  int orders_per_second = 2000;
};

int run_demo(const DemoOptions& options);

}  // namespace bourse::app
