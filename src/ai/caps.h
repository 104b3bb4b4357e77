/* caps.h: which sampling parameters each provider model takes, and what is done with a
 * request that sends one it refuses, so a client never gets a provider's 400 for a
 * parameter the gateway could have known about:
 *
 *   OpenAI and Azure reasoning models (o1, o3, o4, gpt-5 but gpt-5-chat) take only the
 *   default temperature and top_p (1); every OpenAI and Azure model takes an end-user id
 *   (`user`, where Claude Code's long metadata.user_id lands) of at most 64 characters;
 *   Claude models from the 4.5 generation (and Opus 4.1) refuse temperature and top_p
 *   together.
 *
 * A rule covers the models its pattern matches (an exact name, or a prefix ending in
 * '*'); the closest match wins, a provider's own `params:` rules before built-in ones of
 * the same closeness, and the winning rule decides alone. Its action, for each parameter
 * the request breaks:
 *   clamp   (the built-in rules) a fixed or maximum value is sent instead; of an exclusive
 *           pair, top_p is left out; a long user id becomes "u-" and a hex SHA-256 prefix
 *           of it, the same for the same user, within the limit
 *   drop    the parameter is left out
 *   refuse  400 invalid_request_error naming the parameter and the model */
#ifndef PT_AI_CAPS_H
#define PT_AI_CAPS_H

#include <stdbool.h>

#include "ai/ai_config.h"
#include "ai/pivot.h"
#include "core/pool.h"

/* The rule for model on provider (NULL when none covers it). */
const pt_ai_cap *pt_ai_caps_find(const pt_ai_provider *provider, const char *model);

/* Whether r breaks anything rule states (nothing is changed). */
bool pt_ai_caps_breaks(const pt_ai_cap *rule, const pt_pivot_req *r);

/* Brings r within rule, changing r in place (a user id digest is allocated from pool).
 * Returns 0, or -1 with err set when the rule refuses. */
int pt_ai_caps_apply(const pt_ai_cap *rule, const char *model, pt_pivot_req *r, pt_pool *pool, pt_ai_error *err);

#endif
