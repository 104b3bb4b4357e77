/* firewall.h: the rule walkers behind the "firewall" check (check_firewall.c), exposed for
 * tests. */
#ifndef PT_DOCTOR_FIREWALL_H
#define PT_DOCTOR_FIREWALL_H

#include <jansson.h>
#include <stdbool.h>

/* The packet a local client sends: tcp from daddr's own family to daddr:dport over ifname. */
typedef struct pt_dr_fw_packet {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char daddr[16], saddr[16];
    unsigned dport;
    char ifname[16];            /* "lo" for a connection made on this host; "" when unknown
                                 * (a remote target: the route decides), as is saddr then */
    bool saddr_known;
} pt_dr_fw_packet;

/* Walks the base chains of an `nft -j list ruleset` document that see the packet; appends the
 * rule (or drop policy) each chain ends in when that is drop/reject to found, and rules that
 * may drop it (matches we could not evaluate) to maybe. Returns the number of rules, or -1
 * when doc is not nft JSON. */
int pt__dr_nft_evaluate(json_t *doc, const pt_dr_fw_packet *p, json_t *found, json_t *maybe);
/* Scans iptables-save output for DROP/REJECT rules aimed at the packet's port or interface and
 * DROP policies of INPUT/OUTPUT. Returns the number of rules. */
int pt__dr_iptables_evaluate(const char *save, const pt_dr_fw_packet *p, json_t *found);

#endif
