#include <netdx/inspect/listeners.hpp>

namespace netdx {

void Listeners::add(const TcpSocket& s) {
    if (s.state != TcpState::listen) return;
    ++count_;
    const auto& ip = s.local.ip();
    if (ip.is_unspecified())
        (ip.is_v4() ? any_v4_ : any_v6_).insert(s.local.port());
    else
        exact_.insert({ip, s.local.port()});
}

bool Listeners::listening(const SocketAddress& local) const {
    const auto port = local.port();
    if (exact_.count({local.ip(), port})) return true;
    // [::] takes IPv4 too unless IPV6_V6ONLY, which a dump does not show: counted as taking it.
    if (local.ip().is_v4()) return any_v4_.count(port) || any_v6_.count(port);
    return any_v6_.count(port) > 0;
}

Listeners::Side Listeners::side_of(const TcpSocket& s,
                                   const std::optional<PortRange>& ephemeral) const {
    if (listening(s.local)) return Side::server;
    if (ephemeral && ephemeral->contains(s.local.port())) return Side::client;
    return Side::server;
}

} // namespace netdx
