#pragma once
/// epoll backend: level-triggered by default, edge-triggered when asked (the caller must
/// then drain every ready fd until EAGAIN), or one-shot (EPOLLONESHOT: the fd is disarmed
/// after one event until modify() re-arms it).

#include <sys/epoll.h>
#include <vector>

#include <netdx/net/poller.hpp>
#include <netdx/sys/fd.hpp>

namespace netdx {

class EpollPoller final : public Poller {
public:
    enum class Trigger { level, edge, oneshot };
    explicit EpollPoller(Trigger trigger = Trigger::level);

    void add(int fd, std::uint32_t interests, std::uint64_t token) override;
    void modify(int fd, std::uint32_t interests, std::uint64_t token) override;
    void remove(int fd) override;
    std::size_t wait(std::span<PollEvent> out, Nanos timeout) override;
    [[nodiscard]] std::string_view name() const override {
        return trigger_ == Trigger::edge      ? "epoll-et"
               : trigger_ == Trigger::oneshot ? "epoll-oneshot"
                                              : "epoll";
    }
    [[nodiscard]] bool oneshot() const override { return trigger_ == Trigger::oneshot; }
    [[nodiscard]] bool edge_triggered() const override { return trigger_ == Trigger::edge; }
    [[nodiscard]] int fd() const { return epoll_.get(); }

private:
    [[nodiscard]] std::uint32_t to_epoll(std::uint32_t interests) const;
    /// epoll_ctl ADD or MOD; throws naming the operation and the fd.
    void control(int op, int fd, std::uint32_t interests, std::uint64_t token);
    Fd epoll_;
    Trigger trigger_;
    bool have_pwait2_ = true;
    std::vector<epoll_event> buffer_;
};

} // namespace netdx
