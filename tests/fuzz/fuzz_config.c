/* fuzz_config.c: libFuzzer harness for the configuration loader (YAML tree, key tables,
 * ${} expansion, addresses, units, the AI sections). Every input must give a snapshot or
 * error lines that each name the file, never a crash or a leak; mapping goes on after
 * an error, so half-filled sections are exercised too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pt_log_set_level(PT_LOG_OFF); /* insecure_skip_verify warnings would flood the run */
    setenv("PORTICO_FUZZ_HOST", "127.0.0.1", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("fuzz.yaml", (const char *)data, size, &err);
    if (!cfg && (!err.data || err.len == 0)) abort(); /* a failure always says why */
    for (const char *line = err.data; !cfg && line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, "fuzz.yaml", 9) != 0) abort(); /* ... line by line, naming the file */
    pt_config_release(cfg);
    pt_buf_release(&err);
    /* No snapshot is alive now, so the interned target states can go: keeps RSS flat. */
    pt_target_registry_free();
    return 0;
}
