#include <cstring>
#include <sys/utsname.h>

#include <fmt/format.h>
#include <liburing.h>

#include <netdx/net/uring_probe.hpp>

namespace netdx {

UringSupport probe_io_uring() {
    UringSupport s;
    io_uring ring{};
    const int rc = ::io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        s.detail = fmt::format("io_uring_setup failed: {}", std::strerror(-rc));
        return s;
    }
    if (io_uring_probe* probe = ::io_uring_get_probe_ring(&ring)) {
        s.poll_add = ::io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) != 0;
        ::io_uring_free_probe(probe);
    }
    ::io_uring_queue_exit(&ring);
    // Multishot poll has no opcode of its own to probe; it arrived in 5.13.
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2)
        s.multishot_poll = major > 5 || (major == 5 && minor >= 13);
    s.available = s.poll_add;
    s.detail = s.poll_add ? (s.multishot_poll ? "poll (one-shot and multishot) supported"
                                              : "poll supported (no multishot before 5.13)")
                          : "ring works but IORING_OP_POLL_ADD is not supported";
    return s;
}

} // namespace netdx
