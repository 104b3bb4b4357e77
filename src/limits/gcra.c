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
    pt_gcra_take_n(g, tat, now, 1, out);
}

void pt_gcra_take_n(const pt_gcra *g, uint64_t tat, uint64_t now, uint64_t n, pt_gcra_result *out)
{
    uint64_t cost = (n ? n : 1) * g->interval_ns;
    uint64_t start = tat > now ? tat : now;
    uint64_t owed = start - now; /* how far ahead of now the window is booked */
    uint64_t room = g->tolerance_ns + g->interval_ns; /* the whole window */
    if (owed + cost > room) {
        *out = (pt_gcra_result){
            .allowed = false,
            .tat = tat,
            .remaining = 0,
            .retry_ns = cost > room ? owed + 1 : owed + cost - room,
            .reset_ns = owed,
        };
        return;
    }
    uint64_t next = start + cost;
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

uint64_t pt_gcra_adjust(const pt_gcra *g, uint64_t tat, uint64_t now, int64_t delta)
{
    uint64_t start = tat > now ? tat : now;
    if (delta >= 0) return start + (uint64_t)delta * g->interval_ns;
    uint64_t back = (uint64_t)-delta * g->interval_ns;
    if (tat <= now) return tat;
    return tat - now > back ? tat - back : now;
}
