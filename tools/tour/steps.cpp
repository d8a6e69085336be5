#include "steps.hpp"

namespace netdx::tour {

std::vector<Step> default_steps() {
    return {
        {"What matters on this machine",
         "netdx doctor reads the limits and sysctls that decide how far a network test can go.",
         "netdx-doctor",
         {},
         30 * kNanosPerSecond,
         true},
    };
}

} // namespace netdx::tour
