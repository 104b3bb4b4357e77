/* prompt_load.h: a `kind: prompt` service read from the configuration (see prompt.h and
 * docs/CONFIG.md, "Prompt services"). */
#ifndef PT_AI_PROMPT_LOAD_H
#define PT_AI_PROMPT_LOAD_H

#include "ai/ai_config.h"
#include "ai/prompt.h"
#include "config/value.h"
#include "config/yaml.h"

/* Maps the service's mapping svc (its name and kind are the caller's): model (a name in
 * ai's models), prompt, variables, parameters, output. Errors are recorded in c;
 * NULL when any. */
pt_prompt *pt_prompt_map(pt_cfg *c, const pt_cfg_node *svc, const pt_ai_config *ai);

/* A YAML value as JSON (quoted scalars stay strings). NULL when out of memory. */
json_t *pt_prompt_yaml_json(const pt_cfg_node *n);

#endif
