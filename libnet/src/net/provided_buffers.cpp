#include <sys/mman.h>

#include <fmt/format.h>
#include <liburing.h>

#include <netdx/net/provided_buffers.hpp>
#include <netdx/sys/system_error.hpp>

namespace netdx {

ProvidedBuffers::ProvidedBuffers(io_uring& ring, std::uint16_t group, unsigned count,
                                 std::size_t size)
    : ring_(&ring), group_(group), count_(count), size_(size) {
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0 ||
        size > (std::size_t{1} << 31))
        throw std::invalid_argument(fmt::format(
            "provided buffers: {} of {} bytes (a power of two up to 32768, each 1 B to 2 GiB)",
            count, size));
    // The ring of ids is shared with the kernel and must be page-aligned: mmap gives that.
    buf_ring_bytes_ = sizeof(io_uring_buf) * count;
    void* mem = ::mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) throw_errno(fmt::format("mmap of a {}-entry buffer ring", count));
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
    reg.ring_entries = count;
    reg.bgid = group;
    if (const int rc = ::io_uring_register_buf_ring(ring_, &reg, 0); rc < 0) {
        ::munmap(mem, buf_ring_bytes_);
        throw std::system_error(-rc, std::generic_category(),
                                fmt::format("io_uring_register_buf_ring (group {})", group));
    }
    // Touched here, not as the kernel first fills each buffer: the ring cycles through all
    // of them, so they are a fixed cost, and it is paid and seen at start (a peer's traffic
    // never makes the server grow by it later).
    memory_.reset(new char[count * size]());
    ::io_uring_buf_ring_init(buf_ring_);
    const int mask = ::io_uring_buf_ring_mask(count);
    for (unsigned id = 0; id < count; ++id)
        ::io_uring_buf_ring_add(buf_ring_, memory_.get() + id * size, static_cast<unsigned>(size),
                                static_cast<unsigned short>(id), mask, static_cast<int>(id));
    ::io_uring_buf_ring_advance(buf_ring_, static_cast<int>(count));
}

ProvidedBuffers::~ProvidedBuffers() {
    // After the unregistration no receive can pick a buffer: the memory may go.
    ::io_uring_unregister_buf_ring(ring_, group_);
    ::munmap(buf_ring_, buf_ring_bytes_);
}

void ProvidedBuffers::give_back(int id) {
    ::io_uring_buf_ring_add(buf_ring_, memory_.get() + static_cast<std::size_t>(id) * size_,
                            static_cast<unsigned>(size_), static_cast<unsigned short>(id),
                            ::io_uring_buf_ring_mask(count_), 0);
    ::io_uring_buf_ring_advance(buf_ring_, 1);
}

} // namespace netdx
