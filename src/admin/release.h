/* release.h: a service's releases through the admin API (docs/ADMIN.md, "Releases"):
 * publish, the list and one release with its diff, the draft against the current release,
 * rollback, and the release requests a team admin approves or refuses when the team's
 * publish_approval is team_admin. Every release is written in one store transaction. */
#ifndef PT_ADMIN_RELEASE_H
#define PT_ADMIN_RELEASE_H

#include "admin/api.h"

/* Who is asking: the authenticated user's name (the audit's actor), role and team. */
typedef struct pt__admin_caller {
    const char *actor;
    pt_admin_role role;
    int64_t team;
} pt__admin_caller;

/* Whether seg (the segment after /services/{id}/) is one of the release resources. */
bool pt__admin_release_path(const char *seg);

/* Answers /services/{id}/<seg[0]>[/<seg[1]>...] for service (a stored service the caller may
 * see). Errors go to err. */
void pt__admin_releases(pt_admin_api *api, const pt_admin_req *rq, const pt__admin_caller *who,
                        const json_t *service, char **seg, int nseg, pt_admin_resp *resp, pt_admin_err *err);

#endif
