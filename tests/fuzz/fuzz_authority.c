/* fuzz_authority.c: the Host / authority checker (http/request.c) on arbitrary bytes. Beyond
 * not crashing, what it accepts must hold: the host is a piece of the input made only of the
 * bytes a host name (or a bracketed IPv6 address) may hold, and the port is 1..65535. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/request.h"

static int allowed(unsigned char ch, int ipv6)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.')
        return 1;
    return ipv6 ? ch == ':' : (ch == '-' || ch == '_' || ch == '~');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_slice in = pt_slice_from((const char *)data, size);
    pt_authority a;
    pt_authority_err e = pt_authority_parse(in, &a);
    if (e == PT_AUTH_BAD_CHAR && !memchr(data, a.bad, size)) __builtin_trap();
    if (e != PT_AUTH_OK) return 0;
    if (a.port != -1 && (a.port < 1 || a.port > 65535)) __builtin_trap();
    if (a.host.len > PT_AUTHORITY_HOST_MAX) __builtin_trap();
    if (a.host.len && (a.host.ptr < in.ptr || a.host.ptr + a.host.len > in.ptr + in.len)) __builtin_trap();
    for (size_t i = 0; i < a.host.len; i++)
        if (!allowed((unsigned char)a.host.ptr[i], a.ipv6)) __builtin_trap();
    return 0;
}
