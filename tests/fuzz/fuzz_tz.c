/* fuzz_tz.c: libFuzzer harness for TZif zone files (headers, both transition tables, the
 * footer rule) and the offsets and windows read from what they give. */
#include <stddef.h>
#include <stdint.h>

#include "limits/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_tz *z = pt_tz_parse(data, size);
    if (!z) return 0;
    static const int64_t times[] = { INT32_MIN, -1, 0, 1774746000, 2216250000, 253402300799 };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        int64_t end;
        (void)pt_tz_offset(z, times[i]);
        (void)pt_tz_window(z, times[i], PT_TZ_DAY, &end);
        (void)pt_tz_window(z, times[i], PT_TZ_MONTH, &end);
    }
    pt_tz_free(z);
    return 0;
}
