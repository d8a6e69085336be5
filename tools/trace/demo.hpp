#pragma once
// `netdx-trace --demo`: traffic to trace when there is nothing else to trace. A listener on
// 127.0.0.1 and four connections that end four ways (the client closes, the server closes,
// refused, reset by the client), made while the tool captures on loopback.
#include <atomic>
#include <cstdint>
#include <string>

#include <netdx/sys/fd.hpp>

namespace netdx::trace {

class Demo {
public:
    /// Opens the listener and finds a port nothing listens on. Throws std::system_error.
    Demo();
    /// A BPF filter that matches the demo's connections and nothing else.
    [[nodiscard]] std::string filter() const;
    /// Makes the four connections (about 0.2 s); call from its own thread.
    void run();
    [[nodiscard]] bool finished() const { return finished_.load(); }

private:
    Fd listener_;
    std::uint16_t port_ = 0, closed_port_ = 0;
    std::atomic<bool> finished_{false};
};

} // namespace netdx::trace
