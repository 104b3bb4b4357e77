/* rand.c: per-thread xorshift64* (see rand.h). */
#include "core/rand.h"

#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t state;

uint64_t pt_rand64(void)
{
    uint64_t x = state;
    if (x == 0) {
        if (getrandom(&x, sizeof x, GRND_NONBLOCK) != sizeof x || x == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            x = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)(uintptr_t)&state;
            if (x == 0) x = 0x9E3779B97F4A7C15ull;
        }
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
