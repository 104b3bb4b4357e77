/* resolve.h: address lists and the helpers behind the "resolve" check (check_resolve.c),
 * shared with the checks that reason about addresses. */
#ifndef PT_DOCTOR_RESOLVE_H
#define PT_DOCTOR_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#define PT_DR_ADDRS_MAX 16

typedef struct pt_dr_addr {
    int family;               /* AF_INET or AF_INET6 */
    unsigned char addr[16];   /* network order; 4 bytes used for AF_INET */
    char text[46];
} pt_dr_addr;

typedef struct pt_dr_addrlist {
    pt_dr_addr v[PT_DR_ADDRS_MAX];
    size_t n;
} pt_dr_addrlist;

/* "localhost", "localhost." and "*.localhost" (RFC 6761), which curl and browsers answer
 * themselves. */
bool pt__dr_is_localhost_name(const char *host);
/* Appends the addresses a hosts(5) file gives host, in file order. Returns 0 or -errno. */
int pt__dr_hosts_lookup(const char *path, const char *host, pt_dr_addrlist *out);

#endif
