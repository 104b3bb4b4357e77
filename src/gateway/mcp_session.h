/* mcp_session.h: the MCP endpoints' sessions, process-wide so that any worker may serve any
 * request of a session: what the client said it can answer, and the session's GET stream as
 * numbered events kept for replay (Last-Event-ID).
 *
 * A session's stream exists from its first GET on and outlives the connections that read it:
 * a server's message for it is kept (the newest PT_MCP_REPLAY_EVENTS, at most
 * PT_MCP_REPLAY_BYTES) whether or not a client is reading, and a GET that names the last event
 * it saw gets the ones after it. Event ids are "g<n>", n counting from 1 per session. */
#ifndef PT_GATEWAY_MCP_SESSION_H
#define PT_GATEWAY_MCP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/slice.h"

/* What a client said it can answer at initialize (the server requests relayed to it). */
#define PT_MCP_CAN_SAMPLE 1u
#define PT_MCP_CAN_ELICIT 2u
#define PT_MCP_CAN_ROOTS 4u

#define PT_MCP_REPLAY_EVENTS 64
#define PT_MCP_REPLAY_BYTES (1u << 20)

/* A new session of server ("" for /mcp) into id (32 hex digits); false when the table is full
 * or out of memory. */
bool pt__mcp_session_new(const char *server, unsigned caps, char id[33]);

/* Whom session id belongs to, set once as it is made: its transport (the 2024-11-05 HTTP+SSE
 * one when legacy, else Streamable HTTP) and the consumer whose key made it ("" without a key).
 * A request that names a session of the other transport or of another consumer is refused as if
 * the session did not exist: a session id is not a key to another client's calls. */
void pt__mcp_session_bind(const char *id, bool legacy, const char *consumer);
/* Whether id is a live session of that transport made by consumer. */
bool pt__mcp_session_held(pt_slice id, bool legacy, const char *consumer);

/* Whether id is a live session of server; touches it, or ends it when drop. *caps (may be
 * NULL) gets what its client can answer. */
bool pt__mcp_session_use(pt_slice id, const char *server, bool drop, unsigned *caps);

/* A GET stream of session id (of server) opens: *cursor gets the last event it has seen, the
 * one last_event_id names (NULL: the newest, so nothing is replayed). 0, or -1 for an unknown
 * session, -2 for a last_event_id that names no event of this session's stream. */
int pt__mcp_stream_open(pt_slice id, const char *server, const pt_slice *last_event_id, uint64_t *cursor,
                        unsigned *caps);

/* Keeps a server's message as the next event of every session that opened a stream: text for
 * the sessions of /mcp/<server>, aggregate_text (NULL: none) for those of /mcp. Returns how
 * many streams got it. */
size_t pt__mcp_stream_publish(const char *server, const char *text, const char *aggregate_text);

/* Session id's client subscribes to resource uri of server (on) or stops (off): the gateway
 * holds one session with each server for all its clients, so it keeps who watches what. A
 * session of /mcp watches resources of any server, one of /mcp/<server> of that server alone.
 *
 * It also keeps which hubs (workers) told their instance of the server to subscribe, so that
 * each is told to stop once no session watches the resource, on whichever worker the last
 * unsubscribe or the session's end happens. w names the caller's hub; shared says that one
 * subscription serves every hub (a server over HTTP sends its updates once whichever session
 * of the gateway's subscribed; a stdio server runs a child per worker). *relay says whether
 * the caller's instance gets the client's message: a subscribe when it has not subscribed yet
 * (and, shared, no other has); an unsubscribe when no session watches the resource any more
 * and this instance subscribed to it (or none did). The other instances that subscribed get
 * resources/unsubscribe through pt__mcp_session_on_unwatch's function, as do those whose last
 * watching session ends (DELETE, idle expiry).
 *
 * Returns how many sessions (of either endpoint) watch server's uri afterwards, or -1 (an
 * unknown session, another server's, more than PT_MCP_WATCH_MAX resources, out of memory). */
#define PT_MCP_WATCH_MAX 256
typedef struct pt_mcp_watcher {
    uint64_t hub;
    bool shared;
} pt_mcp_watcher;
int pt__mcp_session_watch(const char *id, const char *server, const char *uri, bool on, pt_mcp_watcher w, bool *relay);

/* The server refused the subscribe hub relayed for session id: neither the session watches
 * the resource nor the hub's instance holds it. */
void pt__mcp_session_watch_refused(const char *id, const char *server, const char *uri, uint64_t hub);

/* The URIs of server's resources hub's instance subscribed to, into *uris (malloc'd, each
 * too; NULL when none): a new session with the server, after a restart, subscribes again. */
size_t pt__mcp_session_held_uris(uint64_t hub, const char *server, char ***uris);

/* Tells hub that no session watches server's uri any more; called from any thread, never
 * under the sessions' lock. */
typedef void (*pt_mcp_unwatch_fn)(uint64_t hub, const char *server, const char *uri);
void pt__mcp_session_on_unwatch(pt_mcp_unwatch_fn fn);
/* The hub is gone (its instances with it): it holds no subscription any more. */
void pt__mcp_session_forget_hub(uint64_t hub);

/* Keeps text as the next event of every session that watches server's uri and opened a
 * stream (notifications/resources/updated; resource URIs are the same on /mcp). Returns how
 * many streams got it. */
size_t pt__mcp_stream_publish_watched(const char *server, const char *uri, const char *text);

/* Keeps text as the next event of session id's stream alone (the legacy HTTP+SSE transport
 * carries every answer on it). False when the session has ended or is out of memory. */
bool pt__mcp_stream_push(const char *id, const char *text);

/* What the client of session id can answer, once its initialize says (legacy HTTP+SSE: the
 * session exists before it). */
void pt__mcp_session_set_caps(const char *id, unsigned caps);

/* Appends the events of session id after *cursor to out as event-stream text (each with its
 * id) and moves *cursor past them. An event that was dropped meanwhile (over the replay
 * bounds) is skipped. False when the session has ended. */
bool pt__mcp_stream_read(const char *id, uint64_t *cursor, pt_buf *out);

/* Ends every session (tests). */
void pt__mcp_sessions_reset(void);

#endif
