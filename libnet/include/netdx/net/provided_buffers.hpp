#pragma once
/// Buffers handed to the kernel in advance (an io_uring buffer ring, Linux 5.19): a
/// multishot receive takes one per completion, so ten thousand idle connections cost no
/// buffer each. The completion names the buffer it filled (CompletionEvent::buffer); the
/// caller reads it and gives it back.
///
///   memory:  [ buffer 0 | buffer 1 | ... | buffer count-1 ]   each `size` bytes
///   ring:    ids the kernel may fill next; give_back(id) appends one
///
/// Ownership: owns the memory and the registration; it must outlive every receive started
/// with it and the ring (destroy the EventLoop first). Threads: the loop's thread only.

#include <cstddef>
#include <cstdint>
#include <memory>

struct io_uring;
struct io_uring_buf_ring;

namespace netdx {

class ProvidedBuffers {
public:
    /// Registers `count` (a power of two, at most 32768) buffers of `size` bytes as buffer
    /// group `group` of `ring`. Throws std::system_error naming the registration.
    ProvidedBuffers(io_uring& ring, std::uint16_t group, unsigned count, std::size_t size);
    ~ProvidedBuffers();
    ProvidedBuffers(const ProvidedBuffers&) = delete;
    ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;

    [[nodiscard]] std::uint16_t group() const { return group_; }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] const char* data(int id) const {
        return memory_.get() + static_cast<std::size_t>(id) * size_;
    }
    /// The kernel may fill buffer `id` again.
    void give_back(int id);

private:
    io_uring* ring_;
    std::uint16_t group_;
    unsigned count_;
    std::size_t size_;
    io_uring_buf_ring* buf_ring_ = nullptr; ///< page-aligned, mmap'ed
    std::size_t buf_ring_bytes_ = 0;
    std::unique_ptr<char[]> memory_;
};

} // namespace netdx
