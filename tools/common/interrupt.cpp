#include "interrupt.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>

#include <netdx/sys/system_error.hpp>

namespace netdx::cli {

namespace {
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_usr1 = 0;
int g_event_fd = -1;

extern "C" void on_signal(int sig) {
    const int saved = errno;
    if (sig == SIGUSR1)
        g_usr1 = 1;
    else
        g_signal = sig;
    if (g_event_fd >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(g_event_fd, &one, sizeof one);
    }
    errno = saved;
}
} // namespace

void install_interrupt_handlers() {
    if (g_event_fd >= 0) return;
    g_event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g_event_fd < 0) throw_errno("creating the interrupt eventfd");
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking call returns EINTR and the tool sees the flag
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, nullptr);
}

void install_usr1_handler() {
    install_interrupt_handlers();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGUSR1, &sa, nullptr);
}

bool take_usr1() {
    if (g_usr1 == 0) return false;
    g_usr1 = 0;
    return true;
}

void drain_interrupt_fd() {
    std::uint64_t v = 0;
    while (g_event_fd >= 0 && ::read(g_event_fd, &v, sizeof v) > 0) {
    }
}

void reset_after_fork() {
    g_signal = 0;
    g_usr1 = 0;
    const int fresh = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fresh < 0) throw_errno("creating the interrupt eventfd");
    const int old = g_event_fd;
    g_event_fd = fresh;
    if (old >= 0) ::close(old);
}

bool interrupted() {
    return g_signal != 0;
}
int interrupt_signal() {
    return g_signal;
}
int interrupt_fd() {
    return g_event_fd;
}

} // namespace netdx::cli
