/* fuzz_ai_responses_request.c: libFuzzer harness for OpenAI Responses request bodies:
 * validation, the pivot parser, the renderers of every provider type, and the Responses
 * renderers of a whole answer and of a stream (a fixed, well-formed answer closes each
 * exchange). A body is either refused with an error body or rendered; never a crash, a
 * leak or a read past the input. */
#include "fuzz_ai_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *models[] = { "openai", "azure", "anthropic", "gemini", "mistral", "compat" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char ok[] = "{\"choices\":[{\"message\":{\"content\":\"x\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
                             "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                             "\"finish_reason\":\"tool_calls\"}]}";
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        fuzz_ai_exchange(PT_AI_FMT_RESPONSES, PT_AI_EP_CHAT, (const char *)data, size, models[i], 200,
                         "application/json", ok, sizeof ok - 1, 0, PT_AI_END_OK);
    return 0;
}
