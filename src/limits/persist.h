/* persist.h: the quota and budget totals kept across restarts, in data_dir/limits.db.
 *
 * Day and month totals (counter.h window_add) must survive a restart; rate windows need
 * not. They live in their own small SQLite file rather than in the configuration store:
 * they change on every call, and the store's writes, exports and imports should not
 * carry them. A background thread writes the totals changed since its last pass every
 * interval (and once more when closed), so a crash loses at most one interval's counting
 * (1 s by default) and a clean stop loses nothing; the request path never waits for the
 * disk. When a pass fails, the store is failing until one succeeds (logged both ways),
 * and policies with on_store_error: closed refuse what they cannot count. */
#ifndef PT_LIMITS_PERSIST_H
#define PT_LIMITS_PERSIST_H

#include <stdbool.h>
#include <stddef.h>

#include "limits/counter.h"

typedef struct pt_limits_store pt_limits_store;

/* Opens path (created if absent), loads into b the totals of windows not yet over on the
 * wall clock, and starts the writer (interval_ms apart). A file that cannot be opened
 * leaves the store failing, and each pass tries again. NULL only when out of memory. */
pt_limits_store *pt_limits_store_open(pt_counters *b, const char *path, unsigned interval_ms);
/* Whether the last pass (or the opening) failed. */
bool pt_limits_store_failing(const pt_limits_store *s);
/* One pass now, on the caller's thread: 0, or -1 when it failed. */
int pt_limits_store_flush(pt_limits_store *s);
/* Stops the writer after a last pass and closes the file. */
void pt_limits_store_close(pt_limits_store *s);

/* One policy's totals as the file at path holds them (at most one writer interval behind
 * the counters), through a read-only connection of its own, for whoever shows usage: fn
 * gets each window not yet over at the wall clock's now, with the group it counts ("" for
 * a policy without group_by) and the window (pt_policy_window's order: requests, tokens
 * and cost, per day then month). 0 (also when the file does not exist yet: nothing was
 * counted), or -1 with a sentence in why when it cannot be read. */
typedef void (*pt_limits_total_fn)(void *arg, pt_slice group, int window, uint64_t total, int64_t expires);
int pt_limits_store_read(const char *path, const char *policy, pt_limits_total_fn fn, void *arg, char *why,
                         size_t cap);

#endif
