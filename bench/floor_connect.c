/* Floor for netdx-flood: open N non-blocking TCP connections to one port as fast as
 * possible (at most 1000 connects in flight), with one epoll loop, nothing else (no
 * pacing, no timers, no per-connection latency, no reports). Prints the seconds from the
 * first connect() to the last completed handshake, and the count established.
 * usage: floor_connect PORT N */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const long n = atol(argv[2]);
    long started = 0, inflight = 0, done = 0, failed = 0;
    int ep = epoll_create1(0);
    struct epoll_event events[512];
    const double t0 = now();
    while (done + failed < n) {
        while (started < n && inflight < 1000) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0) { ++failed; ++started; continue; }
            ++started;
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
                close(fd);
                ++failed;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            ++inflight;
        }
        int k = epoll_wait(ep, events, 512, 1000);
        for (int i = 0; i < k; ++i) {
            int fd = events[i].data.fd, err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            --inflight;
            if (err) { close(fd); ++failed; } else ++done;
        }
    }
    printf("%.6f %ld %ld\n", now() - t0, done, failed);
    return 0;
}
