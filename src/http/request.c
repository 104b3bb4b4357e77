/* request.c: lookups over a parsed request head (see request.h). */
#include "http/request.h"

const pt_header *pt_request_header(const pt_request *req, const char *name)
{
    pt_slice want = pt_slice_cstr(name);
    for (unsigned i = 0; i < req->nheaders; i++)
        if (pt_slice_case_eq(req->headers[i].name, want)) return &req->headers[i];
    return NULL;
}
