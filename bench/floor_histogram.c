/* Floor for netdx's histogram record(): the least any bucketed histogram can do per sample,
 * one count-leading-zeros and one increment into 64 power-of-two buckets (no sub-buckets,
 * so ~50% precision instead of 0.1%). Prints ns per record for the same sample stream as
 * histogram_bench. usage: floor_histogram [samples] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 20000000u;
    uint64_t *values = malloc(n * sizeof *values);
    uint64_t x = 88172645463325252ull; /* xorshift: same stream as the C++ side */
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        values[i] = 10000 + (x % 5000000);
    }
    static uint64_t counts[64];
    const uint64_t start = now_ns();
    for (size_t i = 0; i < n; ++i) counts[63 - __builtin_clzll(values[i] | 1)]++;
    const uint64_t end = now_ns();
    uint64_t total = 0;
    for (int i = 0; i < 64; ++i) total += counts[i];
    printf("floor_record_ns %.3f total %llu\n", (double)(end - start) / (double)n, (unsigned long long)total);
    free(values);
    return total == n ? 0 : 1;
}
