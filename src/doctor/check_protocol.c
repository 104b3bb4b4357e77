/* check_protocol.c: the doctor's "protocol" check (placeholder until implemented: it skips, never passes). */
#include "check.h"

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    (void)ctx;
    pt_dr_skip(res, "not implemented yet");
}

const pt_dr_check pt_dr_check_protocol = {
    .id = "protocol",
    .title = "What answers on the port",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
