/* fuzz_h2_server.c: HTTP/2 on a captured server connection: the client preface, then
 * arbitrary frames (nghttp2's parser, the streams' request heads, bodies, limits, resets,
 * GOAWAY), delivered in pieces whose size the input chooses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/http/server_harness.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        harness_init(2048, 4096);
        ready = 1;
    }
    if (size == 0) return 0;
    size_t step = data[0] % 17; /* 0 = all at once */
    size_t n = sizeof preface - 1 + size - 1;
    char *in = malloc(n);
    if (!in) return 0;
    memcpy(in, preface, sizeof preface - 1);
    memcpy(in + sizeof preface - 1, data + 1, size - 1);
    pt_buf out = harness_run(in, n, step, 0);
    pt_buf_release(&out);
    free(in);
    return 0;
}
