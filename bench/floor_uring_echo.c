/* A second floor for netdx-echo: the least an io_uring completion-based TCP echo server does,
 * single-threaded. One multishot accept, one multishot receive per connection into a ring
 * of provided buffers, a send straight from the filled buffer (given back when the send
 * completes), everything submitted in one io_uring_submit_and_wait per turn, the kernel's
 * work deferred to those waits (SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN). No
 * partial send handling, no limits, no stats. Prints its port, then serves until killed.
 * usage: floor_uring_echo */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#define NBUF 4096
#define BSZ 4096
#define BGID 1
enum { ACCEPT = 1, RECV = 2, SEND = 3 };

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* bufs;

static unsigned long long tag(int kind, int fd, int bid) {
    return ((unsigned long long)kind << 56) | ((unsigned long long)bid << 32) | (unsigned)fd;
}
static struct io_uring_sqe* sqe(void) {
    struct io_uring_sqe* s = io_uring_get_sqe(&ring);
    if (!s) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}
static void arm_accept(int ls) {
    struct io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, ls, NULL, NULL, 0);
    io_uring_sqe_set_data64(s, tag(ACCEPT, ls, 0));
}
static void arm_recv(int fd) {
    struct io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, tag(RECV, fd, 0));
}

int main(void) {
    struct io_uring_params p = {.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN};
    if (io_uring_queue_init_params(4096, &ring, &p) < 0) {
        struct io_uring_params q = {.flags = IORING_SETUP_COOP_TASKRUN};
        if (io_uring_queue_init_params(4096, &ring, &q) < 0) return 2;
    }
    br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
              MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
    if (br == MAP_FAILED || io_uring_register_buf_ring(&ring, &reg, 0) != 0) return 3;
    io_uring_buf_ring_init(br);
    bufs = malloc((size_t)NBUF * BSZ);
    for (int i = 0; i < NBUF; ++i)
        io_uring_buf_ring_add(br, bufs + (size_t)i * BSZ, BSZ, i, io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(br, NBUF);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(ls, 4096) != 0) return 1;
    getsockname(ls, (struct sockaddr*)&addr, &len);
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    arm_accept(ls);
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe* cqe;
        unsigned head, seen = 0, returned = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            unsigned long long d = cqe->user_data;
            int kind = (int)(d >> 56), fd = (int)(d & 0xffffffffu), bid = (int)((d >> 32) & 0xffff);
            int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            if (kind == ACCEPT) {
                if (cqe->res >= 0) {
                    setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    arm_recv(cqe->res);
                }
                if (!more) arm_accept(ls);
            } else if (kind == RECV) {
                if (cqe->res == -ENOBUFS) {
                    arm_recv(fd);
                } else if (cqe->res <= 0) {
                    if (!more) close(fd);
                } else {
                    int b = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
                    struct io_uring_sqe* s = sqe();
                    io_uring_prep_send(s, fd, bufs + (size_t)b * BSZ, (size_t)cqe->res,
                                       MSG_NOSIGNAL);
                    io_uring_sqe_set_data64(s, tag(SEND, fd, b));
                    if (!more) arm_recv(fd);
                }
            } else { /* the send is done with its buffer */
                io_uring_buf_ring_add(br, bufs + (size_t)bid * BSZ, BSZ, bid,
                                      io_uring_buf_ring_mask(NBUF), (int)returned++);
            }
        }
        io_uring_cq_advance(&ring, seen);
        if (returned) io_uring_buf_ring_advance(br, (int)returned);
    }
}
