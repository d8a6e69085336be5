#pragma once
/// The steps of `netdx tour`: each tool adds its step when it lands. Every step is bounded
/// (its own options keep it short, and the tour kills it past `timeout`).

#include <string>
#include <vector>

#include <netdx/sys/clock.hpp>

namespace netdx::tour {

struct Step {
    std::string title;       ///< "What matters on this machine"
    std::string explanation; ///< one or two lines: what the step shows
    std::string tool;        ///< "netdx-doctor"
    std::vector<std::string> args;
    Nanos timeout = 60 * kNanosPerSecond;
    bool supports_json = true;
};

[[nodiscard]] std::vector<Step> default_steps();

} // namespace netdx::tour
