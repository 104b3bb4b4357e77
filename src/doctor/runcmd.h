/* runcmd.h: run a read-only system command (nft, iptables-save) with a deadline and a cap on
 * what it prints, for checks that can only learn something through such a tool. */
#ifndef PT_DOCTOR_RUNCMD_H
#define PT_DOCTOR_RUNCMD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pt_dr_cmd {
    char *out;        /* stdout, NUL-terminated (malloc'd; free it), NULL if nothing ran */
    size_t len;
    char err[512];    /* first bytes of stderr, trimmed */
    int status;       /* exit status, or -1 when killed at the deadline or not started */
    bool timed_out;
    bool truncated;   /* stdout passed the cap */
} pt_dr_cmd;

/* Finds name on PATH, then in /usr/sbin and /sbin (often absent from a user's PATH). Writes
 * the full path to out and returns true when found. */
bool pt_dr_which(const char *name, char *out, size_t n);
/* Runs argv[0] (a full path) with stdin from /dev/null; kills it at the deadline. */
int pt_dr_run_cmd(char *const argv[], unsigned timeout_ms, size_t cap, pt_dr_cmd *res);

#endif
