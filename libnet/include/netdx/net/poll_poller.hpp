#pragma once
/// poll(2) backend: one pollfd per registered fd in a dense array (removal swaps the last one
/// in), an index by fd. Every wait hands the whole array to the kernel and scans it back:
/// O(N) per call however few are ready. Level-triggered.

#include <poll.h>
#include <vector>

#include <netdx/net/poller.hpp>

namespace netdx {

class PollPoller final : public Poller {
public:
    void add(int fd, std::uint32_t interests, std::uint64_t token) override;
    void modify(int fd, std::uint32_t interests, std::uint64_t token) override;
    void remove(int fd) override;
    std::size_t wait(std::span<PollEvent> out, Nanos timeout) override;
    [[nodiscard]] std::string_view name() const override { return "poll"; }

private:
    std::vector<pollfd> fds_;
    std::vector<std::uint64_t> tokens_; ///< parallel to fds_
    std::vector<int> slot_;             ///< by fd: index in fds_, or -1
};

} // namespace netdx
