/* netmask.h: address blocks ("10.0.0.0/8", "::1", "192.0.2.7"): parsed once, then matched
 * against a peer's address. Used for the proxies whose forwarding headers are believed. */
#ifndef PT_CORE_NETMASK_H
#define PT_CORE_NETMASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pt_netmask {
    bool v6;
    uint8_t addr[16];  /* the block's address, bits past the prefix cleared */
    unsigned bits;     /* prefix length: 0..32 (IPv4) or 0..128 (IPv6) */
} pt_netmask;

/* Parses an address or ADDRESS/BITS into *out. 0, or -1 with a sentence in why. */
int pt_netmask_parse(const char *s, pt_netmask *out, char *why, size_t cap);

/* Whether addr (an IPv4 or IPv6 address as text, "[::1]" accepted; an IPv4-mapped IPv6
 * address counts as its IPv4 address) is inside one of the n blocks. False for anything
 * that is not an address. */
bool pt_netmask_any(const pt_netmask *m, size_t n, const char *addr);

#endif
