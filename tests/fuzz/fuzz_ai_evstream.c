/* fuzz_ai_evstream.c: libFuzzer harness for the AWS event-stream decoder and the Bedrock
 * stream parser behind it. The first byte picks the piece size; the messages decoded must
 * be the same whatever the pieces, and the same bytes as a ConverseStream answer are
 * translated for the OpenAI and Anthropic client formats, ended cleanly or cut. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ai/evstream.h"
#include "core/buf.h"
#include "fuzz_ai_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(void *arg, const pt_evs_msg *m)
{
    pt_buf *b = arg;
    const pt_slice parts[] = { m->message_type, m->event_type, m->exception_type, m->error_code, m->error_message,
                               m->payload };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        pt_buf_append_slice(b, parts[i]);
        pt_buf_append(b, "\0", 1);
    }
    return 0;
}

static int run(const uint8_t *p, size_t n, size_t step, pt_buf *out, bool *pending)
{
    pt_evs s;
    pt_evs_init(&s, 1 << 20);
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += step)
        rc = pt_evs_feed(&s, (const char *)p + off, n - off < step ? n - off : step, collect, out);
    *pending = pt_evs_pending(&s);
    pt_evs_release(&s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    size_t step = (data[0] & 31) + 1;
    pt_buf whole = PT_BUF_INIT, pieces = PT_BUF_INIT;
    bool pw, pp;
    int a = run(data + 1, size - 1, size, &whole, &pw);
    int b = run(data + 1, size - 1, step, &pieces, &pp);
    if (a != b || !pt_slice_eq(pt_buf_slice(&whole), pt_buf_slice(&pieces)) || (a == 0 && pw != pp)) abort();
    pt_buf_release(&whole);
    pt_buf_release(&pieces);

    pt_ai_end how = (data[0] & 0x80) ? PT_AI_END_CUT : PT_AI_END_OK;
    static const char oai[] = "{\"model\":\"bedrock\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                              "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}";
    static const char ant[] = "{\"model\":\"bedrock\",\"stream\":true,\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
                              "\"content\":\"hi\"}]}";
    const char *body = (const char *)data + 1;
    fuzz_ai_exchange(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, oai, sizeof oai - 1, "bedrock", 200,
                     "application/vnd.amazon.eventstream", body, size - 1, step, how);
    fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, ant, sizeof ant - 1, "bedrock", 200,
                     "application/vnd.amazon.eventstream", body, size - 1, step, how);
    /* the same bytes as a whole Converse answer and as an error body */
    static const char whole_req[] = "{\"model\":\"bedrock\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    fuzz_ai_exchange(PT_AI_FMT_OPENAI, PT_AI_EP_CHAT, whole_req, sizeof whole_req - 1, "bedrock", 200,
                     "application/json", body, size - 1, step, PT_AI_END_OK);
    fuzz_ai_exchange(PT_AI_FMT_ANTHROPIC, PT_AI_EP_CHAT, ant, sizeof ant - 1, "bedrock", 400 + (data[0] & 0x7f),
                     "application/json", body, size - 1, step, PT_AI_END_OK);
    return 0;
}
