/* control_live.c: the store handle of the gateway process and the publication of control
 * snapshots compiled from it (see control_live.h). */
#include "gateway/control_live.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/snapshot.h"
#include "core/log.h"
#include "gateway/config_store.h"
#include "gateway/file_sync.h"
#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "mcp/mcp_config.h"
#include "store/store.h"
#include "version.h"

static struct {
    uv_mutex_t lock;        /* guards st: compiles come from the main loop and the admin thread */
    bool lock_ready;
    pt_store *st;
    uv_timer_t timer;
    bool timer_on;
    pt_config *file;        /* the file's snapshot the configuration in force is built on */
    /* PostgreSQL: other nodes' writes arrive on a thread of their own (see watch_main) */
    uv_thread_t watch;
    bool watch_on;
    int wake[2];            /* written once to stop the watch thread */
    char *url;
    uint64_t check_ms;
    /* the registry: this node's row, written every check_ms */
    char node_id[256], address[160], admin_address[160];
    int64_t started_at, last_beat_ms;
    int64_t beaten_version; /* the store version the last heartbeat reported */
    bool stale;             /* the last compile failed: the node serves an older snapshot */
} live = {.wake = {-1, -1}};

bool pt_control_live_needed(const pt_config *cfg)
{
    if (cfg->admin_enabled) return true;
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].auth_key) return true;
    return pt_mcp_config_keyed(cfg->mcp);
}

/* Builds the configuration in force from the file's snapshot and the current control
 * snapshot, binds and publishes it; with the lock held. -1 (logged, nothing published)
 * when the store's services do not map. */
/* The metrics' view of a configuration about to be published: its routes' series, and the
 * cap on per-consumer series. */
static void bind_metrics(pt_config *cfg)
{
    if (pt_metrics_bind_config(cfg) != 0) pt_log_warn("metrics: out of memory binding routes");
    pt_auth_set_series_cap(cfg->metrics_consumers);
}

static int publish_config_locked(void)
{
    pt_buf err = PT_BUF_INIT;
    pt_snapshot *snap = pt_snapshot_current();
    pt_config *cfg = pt_config_with_store(live.file, snap, &err);
    pt_snapshot_release(snap);
    if (cfg && cfg != live.file && pt_config_bind(cfg) != 0) {
        pt_config_release(cfg);
        cfg = NULL;
        pt_buf_printf(&err, "out of memory binding the configuration");
    }
    if (!cfg) {
        pt_log_error("control plane: the store's services cannot be served, the configuration stays: %s",
                     err.data ? err.data : "out of memory");
        pt_buf_release(&err);
        return -1;
    }
    pt_buf_release(&err);
    bind_metrics(cfg);
    pt_config_publish(cfg);
    return 0;
}

/* Compiles and publishes the control snapshot, then the configuration built with it;
 * with the lock held. Returns 0, or -1 (logged, nothing changed). */
static int recompile_locked(void)
{
    pt_store_error e = { 0 };
    pt_snapshot *s = pt_snapshot_compile(live.st, &e);
    live.stale = !s;
    if (!s) {
        pt_log_error("control plane: the snapshot could not be compiled, the previous one stays: %s",
                     e.message[0] ? e.message : pt_store_strerror(e.code));
        return -1;
    }
    pt_snapshot_publish(s);
    if (live.file) publish_config_locked();
    return 0;
}

void pt_control_live_publish(pt_config *file)
{
    bool locked = live.lock_ready;
    if (locked) uv_mutex_lock(&live.lock);
    pt_config *old = live.file;
    live.file = pt_config_acquire(file);
    bool mirrored = false;
    char why[512];
    if (live.st && pt_file_sync(live.st, file, &mirrored, why, sizeof why) != 0)
        pt_log_error("control plane: %s", why);
    if (mirrored ? recompile_locked() != 0 : publish_config_locked() != 0) {
        bind_metrics(file);
        pt_config_publish(pt_config_acquire(file));
    }
    if (locked) uv_mutex_unlock(&live.lock);
    pt_config_release(old);
}

void pt_control_live_changed(void)
{
    if (!live.lock_ready) return;
    uv_mutex_lock(&live.lock);
    if (live.st) recompile_locked();
    uv_mutex_unlock(&live.lock);
}

void pt_control_live_changed_one(int kind, int64_t id)
{
    if (!live.lock_ready) return;
    uv_mutex_lock(&live.lock);
    int64_t v = 0;
    pt_snapshot *cur = live.st ? pt_snapshot_current() : NULL;
    pt_snapshot *next = NULL;
    /* only when the store moved by exactly this write: anything else since is compiled */
    if (cur && pt_snapshot_patchable(kind) && pt_store_version(live.st, &v) == 0 && v == cur->store_version + 1)
        next = pt_snapshot_patch(cur, live.st, kind, id, v);
    pt_snapshot_release(cur);
    if (next) pt_snapshot_publish(next); /* keys, consumers, subscriptions: the routes stay as they are */
    else if (live.st) recompile_locked();
    uv_mutex_unlock(&live.lock);
}

/* The fallback for writes this process was not told about (another process's, or a
 * callback that was lost): recompile when the store has moved past the snapshot. */
static void check_store(void)
{
    uv_mutex_lock(&live.lock);
    int64_t v = 0;
    pt_snapshot *cur = pt_snapshot_current();
    if (live.st && pt_store_version(live.st, &v) == 0 && (!cur || v > cur->store_version)) recompile_locked();
    pt_snapshot_release(cur);
    uv_mutex_unlock(&live.lock);
}

/* Writes this node's row in the registry (health as given, or from the last compile); with
 * the lock held. A failure is only logged: the next beat tries again. */
static void beat_locked(const char *health)
{
    pt_snapshot *cur = pt_snapshot_current();
    pt_store_node n = {.id = live.node_id, .address = live.address,
                       .admin_address = live.admin_address[0] ? live.admin_address : NULL, .version = PT_VERSION,
                       .health = health ? health : live.stale ? "stale" : "ok",
                       .store_version = cur ? cur->store_version : 0, .started_at = live.started_at,
                       .beat_ms = (int64_t)live.check_ms};
    pt_snapshot_release(cur);
    live.beaten_version = n.store_version;
    if (pt_store_node_beat(live.st, &n) != 0 && !health)
        pt_log_debug("control plane: heartbeat not written: %s", pt_store_last_error(live.st)->message);
    live.last_beat_ms = (int64_t)(uv_hrtime() / 1000000);
}

/* The version check and the heartbeat when one is due or the node now serves another
 * version (so the registry says at once whether it runs the current configuration). */
static void check_and_beat(void)
{
    check_store();
    uv_mutex_lock(&live.lock);
    pt_snapshot *cur = pt_snapshot_current();
    bool moved = cur && cur->store_version != live.beaten_version;
    pt_snapshot_release(cur);
    if (live.st && (moved || (int64_t)(uv_hrtime() / 1000000) - live.last_beat_ms >= (int64_t)live.check_ms))
        beat_locked(NULL);
    uv_mutex_unlock(&live.lock);
}

/* SQLite: the check and the heartbeat (a write, which may wait on another writer) run on
 * the thread pool, one at a time, never on the main loop. */
static uv_work_t check_work;
static bool check_queued;

static void check_work_cb(uv_work_t *w)
{
    (void)w;
    check_and_beat();
}

static void check_done_cb(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    check_queued = false;
}

static void on_check(uv_timer_t *t)
{
    if (check_queued) return;
    check_queued = uv_queue_work(t->loop, &check_work, check_work_cb, check_done_cb) == 0;
}

/* This node's name, addresses and start time for the registry. */
static void node_identity(const pt_config *cfg)
{
    const char *listen = cfg->nlisteners ? cfg->listeners[0].text : "";
    snprintf(live.address, sizeof live.address, "%s", listen);
    snprintf(live.admin_address, sizeof live.admin_address, "%s", cfg->admin_enabled ? cfg->admin.text : "");
    if (cfg->store.node_id && cfg->store.node_id[0]) {
        snprintf(live.node_id, sizeof live.node_id, "%s", cfg->store.node_id);
    } else {
        char host[128] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(live.node_id, sizeof live.node_id, "%s/%s", host, listen);
    }
    live.started_at = (int64_t)time(NULL);
}

/* Waits ms on the wake pipe; true when it says stop. */
static bool wait_wake(int ms)
{
    struct pollfd p = {live.wake[0], POLLIN, 0};
    return poll(&p, 1, ms) > 0;
}

/* Another node's commit is NOTIFYed here and compiled at once; the version check runs
 * whenever nothing came for check_ms (a lost notification) and after every reconnect (what
 * was missed while PostgreSQL was away). Nothing here blocks a worker: requests go on with
 * the last snapshot whatever happens to the database. */
static void watch_main(void *arg)
{
    (void)arg;
    pt_log_set_thread_name("store-watch");
    pt_store_watch *w = NULL;
    unsigned backoff = 0;
    bool down = false;
    for (;;) {
        if (!w) {
            char why[400];
            if (!(w = pt_store_watch_open(live.url, why, sizeof why))) {
                if (!down) pt_log_warn("control plane: %s; serving the last snapshot, reconnecting", why);
                down = true;
                backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
                if (wait_wake((int)backoff)) break;
                continue;
            }
            if (down) pt_log_info("control plane: PostgreSQL is reachable again, catching up");
            down = false;
            backoff = 0;
            check_and_beat();
        }
        int64_t v = 0;
        int r = pt_store_watch_wait(w, live.wake[0], (int)live.check_ms, &v);
        if (r == -2) break;
        if (r == -1) {
            pt_log_warn("control plane: the PostgreSQL connection was lost; serving the last snapshot, reconnecting");
            pt_store_watch_close(w);
            w = NULL;
            down = true;
            continue;
        }
        check_and_beat();
    }
    pt_store_watch_close(w);
}

static int start_watch(const pt_config *cfg, pt_buf *err)
{
    if (!(live.url = strdup(cfg->store.postgres)) || pipe2(live.wake, O_CLOEXEC) != 0 ||
        uv_thread_create(&live.watch, watch_main, NULL) != 0) {
        pt_buf_printf(err, "control plane: cannot start the store's watch thread");
        return -1;
    }
    live.watch_on = true;
    return 0;
}

static void stop_watch(void)
{
    if (live.watch_on) {
        ssize_t n = write(live.wake[1], "x", 1);
        (void)n;
        uv_thread_join(&live.watch);
        live.watch_on = false;
    }
    for (int i = 0; i < 2; i++)
        if (live.wake[i] >= 0) close(live.wake[i]);
    live.wake[0] = live.wake[1] = -1;
    free(live.url);
    live.url = NULL;
}

/* "data_dir 'x'" or "store.postgres (postgres://u:***@h/db)": where the store is, for messages. */
static void store_where(const pt_config *cfg, char *out, size_t cap)
{
    char shown[256];
    if (!cfg->store.postgres) {
        snprintf(out, cap, "data_dir '%s'", cfg->data_dir);
        return;
    }
    pt_store_pg_url_redact(cfg->store.postgres, shown, sizeof shown);
    snprintf(out, cap, "store.postgres (%s)", shown);
}

int pt_control_live_start(uv_loop_t *loop, const pt_config *cfg, pt_buf *err)
{
    if (live.st || !pt_control_live_needed(cfg)) return 0;
    if (!live.lock_ready) {
        if (uv_mutex_init(&live.lock) != 0) {
            pt_buf_printf(err, "control plane: cannot create a lock");
            return -1;
        }
        live.lock_ready = true;
    }
    char where[320];
    store_where(cfg, where, sizeof where);
    pt_store_error e = { 0 };
    pt_store *st = pt_store_open(cfg->data_dir, cfg->store.postgres, &e);
    if (!st) {
        pt_buf_printf(err, "%s: the store cannot be opened: %s", where, e.message[0] ? e.message : pt_store_strerror(e.code));
        return -1;
    }
    int from, to;
    if (pt_store_migrated(st, &from, &to))
        pt_log_info("control plane: migrated the store's schema from version %d to %d", from, to);
    uv_mutex_lock(&live.lock);
    live.st = st;
    int rc = recompile_locked();
    if (rc != 0) live.st = NULL;
    uv_mutex_unlock(&live.lock);
    if (rc != 0) {
        pt_store_close(st);
        pt_buf_printf(err, "%s: the control snapshot cannot be compiled", where);
        return -1;
    }
    live.check_ms = cfg->store.version_check_ms ? cfg->store.version_check_ms : PT_CONTROL_LIVE_CHECK_MS;
    node_identity(cfg);
    uv_mutex_lock(&live.lock);
    beat_locked(NULL);
    uv_mutex_unlock(&live.lock);
    if (cfg->store.postgres) {
        if (start_watch(cfg, err) != 0) return -1;
    } else {
        uv_timer_init(loop, &live.timer);
        uv_unref((uv_handle_t *)&live.timer);
        uv_timer_start(&live.timer, on_check, live.check_ms, live.check_ms);
        live.timer_on = true;
    }
    pt_log_info("control plane: the store in %s is open (%s), keys enforced on keyed routes", where, pt_store_backend_name(st));
    return 0;
}

const char *pt_control_live_node_id(void) { return live.node_id; }

void pt_control_live_stop(void)
{
    if (live.timer_on) uv_close((uv_handle_t *)&live.timer, NULL);
    live.timer_on = false;
    stop_watch();
    if (!live.lock_ready) return;
    uv_mutex_lock(&live.lock);
    if (live.st) beat_locked("stopped");
    pt_store_close(live.st);
    live.st = NULL;
    pt_config_release(live.file);
    live.file = NULL;
    uv_mutex_unlock(&live.lock);
    pt_snapshot_publish(NULL);
}
