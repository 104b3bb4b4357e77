/* err.c: names and messages for the PT_ERRNO_MAP table. */
#include "core/err.h"

const char *pt_strerror(int err)
{
    switch (err) {
    case 0: return "success";
#define PT_ERR_MSG(name, val, msg) case PT_##name: return msg;
        PT_ERRNO_MAP(PT_ERR_MSG)
#undef PT_ERR_MSG
    }
    return "unknown error";
}

const char *pt_errname(int err)
{
    switch (err) {
    case 0: return "OK";
#define PT_ERR_NAME(name, val, msg) case PT_##name: return #name;
        PT_ERRNO_MAP(PT_ERR_NAME)
#undef PT_ERR_NAME
    }
    return "EUNKNOWN";
}
