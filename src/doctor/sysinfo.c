/* sysinfo.c: readings of /proc and /sys for the doctor's checks (see sysinfo.h). */
#include "doctor/sysinfo.h"

#include <stdio.h>
#include <string.h>

long pt_dr_read_long(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

bool pt_dr_has_cap(int cap)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return false;
    char line[256];
    unsigned long long eff = 0;
    for (int k = 0; k < 200 && fgets(line, sizeof line, f); k++)
        if (sscanf(line, "CapEff: %llx", &eff) == 1) break;
    fclose(f);
    return cap >= 0 && cap < 64 && ((eff >> cap) & 1);
}

int pt_dr_proc_unit(int pid, char *out, size_t n)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
    FILE *f = fopen(path, "re");
    if (!f) return PT_DR_UNIT_NONE;
    int kind = PT_DR_UNIT_NONE;
    for (int k = 0; k < 64 && kind == PT_DR_UNIT_NONE && fgets(line, sizeof line, f); k++) {
        line[strcspn(line, "\n")] = '\0';
        const char *id = NULL, *d;
        if ((d = strstr(line, "docker-"))) id = d + 7;
        else if ((d = strstr(line, "/docker/"))) id = d + 8;
        if (id) {
            snprintf(out, n, "%.12s", id);
            kind = PT_DR_UNIT_DOCKER;
            break;
        }
        char *svc = strstr(line, ".service");
        if (svc) {
            char *start = svc;
            while (start > line && start[-1] != '/') start--;
            snprintf(out, n, "%.*s", (int)(svc + 8 - start), start);
            /* user@1000.service is the user's whole session, not the server's unit. */
            if (strncmp(out, "user@", 5) != 0) kind = PT_DR_UNIT_SYSTEMD;
        }
    }
    fclose(f);
    return kind;
}
