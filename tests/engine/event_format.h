// One-line, field-by-field text forms of events and commands. The
// differential test compares events through these strings, so every field of
// the active member (and the cause header) is printed.
#pragma once

#include <string>

#include "bourse/engine/command.h"
#include "bourse/engine/engine.h"
#include "bourse/engine/event.h"

namespace bourse::testing {

std::string event_to_string(const Event& event);
std::string command_to_string(const Command& command);
std::string order_view_to_string(const OrderView& order);

}  // namespace bourse::testing
