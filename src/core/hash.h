/* hash.h: the one 64-bit hash of a byte string, for in-memory tables (the call log's name
 * cache, the rollups' cells, the local rate counters) and for the call log's chunk filters,
 * which store its values: it must not change.
 *
 * 8 bytes a step, multiplied and folded, the tail as one word, then mixed. Not for anything
 * an attacker must not collide: tables that take keys from requests compare keys whole. */
#ifndef PT_CORE_HASH_H
#define PT_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The last n < 8 bytes at s as a little-endian word: two overlapping loads (n >= 4) or
 * three bytes (n < 4) put every byte where the byte loop would. */
static inline uint64_t pt__hash_tail(const char *s, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        return (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    }
    if (!n) return 0;
    return (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[n / 2] << (8 * (n / 2)) |
           (uint64_t)(uint8_t)s[n - 1] << (8 * (n - 1));
#else
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)(uint8_t)s[i] << (8 * i);
    return w;
#endif
}

static inline uint64_t pt_hash_bytes(const void *p, size_t n)
{
    const char *s = p;
    const uint64_t m = 0x9e3779b97f4a7c15ULL;
    uint64_t h = (uint64_t)n * m, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * m;
        h ^= h >> 32;
    }
    h = (h ^ pt__hash_tail(s, n)) * m;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

#endif
