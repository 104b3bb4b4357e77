/* openapi.h: the admin API's own description (OpenAPI 3.1), served at
 * /admin/v1/openapi.json without a token. */
#ifndef PT_ADMIN_OPENAPI_H
#define PT_ADMIN_OPENAPI_H

#include <jansson.h>

/* A new document (the caller decrefs), or NULL when out of memory. */
json_t *pt_admin_openapi(void);

#endif
