/* netprobe.h: TCP connect probes for the doctor: every address at once, non-blocking, each
 * within a deadline, with the errno and the time it took. Used by the "connect" check and to
 * see whether a configured proxy answers. */
#ifndef PT_DOCTOR_NETPROBE_H
#define PT_DOCTOR_NETPROBE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pt_dr_conn {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network order */
    uint16_t port;
    const char *result;      /* "connected" | "refused" | "timeout" | "reset" | "unreachable" |
                              * "addr_not_avail" | "error" */
    int err;                 /* errno (ETIMEDOUT for our own deadline), 0 when connected */
    double ms;               /* time to the outcome */
} pt_dr_conn;

/* Starts every connect at once and waits for all of them, at most timeout_ms in all; closes
 * the sockets (a connected probe is closed at once, sending nothing). */
void pt_dr_connect_all(pt_dr_conn *v, size_t n, unsigned timeout_ms);
/* Maps a connect errno to the result names above. */
const char *pt_dr_connect_class(int err);

#endif
