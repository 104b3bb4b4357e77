/* file_sync.h: what the configuration file declares, mirrored into the store as read-only
 * objects, so the admin API shows one list of services and consumers can subscribe to a
 * service the file declares as to any other.
 *
 *   each file service            a service {origin: file, read_only: true, kind: rest,
 *                                 targets, lb}, owned by the team "file"
 *   each file route              an API {origin: file} of the service its subscriptions are
 *                                 checked against (auth_service, else its service, else its
 *                                 name); an AI route with no such service gets an AI service
 *                                 {models} of that name
 *
 * Rows are written only when they differ from what the file says (so a sync that finds
 * nothing new writes nothing and audits nothing), in one transaction, as actor "file". A
 * service the store already holds under that name with origin "api" stays the store's; the
 * file's routes that name it are not mirrored. A file service the file no longer declares
 * keeps its row and subscriptions and loses read_only, so an admin may delete it. Only the
 * approval setting of a read-only service may be changed through the admin API. */
#ifndef PT_GATEWAY_FILE_SYNC_H
#define PT_GATEWAY_FILE_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/config.h"
#include "store/store.h"

#define PT_FILE_TEAM "file"  /* the team that owns what the file declares */
#define PT_FILE_ACTOR "file" /* the audit log's actor for these writes */

/* Mirrors file into st. Returns 0 (*changed says whether anything was written), or -1
 * with a sentence in why (nothing written). */
int pt_file_sync(pt_store *st, const pt_config *file, bool *changed, char *why, size_t cap);

#endif
