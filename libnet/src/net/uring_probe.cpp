#include <cstring>
#include <sys/mman.h>
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
    bool send_recv = false;
    if (io_uring_probe* probe = ::io_uring_get_probe_ring(&ring)) {
        s.poll_add = ::io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) != 0;
        send_recv = ::io_uring_opcode_supported(probe, IORING_OP_ACCEPT) != 0 &&
                    ::io_uring_opcode_supported(probe, IORING_OP_RECV) != 0 &&
                    ::io_uring_opcode_supported(probe, IORING_OP_SEND) != 0 &&
                    ::io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL) != 0;
        ::io_uring_free_probe(probe);
    }
    // A buffer ring is tried for real: a filter may allow the ring but not the registration.
    bool buf_ring = false;
    const std::size_t bytes = 4096;
    if (void* mem =
            ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        mem != MAP_FAILED) {
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
        reg.ring_entries = 1;
        reg.bgid = 0;
        buf_ring = ::io_uring_register_buf_ring(&ring, &reg, 0) == 0;
        if (buf_ring) ::io_uring_unregister_buf_ring(&ring, 0);
        ::munmap(mem, bytes);
    }
    ::io_uring_queue_exit(&ring);
    // Multishot poll, accept and receive have no opcodes of their own to probe: the kernel
    // release says (poll 5.13, accept 5.19, receive 6.0).
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2)
        s.multishot_poll = major > 5 || (major == 5 && minor >= 13);
    const bool multishot_recv = major >= 6;
    s.completions = send_recv && buf_ring && multishot_recv;
    if (!send_recv)
        s.completions_detail = "accept, recv, send or cancel is not an io_uring operation here";
    else if (!buf_ring)
        s.completions_detail = "io_uring_register_buf_ring was refused (provided buffers)";
    else if (!multishot_recv)
        s.completions_detail =
            fmt::format("kernel {}.{} has no multishot receive (6.0)", major, minor);
    s.available = s.poll_add;
    s.detail = s.poll_add ? (s.multishot_poll ? "poll (one-shot and multishot) supported"
                                              : "poll supported (no multishot before 5.13)")
                          : "ring works but IORING_OP_POLL_ADD is not supported";
    return s;
}

} // namespace netdx
