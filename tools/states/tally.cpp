#include "tally.hpp"

#include <algorithm>

namespace netdx::states {

void Tally::add(const TcpSocket& s, std::uint16_t netns) {
    ++by_state[static_cast<std::size_t>(s.state) % kTcpStateCount];
    ++total;
    if (s.orphan()) ++orphans;
    if (s.state != TcpState::time_wait) return;
    auto& tw = time_wait;
    ++tw.total;
    const std::uint32_t age = kTimeWaitMs - std::min(s.timer_ms, kTimeWaitMs);
    ++tw.by_age[std::min<std::size_t>(age / kAgeBucketMs, tw.by_age.size() - 1)];
    static const Listeners kNone;
    if ((listeners ? *listeners : kNone).side_of(s, ephemeral) == Listeners::Side::server) {
        ++tw.inbound;
        return;
    }
    TimeWaitTally::Pair pair{netns, s.local.ip(), s.remote.ip(), s.remote.port()};
    if (last_count_ == nullptr || pair != last_pair_) {
        last_count_ = &tw.outbound[pair];
        last_pair_ = std::move(pair);
    }
    ++*last_count_;
}

} // namespace netdx::states
