/* stored.h: the Responses API's stored responses as bytes: which request asks for what,
 * a conversation rebuilt from a stored response for previous_response_id, and the bodies
 * of GET / DELETE /v1/responses/{id} and .../input_items in OpenAI's shapes. No sockets
 * and no store here: the engine (gateway/resp_store.c) keeps the rows, this file only
 * reads and writes their JSON. */
#ifndef PT_AI_STORED_H
#define PT_AI_STORED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/slice.h"

#define PT_AI_RESP_ID_MAX 128

/* What a request under /v1/responses/{id} asks for. */
typedef enum pt_ai_stored_op {
    PT_AI_STORED_GET,         /* GET /responses/{id} */
    PT_AI_STORED_DELETE,      /* DELETE /responses/{id} */
    PT_AI_STORED_INPUT_ITEMS, /* GET /responses/{id}/input_items */
    PT_AI_STORED_OTHER,       /* anything else (cancel, other methods): 404 */
} pt_ai_stored_op;

/* Reads method and path ("[/v1]/responses/{id}[/input_items]", the AI path without the
 * query) into the operation and the id: *raw as it is in the path, copied into id when it
 * fits in cap (else id is ""). */
pt_ai_stored_op pt_ai_stored_parse(pt_slice method, pt_slice path, char *id, size_t cap, pt_slice *raw);

/* Whether id can name a stored response: "resp_" and 1 to 123 of [A-Za-z0-9_-]. */
bool pt_ai_stored_id_ok(const char *id);

/* The members of a Responses request that storing depends on: whether it asks to be
 * stored (store, dflt when absent or null) and its previous_response_id (copied into prev,
 * "" when absent or null). -1 when previous_response_id is there but not a string that
 * fits (the parser reports the body's other faults). */
int pt_ai_stored_request(const char *body, size_t len, bool dflt, bool *store, char *prev, size_t cap);

/* The request body continued from a stored response: previous_response_id set to null
 * and input replaced by the stored input items, then the stored response's output items,
 * then the request's own input (a string input becomes one user message). Every other
 * member is kept byte for byte. -1 when a piece is not what it should be. */
int pt_ai_stored_expand(const char *body, size_t len, const char *prev_input, const char *prev_response,
                        pt_buf *out);

/* The request's input as the array of items to keep ("input": "text" becomes one user
 * message item). -1 when the body has no readable input. */
int pt_ai_stored_input(const char *body, size_t len, pt_buf *out);

/* The answers, each appended to out (OpenAI's shapes). */
int pt_ai_stored_render_deleted(const char *id, pt_buf *out);
/* GET .../input_items: query is the request's query (limit 1..100, default 20; order
 * asc | desc, default desc; after an item id). Returns 200, or 400 with OpenAI's error
 * body written instead (a bad limit or order). Items without an id get
 * "<id>_in_<position>" style ids, message contents as parts. */
int pt_ai_stored_render_input_items(const char *resp_id, const char *input, pt_slice query, pt_buf *out);
/* Errors in OpenAI's error object; each returns its status. */
int pt_ai_stored_not_found(const char *id, pt_buf *out);                 /* 404 */
int pt_ai_stored_bad_id(const char *param, pt_slice id, pt_buf *out);    /* 400 */
int pt_ai_stored_prev_not_found(const char *id, pt_buf *out);            /* 400 previous_response_not_found */
int pt_ai_stored_unavailable(pt_buf *out);                               /* 503 */

#endif
