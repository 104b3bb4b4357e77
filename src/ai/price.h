/* price.h: token prices and cost. A built-in table of current public list prices
 * (docs/AI.md says where they come from and when they were read) that each provider's
 * `prices:` configuration overrides. Prices are integers (micro-dollars per million
 * tokens), so a cost is exact: tokens x micro-dollars-per-million = pico-dollars. */
#ifndef PT_AI_PRICE_H
#define PT_AI_PRICE_H

#include <stdbool.h>
#include <stdint.h>

#include "ai/ai_config.h"
#include "ai/pivot.h"

/* How well a model pattern (an exact name, or a prefix ending in '*') matches a model:
 * 0 not at all, else higher for a closer match (an exact name highest). */
size_t pt_ai_model_match(const char *pattern, const char *model);

/* Finds the price of a provider's model: the provider's overrides first, then the
 * built-in table. In both, an exact name wins over a prefix entry ("claude-sonnet-4*"),
 * and a longer prefix over a shorter one; a name with a "vendor/" prefix (routers) is
 * tried without it too. provider may be NULL. False when no price is known. */
bool pt_price_lookup(const pt_ai_provider *provider, const char *model, pt_ai_price *out);
/* The price of what a call to model through provider costs: pt_price_lookup(), and for an
 * Azure provider also under the deployment name the model maps to. */
bool pt_price_for(const pt_ai_provider *provider, const char *model, pt_ai_price *out);

/* Exact cost in pico-dollars (1e-12 USD). Unknown usage fields count as 0; a missing
 * cache price falls back to the input price. Saturates instead of overflowing. */
uint64_t pt_price_cost_pusd(const pt_ai_price *p, const pt_usage *u);

/* Pico-dollars to micro-dollars, rounded half up. */
static inline uint64_t pt_price_pusd_to_micro(uint64_t pusd) { return pusd / 1000000u + (pusd % 1000000u >= 500000u); }

/* Parses a decimal USD amount per million tokens ("3", "0.075", "2.50") into
 * micro-dollars; false on anything else (negative, more than 6 decimals, too big). */
bool pt_price_parse_usd(const char *s, int64_t *out);

#endif
