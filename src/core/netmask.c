/* netmask.c: address blocks and matching (see netmask.h). */
#include "core/netmask.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* addr as 16 bytes; an IPv4 address (or an IPv4-mapped IPv6 one) as 4, v6 false. */
static bool parse_addr(const char *s, size_t n, uint8_t out[16], bool *v6)
{
    char text[64];
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') s++, n -= 2;
    if (n == 0 || n >= sizeof text) return false;
    memcpy(text, s, n);
    text[n] = 0;
    if (inet_pton(AF_INET, text, out) == 1) {
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, text, out) != 1) return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    *v6 = memcmp(out, mapped, sizeof mapped) != 0;
    if (!*v6) memmove(out, out + 12, 4);
    return true;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int pt_netmask_parse(const char *s, pt_netmask *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (!parse_addr(s, n, out->addr, &out->v6)) {
        snprintf(why, cap, "'%.64s' is not an IP address or an ADDRESS/BITS block", s);
        return -1;
    }
    unsigned max = out->v6 ? 128 : 32;
    out->bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > (long)max) {
            snprintf(why, cap, "'%.64s': the prefix length must be 0 to %u", s, max);
            return -1;
        }
        out->bits = (unsigned)b;
    }
    uint8_t clean[16] = {0};
    memcpy(clean, out->addr, (out->bits + 7) / 8);
    if (out->bits % 8) clean[out->bits / 8] &= (uint8_t)(0xff << (8 - out->bits % 8));
    memcpy(out->addr, clean, sizeof clean);
    return 0;
}

bool pt_netmask_any(const pt_netmask *m, size_t n, const char *addr)
{
    uint8_t a[16];
    bool v6;
    if (!addr || !parse_addr(addr, strlen(addr), a, &v6)) return false;
    for (size_t i = 0; i < n; i++)
        if (m[i].v6 == v6 && prefix_equal(m[i].addr, a, m[i].bits)) return true;
    return false;
}
