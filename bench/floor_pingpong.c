/* Floor for netdx-probe: the barest blocking ping-pong over loopback. A forked server echoes
 * with blocking recv/send; the client times each round trip with clock_gettime and prints
 * the median and p99 of `count` samples (after 10% warm-up).
 * With a port (not 0), it talks to that loopback echo server instead of forking its own.
 * With "spin", client and server never block: they poll recv with MSG_DONTWAIT, the floor
 * for netdx-probe --busy-poll against netdx-echo --busy-poll (a CPU each).
 * usage: floor_pingpong tcp|udp [size] [count] [port] [spin] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what) { perror(what); exit(1); }

int main(int argc, char **argv) {
    const int tcp = argc < 2 || strcmp(argv[1], "udp") != 0;
    const size_t size = argc > 2 ? (size_t)atol(argv[2]) : 64;
    const size_t count = argc > 3 ? (size_t)atol(argv[3]) : 100000;
    const int external_port = argc > 4 ? atoi(argv[4]) : 0;
    const int flags = argc > 5 && strcmp(argv[5], "spin") == 0 ? MSG_DONTWAIT : 0;
    char *buf = calloc(1, size > 65536 ? size : 65536);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1;
    int ls = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind");
    getsockname(ls, (struct sockaddr *)&addr, &len);
    if (tcp && listen(ls, 1) != 0) die("listen");
    if (external_port) addr.sin_port = htons((uint16_t)external_port);
    pid_t pid = external_port ? -1 : fork();
    if (pid == 0) { /* server */
        if (tcp) {
            int c = accept(ls, NULL, NULL);
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (;;) {
                ssize_t n = recv(c, buf, 65536, flags);
                if (n < 0 && flags) continue; /* EAGAIN: spin */
                if (n <= 0) _exit(0);
                send(c, buf, (size_t)n, 0);
            }
        }
        for (;;) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(ls, buf, 65536, flags, (struct sockaddr *)&from, &fl);
            if (n < 0 && flags) continue; /* EAGAIN: spin */
            if (n < 0) _exit(0);
            sendto(ls, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
    }
    int s = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
    if (tcp) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const size_t warm = count / 10;
    uint64_t *rtt = malloc(count * sizeof *rtt);
    for (size_t i = 0; i < warm + count; ++i) {
        uint64_t t0 = now_ns();
        send(s, buf, size, 0);
        size_t got = 0;
        while (got < size) {
            ssize_t n = recv(s, buf, size - got, flags);
            if (n < 0 && flags) continue; /* EAGAIN: spin */
            if (n <= 0) die("recv");
            got += (size_t)n;
            if (!tcp) break;
        }
        if (i >= warm) rtt[i - warm] = now_ns() - t0;
    }
    qsort(rtt, count, sizeof *rtt, cmp);
    printf("floor_%s_p50_ns %llu p99_ns %llu\n", tcp ? "tcp" : "udp", (unsigned long long)rtt[count / 2],
           (unsigned long long)rtt[count * 99 / 100]);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return 0;
}
