/* Writes a synthetic TCP capture for the netdx-trace bench: N connections, each
 * SYN, SYN/ACK, ACK, request, ACK, response, FIN (client), FIN/ACK (server), ACK
 * (9 packets), with `open` of them interleaved at any moment, 1 us apart. Ethernet,
 * nanosecond pcap, headers only (snaplen-cut: the IP lengths carry the payload sizes).
 *
 *   gen_trace_pcap OUT.pcap CONNECTIONS OPEN spread|clustered
 *
 * spread: every client a different 10.x.y.z; clustered: all clients on 10.0.0.1, ports
 * cycling, one server 10.255.0.1:80 (the worst case for a weak hash). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;
static uint64_t now_ns = 1700000000ULL * 1000000000ULL;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

static void packet(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags,
                   uint32_t seq, uint32_t ack, uint16_t payload) {
    uint8_t f[14 + 20 + 40];
    int opt = (flags & 0x02) ? 20 : 0;
    int hl = 20 + opt;
    memset(f, 0, sizeof f);
    memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
    uint8_t *ip = f + 14, *tcp = ip + 20;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + hl + payload));
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = (uint8_t)((hl / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (opt) {
        memcpy(tcp + 20, "\x02\x04\x05\xb4\x04\x02\x08\x0a\0\0\0\x01\0\0\0\0\x01\x03\x03\x07", 20);
    }
    uint32_t caplen = (uint32_t)(14 + 20 + hl);
    uint32_t hdr[4] = {(uint32_t)(now_ns / 1000000000ULL), (uint32_t)(now_ns % 1000000000ULL), caplen,
                       caplen + payload};
    fwrite(hdr, sizeof hdr, 1, out);
    fwrite(f, caplen, 1, out);
    now_ns += 1000;
}

struct conn { uint32_t client; uint16_t port; int step; uint32_t cs, ss; };

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: gen_trace_pcap OUT.pcap CONNECTIONS OPEN spread|clustered\n");
        return 2;
    }
    out = fopen(argv[1], "wb");
    if (!out) { perror(argv[1]); return 1; }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    long total = atol(argv[2]), open = atol(argv[3]);
    int clustered = strcmp(argv[4], "clustered") == 0;
    uint32_t hdr[6] = {0xa1b23c4d, 0x00040002, 0, 0, 262144, 1};
    fwrite(hdr, sizeof hdr, 1, out);
    struct conn *c = calloc((size_t)open, sizeof *c);
    const uint32_t server = 0x0aff0001; /* 10.255.0.1 */
    long started = 0, done = 0;
    uint32_t rng = 12345;
    for (long i = 0; i < open; ++i) c[i].step = -1;
    while (done < total) {
        for (long i = 0; i < open && done < total; ++i) {
            struct conn *k = &c[i];
            if (k->step < 0) {
                if (started == total) continue;
                rng = rng * 1103515245u + 12345u;
                k->client = clustered ? 0x0a000001 : 0x0a000000 | ((uint32_t)started * 2654435761u >> 8);
                k->port = (uint16_t)(1024 + (clustered ? started % 64000 : rng % 60000));
                k->cs = rng;
                k->ss = rng * 7u;
                k->step = 0;
                ++started;
            }
            uint32_t cl = k->client, cs = k->cs, ss = k->ss;
            uint16_t p = k->port;
            switch (k->step) {
            case 0: packet(cl, p, server, 80, 0x02, cs, 0, 0); break;
            case 1: packet(server, 80, cl, p, 0x12, ss, cs + 1, 0); break;
            case 2: packet(cl, p, server, 80, 0x10, cs + 1, ss + 1, 0); break;
            case 3: packet(cl, p, server, 80, 0x18, cs + 1, ss + 1, 100); break;
            case 4: packet(server, 80, cl, p, 0x10, ss + 1, cs + 101, 0); break;
            case 5: packet(server, 80, cl, p, 0x18, ss + 1, cs + 101, 1000); break;
            case 6: packet(cl, p, server, 80, 0x11, cs + 101, ss + 1001, 0); break;
            case 7: packet(server, 80, cl, p, 0x11, ss + 1001, cs + 102, 0); break;
            case 8: packet(cl, p, server, 80, 0x10, cs + 102, ss + 1002, 0); break;
            }
            if (++k->step == 9) {
                k->step = -1;
                ++done;
            }
        }
    }
    fclose(out);
    return 0;
}
