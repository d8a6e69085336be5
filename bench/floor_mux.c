/* Floor for netdx-mux's ready mode: N eventfds, K made readable, one select/poll/epoll_wait
 * with timeout 0 timed by a clock_gettime pair (the clock's cost subtracted), median of
 * ROUNDS. No checks, no abstraction: what the call costs and nothing else.
 * usage: floor_mux N K ROUNDS   prints "select N K ns", "poll ...", "epoll ..." lines. */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static int64_t now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}
static int64_t median(int64_t *s, int n) {
    qsort(s, (size_t)n, sizeof *s, cmp);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int n = atoi(argv[1]), k = atoi(argv[2]), rounds = atoi(argv[3]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
    int *fds = malloc(sizeof(int) * (size_t)n), maxfd = 0;
    for (int i = 0; i < n; ++i) {
        fds[i] = eventfd(0, EFD_NONBLOCK);
        if (fds[i] < 0) { perror("eventfd"); return 1; }
        if (fds[i] > maxfd) maxfd = fds[i];
    }
    int64_t *s = malloc(sizeof(int64_t) * (size_t)rounds), clock_cost;
    for (int r = 0; r < rounds; ++r) { int64_t t0 = now(); s[r] = now() - t0; }
    clock_cost = median(s, rounds);
    size_t words = (size_t)maxfd / 64 + 1;
    uint64_t *rset = calloc(words, 8), *rout = calloc(words, 8);
    for (int i = 0; i < n; ++i) rset[fds[i] / 64] |= 1ULL << (fds[i] % 64);
    struct pollfd *pfd = malloc(sizeof *pfd * (size_t)n);
    for (int i = 0; i < n; ++i) { pfd[i].fd = fds[i]; pfd[i].events = POLLIN; }
    int ep = epoll_create1(0);
    for (int i = 0; i < n; ++i) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    struct epoll_event *out = malloc(sizeof *out * (size_t)(k + 16));
    const char *names[3] = {"select", "poll", "epoll"};
    uint64_t one = 1, junk;
    for (int b = 0; b < 3; ++b) {
        for (int r = 0; r < rounds + rounds / 10; ++r) {
            for (int j = 0; j < k; ++j) write(fds[(r * 7919 + j * 104729) % n], &one, 8);
            int64_t t0 = now();
            if (b == 0) {
                memcpy(rout, rset, words * 8);
                struct timespec z = {0, 0};
                pselect(maxfd + 1, (fd_set *)rout, NULL, NULL, &z, NULL);
            } else if (b == 1) {
                struct timespec z = {0, 0};
                ppoll(pfd, (nfds_t)n, &z, NULL);
            } else {
                epoll_wait(ep, out, k + 16, 0);
            }
            int64_t t1 = now();
            for (int j = 0; j < k; ++j) read(fds[(r * 7919 + j * 104729) % n], &junk, 8);
            if (r >= rounds / 10) s[r - rounds / 10] = t1 - t0 - clock_cost;
        }
        printf("%s %d %d %lld\n", names[b], n, k, (long long)median(s, rounds));
    }
    return 0;
}
