/* gcra.c: the generic cell rate algorithm's arithmetic (see gcra.h). */
#include "limits/gcra.h"

pt_gcra pt_gcra_make(uint64_t requests, uint64_t per_ns, uint64_t burst)
{
    if (requests == 0) requests = 1;
    if (burst == 0) burst = requests;
    uint64_t t = per_ns / requests;
    if (t == 0) t = 1;
    return (pt_gcra){ .interval_ns = t, .tolerance_ns = (burst - 1) * t };
}

void pt_gcra_take(const pt_gcra *g, uint64_t tat, uint64_t now, pt_gcra_result *out)
{
    uint64_t start = tat > now ? tat : now;
    uint64_t owed = start - now; /* how far ahead of now the window is booked */
    if (owed > g->tolerance_ns) {
        *out = (pt_gcra_result){
            .allowed = false,
            .tat = tat,
            .remaining = 0,
            .retry_ns = owed - g->tolerance_ns,
            .reset_ns = owed,
        };
        return;
    }
    uint64_t next = start + g->interval_ns;
    uint64_t ahead = next - now;
    *out = (pt_gcra_result){
        .allowed = true,
        .tat = next,
        .remaining = ahead > g->tolerance_ns ? 0 : (g->tolerance_ns - ahead) / g->interval_ns + 1,
        .retry_ns = 0,
        .reset_ns = ahead,
    };
}

uint64_t pt_gcra_give_back(const pt_gcra *g, uint64_t tat, uint64_t now)
{
    if (tat <= now) return tat;
    return tat - now > g->interval_ns ? tat - g->interval_ns : now;
}
