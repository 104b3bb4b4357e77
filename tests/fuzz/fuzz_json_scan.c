/* fuzz_json_scan.c: the JSON scanner and skimmer (core/json_scan.c) on arbitrary bytes. Beyond
 * not crashing or reading out of bounds (the input is copied to a buffer of exactly its size):
 * on an object the scanner accepts, the skimmer finds the same members (keys, escapes, value
 * spans), and looking members up by name finds, in one pass, what one lookup per name finds. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_scan.h"

#define MAXF 16

static void check_lookup(const pt_jfield *f, size_t n)
{
    static const pt_jname names[] = { PT_JNAME("usage"), PT_JNAME("model"), PT_JNAME("a"), PT_JNAME("") };
    int at[4];
    unsigned dups = pt_jscan_find_each(f, n, names, 4, at);
    for (size_t j = 0; j < 4; j++) {
        bool dup;
        if (at[j] != pt_jscan_findn(f, n, names[j].s, names[j].len, &dup)) __builtin_trap();
        if (((dups >> j) & 1) != dup) __builtin_trap();
        if (at[j] >= 0 && !pt_jscan_key_is(f[at[j]].key, names[j].s)) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);
    pt_jfield f[MAXF], g[MAXF];
    size_t nf = 0, ng = 0, open, close;
    int src = pt_jscan_object(p, size, 0, f, MAXF, &nf, &open, &close);
    int krc = pt_jscan_skim_object(p, size, g, MAXF, &ng);
    if (krc == 0)
        for (size_t i = 0; i < ng && i < MAXF; i++)
            if (g[i].vstart > g[i].vend || g[i].vend > size) __builtin_trap();
    if (src == 0) {
        if (krc != 0 || ng != nf) __builtin_trap();
        size_t n = nf < MAXF ? nf : MAXF;
        for (size_t i = 0; i < n; i++)
            if (!pt_slice_eq(f[i].key, g[i].key) || f[i].key_escaped != g[i].key_escaped ||
                f[i].vstart != g[i].vstart || f[i].vend != g[i].vend)
                __builtin_trap();
        check_lookup(f, n);
        for (size_t i = 0; i < n; i++) {
            char out[64];
            pt_jscan_string(p, f[i].vstart, f[i].vend, out, sizeof out);
        }
    }
    free(p);
    return 0;
}
