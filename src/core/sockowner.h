/* sockowner.h: which process holds a listening TCP port, for "address in use by pid N"
 * messages. Reads /proc/net/tcp{,6} and the socket:[INODE] links in /proc/PID/fd, as
 * `ss -p` does; another user's processes stay hidden without privilege. */
#ifndef PT_CORE_SOCKOWNER_H
#define PT_CORE_SOCKOWNER_H

#include <stddef.h>
#include <stdint.h>

/* Finds the lowest pid (usually the parent of a forking server) holding a socket that
 * listens on port, IPv4 or IPv6. Returns the pid and writes its command line (arguments
 * joined by spaces, cut to fit) into cmd, or 0 when no owner could be read. */
int pt_sock_owner(uint16_t port, char *cmd, size_t cmdcap);

#endif
