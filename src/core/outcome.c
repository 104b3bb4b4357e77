/* outcome.c: the columns of the PT_OUTCOME_MAP table. */
#include "core/outcome.h"

#include <string.h>

typedef struct row {
    int status;
    const char *log, *label;
} row;

static const row rows[PT_OUTCOME_COUNT] = {
#define PT_OUTCOME_ROW(name, status, log, label) { status, log, label },
    PT_OUTCOME_MAP(PT_OUTCOME_ROW)
#undef PT_OUTCOME_ROW
};

static const row *get(pt_outcome o)
{
    return (unsigned)o < PT_OUTCOME_COUNT ? &rows[o] : NULL;
}

int pt_outcome_status(pt_outcome o)
{
    const row *r = get(o);
    return r ? r->status : 500;
}

const char *pt_outcome_log_name(pt_outcome o)
{
    const row *r = get(o);
    return r ? r->log : "unknown";
}

const char *pt_outcome_metric_label(pt_outcome o)
{
    const row *r = get(o);
    return r ? r->label : "unknown";
}

bool pt_outcome_label_first(pt_outcome o)
{
    const row *r = get(o);
    if (!r) return false;
    for (unsigned i = 0; i < (unsigned)o; i++)
        if (strcmp(rows[i].label, r->label) == 0) return false;
    return true;
}
