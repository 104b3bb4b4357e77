/* sysinfo.h: small readings of this machine for the doctor's checks: numbers from /proc and
 * /sys, capabilities, the systemd unit or container of a process. */
#ifndef PT_DOCTOR_SYSINFO_H
#define PT_DOCTOR_SYSINFO_H

#include <stdbool.h>
#include <stddef.h>

/* The first number in a file, or -1. */
long pt_dr_read_long(const char *path);
/* Is capability bit cap in this process's effective set (/proc/self/status CapEff)? */
bool pt_dr_has_cap(int cap);
/* What pid runs in, from /proc/PID/cgroup: a systemd unit ("nginx.service") or a Docker
 * container (its short id), written to out; PT_DR_UNIT_NONE when neither. */
enum { PT_DR_UNIT_NONE, PT_DR_UNIT_SYSTEMD, PT_DR_UNIT_DOCKER };
int pt_dr_proc_unit(int pid, char *out, size_t n);

#endif
