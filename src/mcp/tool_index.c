/* tool_index.c: the tools each MCP server last listed (see tool_index.h). Lists are kept as
 * JSON text under one lock, so no JSON value is shared between threads. */
#include "mcp/tool_index.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *server;
    char *text;        /* the array, serialized */
    int64_t listed_ms;
    struct entry *next;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries; /* kept for the process's life: one per server name ever listed */

static entry *find(const char *server)
{
    for (entry *e = entries; e; e = e->next)
        if (strcmp(e->server, server) == 0) return e;
    return NULL;
}

void pt_mcp_tool_index_put(const char *server, const json_t *tools, int64_t now_ms)
{
    char *text = json_is_array(tools) ? json_dumps(tools, JSON_COMPACT) : NULL;
    if (!text) return;
    pthread_mutex_lock(&lock);
    entry *e = find(server);
    if (!e && (e = calloc(1, sizeof *e))) {
        if ((e->server = strdup(server))) {
            e->next = entries;
            entries = e;
        } else {
            free(e);
            e = NULL;
        }
    }
    if (e) {
        free(e->text);
        e->text = text;
        e->listed_ms = now_ms;
        text = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(text);
}

int pt_mcp_tool_index_get(const char *server, json_t **tools, int64_t *listed_ms)
{
    *tools = NULL;
    pthread_mutex_lock(&lock);
    entry *e = find(server);
    if (e) {
        *tools = json_loads(e->text, 0, NULL);
        *listed_ms = e->listed_ms;
    }
    pthread_mutex_unlock(&lock);
    return *tools ? 0 : -1;
}
