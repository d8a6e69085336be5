#pragma once
/// select(2) backend, without the FD_SETSIZE (1024) ceiling: the fd sets are bit arrays on the
/// heap, as long as the highest fd needs, handed to the kernel as fd_set pointers (the kernel
/// reads nfds bits, whatever FD_SETSIZE says). glibc's FD_SET macros would abort above 1023
/// under _FORTIFY_SOURCE, so the bits are set here by hand.
///
///   words_: [ fds 0..63 ][ fds 64..127 ] ...   bit (fd % 64) of word (fd / 64)
///
/// Costs what select costs: every wait copies both sets in and out (O(highest fd)), and
/// finding the ready fds scans every registered one. Level-triggered.

#include <vector>

#include <netdx/net/poller.hpp>

namespace netdx {

class SelectPoller final : public Poller {
public:
    void add(int fd, std::uint32_t interests, std::uint64_t token) override;
    void modify(int fd, std::uint32_t interests, std::uint64_t token) override;
    void remove(int fd) override;
    std::size_t wait(std::span<PollEvent> out, Nanos timeout) override;
    [[nodiscard]] std::string_view name() const override { return "select"; }

private:
    struct Entry {
        std::uint32_t interests = 0;
        std::uint64_t token = 0;
        bool used = false;
    };
    std::vector<Entry> entries_; ///< by fd
    std::vector<int> fds_;       ///< registered fds, for the scan after select returns
    std::vector<unsigned long> read_, write_, read_out_, write_out_;
    int max_fd_ = -1;
};

} // namespace netdx
