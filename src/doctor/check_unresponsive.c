/* check_unresponsive.c: the doctor's "unresponsive" check (placeholder until implemented: it skips, never passes). */
#include "check.h"

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    (void)ctx;
    pt_dr_skip(res, "not implemented yet");
}

const pt_dr_check pt_dr_check_unresponsive = {
    .id = "unresponsive",
    .title = "Accepts but never answers",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
