/* Unit tests for gateway/mcp_session.c: sessions found by id and endpoint, and a session's GET
 * stream as numbered events: kept only once a stream was opened, replayed after the
 * Last-Event-ID a client names, bounded, and gone with the session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/mcp_session.h"

static int reset(void **state)
{
    (void)state;
    pt__mcp_sessions_reset();
    return 0;
}

/* The events of sid after *cursor, as the stream would carry them. */
static char *read_after(const char *sid, uint64_t *cursor, char *out, size_t n)
{
    pt_buf b = PT_BUF_INIT;
    assert_true(pt__mcp_stream_read(sid, cursor, &b));
    snprintf(out, n, "%.*s", (int)b.len, b.data ? b.data : "");
    pt_buf_release(&b);
    return out;
}

static void sessions_belong_to_their_endpoint(void **state)
{
    (void)state;
    char id[33];
    unsigned caps = 0;
    assert_true(pt__mcp_session_new("files", PT_MCP_CAN_SAMPLE | PT_MCP_CAN_ROOTS, id));
    assert_int_equal(strlen(id), 32);
    assert_true(pt__mcp_session_use(pt_slice_cstr(id), "files", false, &caps));
    assert_int_equal(caps, PT_MCP_CAN_SAMPLE | PT_MCP_CAN_ROOTS);
    assert_false(pt__mcp_session_use(pt_slice_cstr(id), "", false, NULL)); /* not a session of /mcp */
    assert_true(pt__mcp_session_use(pt_slice_cstr(id), "files", true, NULL));
    assert_false(pt__mcp_session_use(pt_slice_cstr(id), "files", false, NULL)); /* ended */
}

static void sessions_belong_to_their_transport_and_consumer(void **state)
{
    (void)state;
    char legacy[33], streamable[33], keyless[33];
    assert_true(pt__mcp_session_new("files", 0, legacy));
    assert_true(pt__mcp_session_new("files", 0, streamable));
    assert_true(pt__mcp_session_new("files", 0, keyless));
    pt__mcp_session_bind(legacy, true, "app1");
    pt__mcp_session_bind(streamable, false, "app1");
    pt__mcp_session_bind(keyless, false, "");
    assert_true(pt__mcp_session_held(pt_slice_cstr(legacy), true, "app1"));
    assert_false(pt__mcp_session_held(pt_slice_cstr(legacy), false, "app1"));    /* the other transport */
    assert_false(pt__mcp_session_held(pt_slice_cstr(legacy), true, "app3"));     /* another consumer */
    assert_true(pt__mcp_session_held(pt_slice_cstr(streamable), false, "app1"));
    assert_false(pt__mcp_session_held(pt_slice_cstr(streamable), true, "app1"));
    assert_false(pt__mcp_session_held(pt_slice_cstr(streamable), false, ""));    /* no key is not app1's key */
    assert_true(pt__mcp_session_held(pt_slice_cstr(keyless), false, ""));
    assert_false(pt__mcp_session_held(pt_slice_cstr(keyless), false, "app1"));
    assert_false(pt__mcp_session_held(pt_slice_cstr("nosuchsession"), false, ""));
    char longname[100];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    pt__mcp_session_bind(keyless, false, longname); /* cut when kept: never matches whole */
    assert_false(pt__mcp_session_held(pt_slice_cstr(keyless), false, longname));
}

/* A watch by hub 1 of an HTTP server (one subscription serves every hub). */
static int watch(const char *id, const char *server, const char *uri, bool on)
{
    bool relay;
    return pt__mcp_session_watch(id, server, uri, on, (pt_mcp_watcher){ 1, true }, &relay);
}

/* What the hubs were told to stop watching, as "hub server uri;" each. */
static char told[512];
static void record_unwatch(uint64_t hub, const char *server, const char *uri)
{
    size_t n = strlen(told);
    snprintf(told + n, sizeof told - n, "%llu %s %s;", (unsigned long long)hub, server, uri);
}

static bool hub_watch(const char *id, const char *uri, bool on, uint64_t hub, bool shared, int left)
{
    bool relay;
    assert_int_equal(pt__mcp_session_watch(id, "files", uri, on, (pt_mcp_watcher){ hub, shared }, &relay), left);
    return relay;
}

/* Each hub whose instance subscribed is told to stop once no session watches the resource,
 * whoever unsubscribed last and wherever, or when the last watching session ends. */
static void the_instances_that_subscribed_are_told_when_nobody_watches(void **state)
{
    (void)state;
    char a[33], b[33];
    told[0] = '\0';
    pt__mcp_session_on_unwatch(record_unwatch);
    assert_true(pt__mcp_session_new("files", 0, a));
    assert_true(pt__mcp_session_new("", 0, b));
    /* an HTTP server: one subscription serves both hubs */
    assert_true(hub_watch(a, "test://w", true, 1, true, 1));
    assert_false(hub_watch(b, "test://w", true, 2, true, 2));   /* hub 1 subscribed already */
    assert_false(hub_watch(a, "test://w", true, 1, true, 2));   /* twice is once */
    assert_false(hub_watch(a, "test://w", false, 2, true, 1));  /* b still watches */
    assert_false(hub_watch(b, "test://w", false, 2, true, 0));  /* hub 1's instance is told instead */
    assert_string_equal(told, "1 files test://w;");
    told[0] = '\0';
    assert_true(hub_watch(a, "test://w", true, 2, true, 1));
    assert_true(hub_watch(a, "test://w", false, 2, true, 0));   /* its own instance gets the client's */
    assert_string_equal(told, "");
    assert_true(hub_watch(a, "test://never", false, 1, true, 0)); /* nobody subscribed: relayed as it is */
    /* a stdio server: each hub's child subscribes; a session's end tells both */
    assert_true(hub_watch(a, "test://s", true, 1, false, 1));
    assert_true(hub_watch(b, "test://s", true, 2, false, 2));
    assert_false(hub_watch(b, "test://s", true, 2, false, 2));
    assert_false(hub_watch(b, "test://s", false, 1, false, 1));
    assert_string_equal(told, "");
    assert_true(pt__mcp_session_use(pt_slice_cstr(a), "files", true, NULL));
    assert_true(strcmp(told, "1 files test://s;2 files test://s;") == 0 || strcmp(told, "2 files test://s;1 files test://s;") == 0);
    /* a hub that is gone holds nothing: the next subscriber subscribes */
    told[0] = '\0';
    assert_true(hub_watch(b, "test://h", true, 3, true, 1));
    pt__mcp_session_forget_hub(3);
    assert_true(hub_watch(b, "test://h", true, 4, true, 1));
    char **uris; /* what a new session with the server subscribes to again */
    assert_int_equal(pt__mcp_session_held_uris(4, "files", &uris), 1);
    assert_string_equal(uris[0], "test://h");
    free(uris[0]);
    free(uris);
    assert_int_equal(pt__mcp_session_held_uris(4, "file", &uris), 0);
    free(uris);
    /* a subscribe the server refused: the next one is relayed again, and nobody is told */
    assert_true(hub_watch(b, "test://bad", true, 4, true, 1));
    pt__mcp_session_watch_refused(b, "files", "test://bad", 4);
    assert_true(hub_watch(b, "test://bad", true, 4, true, 1));
    pt__mcp_session_watch_refused(b, "files", "test://bad", 4);
    assert_true(pt__mcp_session_use(pt_slice_cstr(b), "", true, NULL));
    assert_string_equal(told, "4 files test://h;");
    pt__mcp_session_on_unwatch(NULL);
}

static void resource_updates_reach_the_sessions_that_watch_them(void **state)
{
    (void)state;
    char a[33], b[33], other[33], got[512];
    uint64_t ca, cb, co;
    unsigned caps;
    assert_true(pt__mcp_session_new("files", 0, a));
    assert_true(pt__mcp_session_new("files", 0, b));
    assert_true(pt__mcp_session_new("files", 0, other)); /* streams, never subscribes */
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(a), "files", NULL, &ca, &caps), 0);
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(b), "files", NULL, &cb, &caps), 0);
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(other), "files", NULL, &co, &caps), 0);
    assert_int_equal(watch(a, "files", "test://w", true), 1);
    assert_int_equal(watch(a, "files", "test://w", true), 1); /* twice is once */
    assert_int_equal(watch(b, "files", "test://w", true), 2);
    assert_int_equal(pt__mcp_stream_publish_watched("files", "test://w", "U1"), 2);
    assert_int_equal(pt__mcp_stream_publish_watched("files", "test://x", "nobody"), 0);
    assert_int_equal(pt__mcp_stream_publish_watched("mail", "test://w", "another server"), 0);
    assert_string_equal(read_after(other, &co, got, sizeof got), "");
    assert_int_equal(watch(a, "files", "test://w", false), 1); /* b still watches: the server is not told */
    assert_int_equal(pt__mcp_stream_publish_watched("files", "test://w", "U2"), 1);
    assert_string_equal(read_after(a, &ca, got, sizeof got), "id: g1\nevent: message\ndata: U1\n\n");
    assert_string_equal(read_after(b, &cb, got, sizeof got),
                        "id: g1\nevent: message\ndata: U1\n\nid: g2\nevent: message\ndata: U2\n\n");
    assert_int_equal(watch(b, "files", "test://w", false), 0);
    assert_int_equal(watch("nosuchsession", "files", "test://w", true), -1);
    char uri[32];
    for (int i = 0; i < PT_MCP_WATCH_MAX; i++) {
        snprintf(uri, sizeof uri, "test://%d", i);
        assert_int_equal(watch(other, "files", uri, true), 1);
    }
    assert_int_equal(watch(other, "files", "test://one-more", true), -1);
    assert_true(pt__mcp_session_use(pt_slice_cstr(other), "files", true, NULL)); /* its watches go with it */
}

/* A session of /mcp subscribes to resources of any server; it counts with the sessions of
 * /mcp/<server>, which share the gateway's session with that server. */
static void aggregate_sessions_watch_resources_of_any_server(void **state)
{
    (void)state;
    char agg[33], quiet[33], files[33], mail[33], got[512];
    uint64_t ca, cq;
    unsigned caps;
    assert_true(pt__mcp_session_new("", 0, agg));
    assert_true(pt__mcp_session_new("", 0, quiet)); /* streams, never subscribes */
    assert_true(pt__mcp_session_new("files", 0, files));
    assert_true(pt__mcp_session_new("mail", 0, mail));
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(agg), "", NULL, &ca, &caps), 0);
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(quiet), "", NULL, &cq, &caps), 0);
    assert_int_equal(watch(agg, "files", "test://w", true), 1);
    assert_int_equal(watch(files, "files", "test://w", true), 2);
    assert_int_equal(watch(mail, "files", "test://w", true), -1); /* not its server */
    assert_int_equal(watch(agg, "mail", "test://w", true), 1);   /* the same URI elsewhere */
    assert_int_equal(pt__mcp_stream_publish_watched("files", "test://w", "U1"), 1); /* files' has no stream */
    assert_string_equal(read_after(agg, &ca, got, sizeof got), "id: g1\nevent: message\ndata: U1\n\n");
    assert_string_equal(read_after(quiet, &cq, got, sizeof got), "");
    assert_int_equal(watch(files, "files", "test://w", false), 1); /* /mcp still watches */
    assert_int_equal(watch(agg, "files", "test://w", false), 0);
    assert_int_equal(pt__mcp_stream_publish_watched("files", "test://w", "U2"), 0);
    assert_int_equal(pt__mcp_stream_publish_watched("mail", "test://w", "U3"), 1);
    assert_string_equal(read_after(agg, &ca, got, sizeof got), "id: g2\nevent: message\ndata: U3\n\n");
}

static void events_are_kept_once_a_stream_was_opened_and_replayed_after_the_last_seen(void **state)
{
    (void)state;
    char agg[33], files[33], quiet[33], got[512];
    unsigned caps;
    uint64_t c = 99;
    assert_true(pt__mcp_session_new("", 0, agg));
    assert_true(pt__mcp_session_new("files", 0, files));
    assert_true(pt__mcp_session_new("files", 0, quiet)); /* never opens a stream */
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(agg), "", NULL, &c, &caps), 0);
    assert_int_equal(c, 0);
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(files), "files", NULL, &c, &caps), 0);
    assert_int_equal(pt__mcp_stream_publish("files", "{\"a\":1}", "{\"m\":1}"), 2);
    assert_int_equal(pt__mcp_stream_publish("files", "{\"log\":1}", NULL), 1);      /* not for /mcp */
    assert_int_equal(pt__mcp_stream_publish("search", "{\"s\":1}", "{\"m\":2}"), 1); /* only /mcp */
    c = 0;
    assert_string_equal(read_after(agg, &c, got, sizeof got),
                        "id: g1\nevent: message\ndata: {\"m\":1}\n\nid: g2\nevent: message\ndata: {\"m\":2}\n\n");
    assert_int_equal(c, 2);
    assert_string_equal(read_after(agg, &c, got, sizeof got), ""); /* nothing new */
    c = 1;
    assert_string_equal(read_after(files, &c, got, sizeof got), "id: g2\nevent: message\ndata: {\"log\":1}\n\n");
    /* a reconnect names the last event it saw */
    pt_slice last = pt_slice_cstr("g1");
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(agg), "", &last, &c, &caps), 0);
    assert_int_equal(c, 1);
    assert_string_equal(read_after(agg, &c, got, sizeof got), "id: g2\nevent: message\ndata: {\"m\":2}\n\n");
    /* without one it starts from now */
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(agg), "", NULL, &c, &caps), 0);
    assert_int_equal(c, 2);
}

static void a_last_event_id_of_no_event_is_refused(void **state)
{
    (void)state;
    char id[33];
    unsigned caps;
    uint64_t c;
    assert_true(pt__mcp_session_new("", 0, id));
    const char *bad[] = { "g1", "zzz", "g", "1", "g1x", "g-1", "g99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_slice v = pt_slice_cstr(bad[i]);
        assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(id), "", &v, &c, &caps), -2);
    }
    pt_slice zero = pt_slice_cstr("g0");
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(id), "", &zero, &c, &caps), 0);
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr("nosuchsession"), "", &zero, &c, &caps), -1);
}

static void a_push_reaches_one_session_and_caps_can_come_later(void **state)
{
    (void)state;
    char a[33], b[33], got[256];
    unsigned caps = 99;
    uint64_t ca, cb;
    assert_true(pt__mcp_session_new("", 0, a));
    assert_true(pt__mcp_session_new("", 0, b));
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(a), "", NULL, &ca, &caps), 0);
    assert_int_equal(caps, 0);
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(b), "", NULL, &cb, &caps), 0);
    assert_true(pt__mcp_stream_push(a, "{\"id\":1}"));
    assert_false(pt__mcp_stream_push("nosuchsession", "{}"));
    assert_string_equal(read_after(a, &ca, got, sizeof got), "id: g1\nevent: message\ndata: {\"id\":1}\n\n");
    assert_string_equal(read_after(b, &cb, got, sizeof got), "");
    pt__mcp_session_set_caps(a, PT_MCP_CAN_ELICIT); /* a legacy client's initialize comes after its stream */
    assert_true(pt__mcp_session_use(pt_slice_cstr(a), "", false, &caps));
    assert_int_equal(caps, PT_MCP_CAN_ELICIT);
}

static void the_replay_buffer_is_bounded(void **state)
{
    (void)state;
    char id[33], text[32];
    unsigned caps;
    uint64_t c;
    assert_true(pt__mcp_session_new("", 0, id));
    assert_int_equal(pt__mcp_stream_open(pt_slice_cstr(id), "", NULL, &c, &caps), 0);
    for (int i = 1; i <= PT_MCP_REPLAY_EVENTS + 10; i++) {
        snprintf(text, sizeof text, "{\"n\":%d}", i);
        pt__mcp_stream_publish("x", text, text);
    }
    c = 0; /* older than what is kept: the oldest kept comes first */
    pt_buf b = PT_BUF_INIT;
    assert_true(pt__mcp_stream_read(id, &c, &b));
    assert_int_equal(c, PT_MCP_REPLAY_EVENTS + 10);
    assert_true(b.len > 0 && strncmp(b.data, "id: g11\n", 8) == 0);
    pt_buf_release(&b);
    /* and by bytes: an event near the cap pushes every older one out */
    static char big[PT_MCP_REPLAY_BYTES - 4]; /* with the NUL: 5 bytes short of the cap */
    memset(big, 'a', sizeof big - 1);
    pt__mcp_stream_publish("x", big, big);
    c = 0;
    assert_true(pt__mcp_stream_read(id, &c, &b));
    assert_true(b.len > sizeof big && strncmp(b.data, "id: g75\n", 8) == 0);
    pt_buf_release(&b);
    assert_true(pt__mcp_session_use(pt_slice_cstr(id), "", true, NULL));
    assert_false(pt__mcp_stream_read(id, &c, &b)); /* gone with the session */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(sessions_belong_to_their_endpoint, reset),
        cmocka_unit_test_setup(events_are_kept_once_a_stream_was_opened_and_replayed_after_the_last_seen, reset),
        cmocka_unit_test_setup(a_last_event_id_of_no_event_is_refused, reset),
        cmocka_unit_test_setup(a_push_reaches_one_session_and_caps_can_come_later, reset),
        cmocka_unit_test_setup(the_replay_buffer_is_bounded, reset),
        cmocka_unit_test_setup(sessions_belong_to_their_transport_and_consumer, reset),
        cmocka_unit_test_setup(resource_updates_reach_the_sessions_that_watch_them, reset),
        cmocka_unit_test_setup(aggregate_sessions_watch_resources_of_any_server, reset),
        cmocka_unit_test_setup(the_instances_that_subscribed_are_told_when_nobody_watches, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
