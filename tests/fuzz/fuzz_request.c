/* fuzz_request.c: the server's request parsing (llhttp glue, limits, smuggling checks,
 * pipelining) on arbitrary bytes, delivered in pieces whose size the input chooses. */
#include <stddef.h>
#include <stdint.h>

#include "../unit/http/server_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        harness_init(2048, 4096);
        ready = 1;
    }
    if (size == 0) return 0;
    size_t step = data[0] % 17; /* 0 = all at once */
    pt_buf out = harness_run((const char *)data + 1, size - 1, step, 0);
    pt_buf_release(&out);
    return 0;
}
