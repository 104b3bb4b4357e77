/* fuzz_ai_gemini_request.c: libFuzzer harness for Gemini-format request bodies: the
 * parser, the renderers of every provider type (passthrough to Gemini included), and the
 * Gemini renderers of a whole answer, a stream as events and a stream as one JSON array
 * (each provider's own well-formed answer closes the exchange), and countTokens. The
 * first byte picks the endpoint; the rest is the body. A body is either refused with an
 * error body or rendered; never a crash, a leak or a read past the input. */
#include <stdio.h>

#include "fuzz_ai_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char oai_answer[] = "{\"choices\":[{\"message\":{\"content\":\"x\",\"tool_calls\":[{\"id\":\"c\",\"type\":"
                                 "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                                 "\"finish_reason\":\"tool_calls\"}]}";
static const char ant_answer[] = "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":["
                                 "{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\","
                                 "\"input\":{}}],\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":1,"
                                 "\"output_tokens\":1}}";
static const char gem_answer[] = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"},{\"functionCall\":{\"name\":"
                                 "\"f\",\"args\":{}},\"thoughtSignature\":\"c2ln\"}],\"role\":\"model\"},"
                                 "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1}}";
static const char gem_stream[] = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"}}]}"
                                 "\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":"
                                 "\"f\",\"args\":{}}}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],"
                                 "\"usageMetadata\":{\"promptTokenCount\":1,\"candidatesTokenCount\":2}}\r\n\r\n";
static const char count_answer[] = "{\"totalTokens\":3,\"input_tokens\":3}";

static const char *models[] = { "openai", "azure", "anthropic", "gemini", "mistral", "compat" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    static const char *verbs[] = { ":generateContent", ":streamGenerateContent", ":streamGenerateContent",
                                   ":countTokens" };
    unsigned mode = data[0] % 4;
    const char *query = mode == 1 ? "alt=sse" : "";
    pt_ai_endpoint ep = mode == 3 ? PT_AI_EP_COUNT_TOKENS : PT_AI_EP_CHAT;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char path[96];
        snprintf(path, sizeof path, "/v1beta/models/%s%s", models[i], verbs[mode]);
        const char *answer = mode == 3                           ? count_answer
                             : strcmp(models[i], "anthropic") == 0 ? ant_answer
                             : strcmp(models[i], "gemini") == 0    ? (mode == 1 || mode == 2 ? gem_stream : gem_answer)
                                                                   : oai_answer;
        const char *ctype = answer == gem_stream ? "text/event-stream" : "application/json";
        fuzz_ai_exchange_path(PT_AI_FMT_GEMINI, ep, path, query, (const char *)data + 1, size - 1, models[i], 200,
                              ctype, answer, strlen(answer), 7, PT_AI_END_OK);
    }
    return 0;
}
