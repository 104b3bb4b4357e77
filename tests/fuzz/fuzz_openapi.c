/* fuzz_openapi.c: libFuzzer harness for the OpenAPI import (admin/oas.c): a document (JSON
 * or YAML) parsed, its $refs resolved, normalised; what it accepts must compile for the
 * gateway's request validator and export to a document that imports to the same operations.
 * Every input is accepted or refused with a 400 naming a place, never a crash, a leak or a
 * hang (cyclic and fanning $refs included). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/oas.h"
#include "gateway/validate_gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const json_t *doc)
{
    char why[256];
    char *text = json_dumps(doc, JSON_COMPACT);
    pt_validate *v = text ? pt_validate_compile(text, why, sizeof why) : NULL;
    if (text && !v) abort(); /* accepted operations always compile */
    pt_validate_free(v);
    free(text);
    json_t *apis = json_pack("[{s:s,s:O}]", "path_prefix", "/", "openapi", doc);
    json_t *out = pt_oas_export("fuzz", apis);
    char *exported = out ? json_dumps(out, JSON_COMPACT) : NULL, *server = NULL;
    json_t *again = NULL;
    pt_admin_err e = {0};
    if (exported && pt_oas_import(exported, strlen(exported), &again, &server, &e) == 0 &&
        !json_equal(json_object_get(doc, "operations"), json_object_get(again, "operations")))
        abort(); /* an export imports back to the same operations */
    json_decref(again);
    free(server);
    free(exported);
    json_decref(out);
    json_decref(apis);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = NULL;
    char *server = NULL;
    pt_admin_err e = {0};
    int rc = pt_oas_import((const char *)data, size, &doc, &server, &e);
    if (rc != 0 && (e.status != 400 || !e.message[0])) abort(); /* a refusal says why */
    if (rc == 0 && (!doc || !server)) abort();
    if (rc == 0) round_trip(doc);
    json_decref(doc);
    free(server);
    return 0;
}
