/* fuzz_ai_stream_anthropic.c: libFuzzer harness for the anthropic stream parser: arbitrary upstream
 * bytes as the body of a streamed answer, translated for both client formats (and passed
 * through where the formats match), fed in pieces the first byte chooses, ended cleanly
 * or cut. */
#include "fuzz_ai_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    size_t step = (data[0] & 31) + 1;
    pt_ai_end how = (data[0] & 0x80) ? PT_AI_END_CUT : PT_AI_END_OK;
    static const char oai[] = "{\"model\":\"anthropic\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                              "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}";
    static const char ant[] = "{\"model\":\"anthropic\",\"stream\":true,\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
                              "\"content\":\"hi\"}]}";
    const char *body = (const char *)data + 1;
    fuzz_ai_exchange(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, oai, sizeof oai - 1, "anthropic", 200, "text/event-stream", body,
                     size - 1, step, how);
    fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, ant, sizeof ant - 1, "anthropic", 200, "text/event-stream", body,
                     size - 1, step, how);
    /* the same bytes as a whole answer, and as an error body */
    /* a whole answer passed through (its usage and stop reason skimmed) */
    static const char ant_whole[] = "{\"model\":\"anthropic\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
                                    "\"content\":\"hi\"}]}";
    fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, ant_whole, sizeof ant_whole - 1, "anthropic", 200,
                     "application/json", body, size - 1, step, PT_AI_END_OK);
    fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, ant, sizeof ant - 1, "anthropic", 200, "application/json", body,
                     size - 1, step, PT_AI_END_OK);
    fuzz_ai_exchange(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, oai, sizeof oai - 1, "anthropic", 400 + (data[0] & 0x7f),
                     "application/json", body, size - 1, step, PT_AI_END_OK);
    return 0;
}
