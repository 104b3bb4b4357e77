/* control_live.h: the control plane as the gateway process sees it. The main thread
 * opens the store (running its migrations), compiles the control snapshot and publishes
 * it; workers then read pt_snapshot_current() per request and never touch the database.
 *
 * A snapshot is recompiled when something says the store changed (the admin API's change
 * callback, pt_control_live_changed; on PostgreSQL, another node's NOTIFY, heard by a
 * thread of its own) and, as a fallback for writes it was not told about, when a check every
 * store.version_check (on the thread pool, or that thread) finds the store's version higher
 * than the published snapshot's. The same check writes this node's heartbeat to the node
 * registry. A compile that fails is logged and the previous snapshot stays in force; a
 * store that cannot be reached changes nothing until it is back.
 *
 * It also publishes the configuration in force: the file's snapshot with the store's
 * services and APIs added (config_store.h), composed again whenever either changes, under
 * one lock, so a reload and an admin write never publish over each other.
 *
 * The store is opened only in the gateway process (after the supervisor's fork: neither a
 * SQLite handle nor a PostgreSQL connection crosses a fork), and only when the configuration needs it: the admin API
 * is on, or a route has `auth: key`. A reload that first needs it opens it then. */
#ifndef PT_GATEWAY_CONTROL_LIVE_H
#define PT_GATEWAY_CONTROL_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "gateway/config.h"

#define PT_CONTROL_LIVE_CHECK_MS 2000 /* store.version_check's default */

/* Whether cfg needs the store: the admin API is on, or a route enforces keys. */
bool pt_control_live_needed(const pt_config *cfg);

/* Opens the store (cfg->store.postgres, else cfg->data_dir's), compiles and publishes the
 * first snapshot and starts the version check (on loop with SQLite, on the watch thread
 * with PostgreSQL), when cfg needs it and it is not open yet. Returns 0, or -1 with
 * a sentence naming the data directory or the server in err (the store stays closed). */
int pt_control_live_start(uv_loop_t *loop, const pt_config *cfg, pt_buf *err);

/* Makes file (a loaded and bound file snapshot) the base of the configuration in force
 * and publishes it with the store's services added. When those cannot be added the file
 * alone is published and the reason logged. Main thread; takes its own reference. */
void pt_control_live_publish(pt_config *file);

/* Recompiles from the store and publishes the snapshot and the configuration built with
 * it; thread-safe (the admin thread calls it after each committed write). A no-op while
 * the store is closed. */
void pt_control_live_changed(void);
/* The same after one write to the object kind/id (store/schema.h kinds): a key, a consumer
 * or a subscription is patched into a copy of the snapshot in milliseconds
 * (pt_snapshot_patch) instead of compiling the whole store; anything else compiles. */
void pt_control_live_changed_one(int kind, int64_t id);

/* This node's id in the registry (store.node_id, else host/listen address); "" before start. */
const char *pt_control_live_node_id(void);

/* Stops the check, unpublishes the snapshot and closes the store (main thread, at exit). */
void pt_control_live_stop(void);

#endif
