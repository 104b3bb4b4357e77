/* mask_config.h: the `mask:` member of a policy, mapped into rule sets.
 *
 *   mask:
 *     request:                       # applied before the call goes upstream
 *       - { detect: card }           # action mask, keep 4: "****1111"
 *       - { path: $.user.email, action: replace, with: "[email]" }
 *       - { name: no-ssn, detect: ssn, action: refuse }
 *     response:                      # applied to the answer, streams included
 *       - { regex: "ACME-[0-9]{6}", action: mask, keep: 2 }
 *
 * A rule has exactly one of path, regex (POSIX extended) or detect (detect.h), an action
 * (mask, replace, refuse; default mask), keep (0..32, default 4, mask only), with (replace
 * only) and a name (default: the detector's name, the path, or regex_N), unique within
 * its list. refuse is for requests only: an answer already flowing cannot be refused. */
#ifndef PT_MASK_MASK_CONFIG_H
#define PT_MASK_MASK_CONFIG_H

#include "config/value.h"
#include "mask/mask.h"

#define PT_MASK_MAX_RULES 64

typedef struct pt_mask_spec {
    pt_mask_rules request, response;
} pt_mask_spec;

/* A route's `call_log:` member: request and response bodies kept in the call log, capped
 * and redacted.
 *
 *   call_log:
 *     bodies: true                 # off unless true
 *     body_max: 4096               # bytes kept of each body (1 .. 16KiB)
 *     redact:
 *       fields: [password, token]  # JSON members of these names, at any depth
 *       regex: ["ACME-[0-9]{6}"]
 *
 * Redaction always replaces API keys and card numbers (the api_key and card detectors)
 * with "[REDACTED]"; a named field keeps its name and loses its value ("password":
 * "[REDACTED]"), found in the text so that a body cut at body_max, or a stream of events,
 * is redacted too. */
#define PT_MASK_BODY_MAX_LIMIT (16u * 1024)
#define PT_MASK_BODY_MAX_DEFAULT 4096u

typedef struct pt_mask_bodies {
    unsigned body_max;
    pt_mask_rules redact;   /* replace rules only */
} pt_mask_bodies;

/* Maps a `call_log:` value of a route into *out (NULL when bodies are not turned on). */
int pt_mask_bodies_map(pt_cfg *c, const pt_cfg_node *v, pt_mask_bodies **out);
void pt_mask_bodies_free(pt_mask_bodies *b);

/* Maps a `mask:` value (c's key path already names it) into *out (NULL first). -1 with
 * the errors recorded; *out may then hold a partial spec, which pt_mask_spec_free takes. */
int pt_mask_spec_map(pt_cfg *c, const pt_cfg_node *v, pt_mask_spec **out);
void pt_mask_spec_free(pt_mask_spec *s);

#endif
