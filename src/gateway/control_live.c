/* control_live.c: the store handle of the gateway process and the publication of control
 * snapshots compiled from it (see control_live.h). */
#include "gateway/control_live.h"

#include <stdlib.h>

#include "control/snapshot.h"
#include "core/log.h"
#include "gateway/config_store.h"
#include "gateway/file_sync.h"
#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "mcp/mcp_config.h"
#include "store/store.h"

static struct {
    uv_mutex_t lock;        /* guards st: compiles come from the main loop and the admin thread */
    bool lock_ready;
    pt_store *st;
    uv_timer_t timer;
    bool timer_on;
    pt_config *file;        /* the file's snapshot the configuration in force is built on */
} live;

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
static void on_check(uv_timer_t *t)
{
    (void)t;
    uv_mutex_lock(&live.lock);
    int64_t v = 0;
    pt_snapshot *cur = pt_snapshot_current();
    if (live.st && pt_store_version(live.st, &v) == 0 && (!cur || v > cur->store_version)) recompile_locked();
    pt_snapshot_release(cur);
    uv_mutex_unlock(&live.lock);
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
    pt_store_error e = { 0 };
    pt_store *st = pt_store_open_sqlite(cfg->data_dir, &e);
    if (!st) {
        pt_buf_printf(err, "data_dir '%s': the store cannot be opened: %s", cfg->data_dir,
                      e.message[0] ? e.message : pt_store_strerror(e.code));
        return -1;
    }
    uv_mutex_lock(&live.lock);
    live.st = st;
    int rc = recompile_locked();
    if (rc != 0) live.st = NULL;
    uv_mutex_unlock(&live.lock);
    if (rc != 0) {
        pt_store_close(st);
        pt_buf_printf(err, "data_dir '%s': the control snapshot cannot be compiled", cfg->data_dir);
        return -1;
    }
    uv_timer_init(loop, &live.timer);
    uv_unref((uv_handle_t *)&live.timer);
    uv_timer_start(&live.timer, on_check, PT_CONTROL_LIVE_CHECK_MS, PT_CONTROL_LIVE_CHECK_MS);
    live.timer_on = true;
    pt_log_info("control plane: store %s open, keys enforced on keyed routes", cfg->data_dir);
    return 0;
}

void pt_control_live_stop(void)
{
    if (live.timer_on) uv_close((uv_handle_t *)&live.timer, NULL);
    live.timer_on = false;
    if (!live.lock_ready) return;
    uv_mutex_lock(&live.lock);
    pt_store_close(live.st);
    live.st = NULL;
    pt_config_release(live.file);
    live.file = NULL;
    uv_mutex_unlock(&live.lock);
    pt_snapshot_publish(NULL);
}
