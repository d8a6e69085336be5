#include <netdx/net/backends.hpp>
#include <netdx/net/epoll_poller.hpp>
#include <netdx/net/poll_poller.hpp>
#include <netdx/net/select_poller.hpp>
#include <netdx/net/uring_poller.hpp>
#include <netdx/net/uring_probe.hpp>

namespace netdx {

std::string_view backend_name(Backend b) {
    switch (b) {
    case Backend::select:
        return "select";
    case Backend::poll:
        return "poll";
    case Backend::epoll:
        return "epoll";
    case Backend::epoll_et:
        return "epoll-et";
    case Backend::epoll_oneshot:
        return "epoll-oneshot";
    case Backend::uring_oneshot:
        return "uring-oneshot";
    case Backend::uring_multishot:
        return "uring-multishot";
    }
    return "?";
}

std::optional<Backend> backend_from_name(std::string_view name) {
    for (const auto b : kAllBackends)
        if (backend_name(b) == name) return b;
    return std::nullopt;
}

BackendProbe probe_backend(Backend b) {
    BackendProbe p;
    if (b == Backend::uring_oneshot || b == Backend::uring_multishot) {
        const auto u = probe_io_uring();
        p.available = u.available && (b == Backend::uring_oneshot || u.multishot_poll);
        p.reason = !u.available  ? u.detail
                   : p.available ? u.detail
                                 : "multishot poll needs Linux 5.13 or later";
        return p;
    }
    try {
        (void)make_poller(b); // select and poll need nothing; epoll needs epoll_create1
        p.available = true;
    } catch (const std::exception& e) {
        p.reason = e.what();
    }
    return p;
}

std::unique_ptr<Poller> make_poller(Backend b) {
    switch (b) {
    case Backend::select:
        return std::make_unique<SelectPoller>();
    case Backend::poll:
        return std::make_unique<PollPoller>();
    case Backend::epoll:
        return std::make_unique<EpollPoller>(EpollPoller::Trigger::level);
    case Backend::epoll_et:
        return std::make_unique<EpollPoller>(EpollPoller::Trigger::edge);
    case Backend::epoll_oneshot:
        return std::make_unique<EpollPoller>(EpollPoller::Trigger::oneshot);
    case Backend::uring_oneshot:
        return std::make_unique<UringPoller>(false);
    case Backend::uring_multishot:
        return std::make_unique<UringPoller>(true);
    }
    return nullptr;
}

} // namespace netdx
