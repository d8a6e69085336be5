/* Floor for netdx-states: one sock_diag dump per address family for the states in MASK,
 * counting the messages and nothing else (no parsing, no attributes, no output but the
 * count). usage: floor_sockdiag_count [MASK]   (default 0xfff: every state) */
#define _GNU_SOURCE
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static long dump(int family, unsigned mask) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    struct {
        struct nlmsghdr h;
        struct inet_diag_req_v2 r;
    } req = {0};
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.r.sdiag_family = (unsigned char)family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = mask;
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&k, sizeof k) < 0) return -1;
    static char buf[65536];
    long n = 0;
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len <= 0) break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                close(fd);
                return n;
            }
            ++n;
        }
    }
    close(fd);
    return n;
}

int main(int argc, char **argv) {
    unsigned mask = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 0xfffu << 1;
    printf("%ld\n", dump(AF_INET, mask) + dump(AF_INET6, mask));
    return 0;
}
