/* fuzz_ai_anthropic_request.c: libFuzzer harness for Anthropic Messages request bodies
 * (messages and count_tokens): validation, the pivot parser, and the renderers of every
 * provider type. */
#include "fuzz_ai_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *models[] = { "openai", "azure", "anthropic", "gemini", "mistral", "compat" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char ok[] = "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"end_turn\"}";
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, (const char *)data, size, models[i], 200,
                         "application/json", ok, sizeof ok - 1, 0, PT_AI_END_OK);
    fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_COUNT_TOKENS, (const char *)data, size, "gemini", 200,
                     "application/json", "", 0, 0, PT_AI_END_OK);
    return 0;
}
