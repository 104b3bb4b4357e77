/* sockowner.c: the owner of a listening TCP port, through /proc (see sockowner.h). */
#include "core/sockowner.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INODES 16
#define TCP_LISTEN 0x0A

/* Appends the inodes of the LISTEN sockets on port found in one /proc/net/tcp-format file. */
static size_t listen_inodes(const char *path, uint16_t port, uint64_t *ino, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f) return n;
    char line[512];
    while (n < MAX_INODES && fgets(line, sizeof line, f)) {
        char local[64];
        unsigned st;
        unsigned long long inode;
        if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %llu", local, &st, &inode) != 3) continue;
        const char *colon = strrchr(local, ':');
        if (!colon || st != TCP_LISTEN || strtoul(colon + 1, NULL, 16) != port || inode == 0) continue;
        ino[n++] = inode;
    }
    fclose(f);
    return n;
}

static bool holds_inode(int pid, const uint64_t *ino, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d) return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char link[64];
        ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
        if (len <= 8 || memcmp(link, "socket:[", 8) != 0) continue;
        link[len] = '\0';
        uint64_t x = strtoull(link + 8, NULL, 10);
        for (size_t i = 0; i < n && !found; i++) found = ino[i] == x;
    }
    closedir(d);
    return found;
}

static void read_cmdline(int pid, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t got = read(fd, out, cap - 1);
    close(fd);
    if (got <= 0) got = 0;
    out[got] = '\0';
    for (ssize_t i = 0; i < got; i++)
        if (out[i] == '\0' || out[i] == '\n') out[i] = ' ';
    while (got > 0 && out[got - 1] == ' ') out[--got] = '\0';
}

int pt_sock_owner(uint16_t port, char *cmd, size_t cmdcap)
{
    uint64_t ino[MAX_INODES];
    size_t n = listen_inodes("/proc/net/tcp", port, ino, 0);
    n = listen_inodes("/proc/net/tcp6", port, ino, n);
    if (cmdcap) cmd[0] = '\0';
    if (n == 0) return 0;
    DIR *proc = opendir("/proc");
    if (!proc) return 0;
    int best = 0;
    struct dirent *e;
    while ((e = readdir(proc))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        int pid = atoi(e->d_name);
        if (pid > 0 && (!best || pid < best) && holds_inode(pid, ino, n)) best = pid;
    }
    closedir(proc);
    if (best && cmdcap) read_cmdline(best, cmd, cmdcap);
    return best;
}
