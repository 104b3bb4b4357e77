/* fuzz_ai_openai_request.c: libFuzzer harness for OpenAI Chat Completions request bodies:
 * validation, the pivot parser, and the renderers of every provider type (a fixed,
 * well-formed answer closes each exchange). A body is either refused with an error body or
 * rendered; never a crash, a leak or a read past the input. */
#include "fuzz_ai_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *models[] = { "openai", "azure", "anthropic", "gemini", "mistral", "compat" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char ok[] = "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}";
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        fuzz_ai_exchange(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, (const char *)data, size, models[i], 200, "application/json",
                         ok, sizeof ok - 1, 0, PT_AI_END_OK);
    fuzz_ai_exchange(PT_AI_FMT_OPENAI, PT_AI_EP_EMBEDDINGS, (const char *)data, size, "gemini", 200,
                     "application/json", "{\"embeddings\":[{\"values\":[1,2]}]}", 31, 0, PT_AI_END_OK);
    return 0;
}
