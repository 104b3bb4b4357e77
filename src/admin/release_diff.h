/* release_diff.h: what a release holds and how two releases differ, as pure functions on
 * JSON (no store, no network), so the admin API, its tests and any other reader agree.
 *
 * A release's content is canonical: the service's served members, its APIs' members and
 * the stored policies that apply to it, nulls left out, each list sorted by name, nothing that identifies a row (ids, times,
 * versions) and nothing secret (keys are not part of a service). Two contents are equal
 * exactly when the gateway would serve them alike. */
#ifndef PT_ADMIN_RELEASE_DIFF_H
#define PT_ADMIN_RELEASE_DIFF_H

#include <stdbool.h>

#include <jansson.h>

/* {"service": {...}, "apis": [{...}, ...], "policies": [{"name", "spec"}, ...]} from a
 * stored service row, its API rows and the store's policy rows (arrays, any order): the
 * policies are those that apply to this service (control/snapshot.h:
 * pt_policy_spec_of_service), and "policies" is left out when there are none. A new
 * reference, or NULL when out of memory. */
json_t *pt_release_content(const json_t *service, const json_t *apis, const json_t *policies);

/* How after differs from before (before NULL: the first release, everything is new):
 *   {"service": [{"field", "from", "to"}...],
 *    "added": [api names], "removed": [api names],
 *    "changed": [{"api": name, "fields": [{"field", "from", "to"}...]}...],
 *    "policies": {"added": [names], "removed": [names], "changed": [{"policy": name, "fields"}...]},
 *    "summary": one sentence for people}
 * with every list in name order and "from"/"to" null where the member is absent. A new
 * reference, or NULL when out of memory. */
json_t *pt_release_diff(const json_t *before, const json_t *after);

/* Whether a diff says nothing changed. */
bool pt_release_diff_empty(const json_t *diff);

/* The diff without the "from" and "to" values (field names only): what is kept when the
 * values would make a release record too large. A new reference, or NULL. */
json_t *pt_release_diff_names_only(const json_t *diff);

#endif
