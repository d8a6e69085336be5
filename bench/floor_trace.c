/* The floor for netdx-trace: libpcap reads the file and each frame's TCP ports and flags
 * are touched, nothing else (no pairing, no state). usage: floor_trace FILE.pcap */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) return 2;
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) { fprintf(stderr, "%s\n", err); return 1; }
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t n = 0, sum = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        ++n;
        if (h->caplen >= 14 + 20 + 20) {
            const u_char *tcp = d + 14 + ((d[14] & 0x0f) << 2);
            sum += (uint64_t)((tcp[0] << 8) | tcp[1]) + tcp[13];
        }
    }
    printf("%llu packets (%llu)\n", (unsigned long long)n, (unsigned long long)sum);
    pcap_close(p);
    return 0;
}
