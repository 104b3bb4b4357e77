/* mask.h: the masking engine: rule sets (by JSON path, by regex, by built-in detector)
 * applied to text, to JSON documents and to text that arrives in pieces. Pure: no I/O,
 * no clock, no globals; the gateway (gateway/mask_gate.c) decides what to apply where.
 *
 * A rule's action is mask (the value becomes "****" and its last `keep` bytes, or just
 * "****" when the value is not longer than twice that), replace (the value becomes the
 * rule's fixed text) or refuse (the value becomes "[REFUSED]" and the tally names the
 * rule: the caller refuses the call and never shows the value). Rules by path apply to
 * the values they name; regex and detector rules to every string value of a document
 * (object keys are left alone), or to the whole text when the body is not JSON. Where
 * two matches overlap, the one starting first (then the longer) wins.
 *
 * A stream holds back only the bytes a match could still need: from the first place a
 * detector says "more text could make this a value" (at most PT_DETECT_MAX bytes), and
 * with regex rules the last PT_MASK_REGEX_WINDOW bytes (a regex match longer than that,
 * split across pieces, is not seen whole). Nothing is held past PT_MASK_HOLD_MAX. */
#ifndef PT_MASK_MASK_H
#define PT_MASK_MASK_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "mask/detect.h"
#include "mask/jpath.h"

#define PT_MASK_REGEX_WINDOW 256
#define PT_MASK_HOLD_MAX 4096
#define PT_MASK_KEEP_DEFAULT 4
#define PT_MASK_REPLACE_DEFAULT "[REDACTED]"

typedef enum pt_mask_by { PT_MASK_BY_PATH, PT_MASK_BY_REGEX, PT_MASK_BY_DETECT } pt_mask_by;
typedef enum pt_mask_action { PT_MASK_MASK, PT_MASK_REPLACE, PT_MASK_REFUSE } pt_mask_action;

typedef struct pt_mask_rule {
    char *name;             /* unique in its set: counts and refusals name it */
    pt_mask_by by;
    pt_mask_action action;
    unsigned keep;          /* PT_MASK_MASK: trailing bytes shown */
    char *with;             /* PT_MASK_REPLACE: the text, NULL for PT_MASK_REPLACE_DEFAULT */
    pt_jpath *path;         /* PT_MASK_BY_PATH */
    regex_t re;             /* PT_MASK_BY_REGEX (POSIX extended) */
    bool re_ok;             /* re is compiled and must be freed */
    pt_detector det;        /* PT_MASK_BY_DETECT */
} pt_mask_rule;

typedef struct pt_mask_rules {
    pt_mask_rule *v;
    size_t n;
    bool has_path, has_text, has_regex; /* some rule by path; by regex or detector; by regex */
} pt_mask_rules;

/* What masking found, added to across calls: counts[i] for rules->v[i] (counts may be
 * NULL), the total, and the first refusing rule that matched. */
typedef struct pt_mask_tally {
    uint32_t *counts;
    size_t total;
    const pt_mask_rule *refused;
} pt_mask_tally;

void pt_mask_rules_release(pt_mask_rules *r);

/* Masks text s[0, n) with the regex and detector rules; appends the result to out (all of
 * it, masked or not). Returns the number of values masked. */
size_t pt_mask_text(const pt_mask_rules *r, const char *s, size_t n, pt_buf *out, pt_mask_tally *t);

/* Masks a JSON document: path rules, then the text rules on every string value. -1: s is
 * not JSON (out untouched); 0: nothing matched (out untouched); 1: out got the masked
 * document (compact). -2: out of memory. */
int pt_mask_json(const pt_mask_rules *r, const char *s, size_t n, pt_buf *out, pt_mask_tally *t);

/* The same on a parsed tree, in place; with_paths false applies the text rules only.
 * Returns the number of values masked. */
size_t pt_mask_json_tree(const pt_mask_rules *r, json_t *root, bool with_paths, pt_mask_tally *t);

/* Text arriving in pieces. */
typedef struct pt_mask_stream {
    const pt_mask_rules *r;
    pt_buf held;            /* text not released yet */
    int prev;               /* the last byte released (a detector's left boundary), 0 none */
} pt_mask_stream;

void pt_mask_stream_init(pt_mask_stream *st, const pt_mask_rules *r);
void pt_mask_stream_release(pt_mask_stream *st);
/* Takes s[0, n) and appends to out what can be released, masked. final: nothing follows,
 * everything held is released. */
void pt_mask_stream_feed(pt_mask_stream *st, const char *s, size_t n, bool final, pt_buf *out, pt_mask_tally *t);

/* A server-sent event stream of an AI answer (OpenAI chat, Anthropic messages, OpenAI
 * Responses, Gemini, as a client receives them): each event's JSON gets the text rules.
 * The answer's text deltas (choices[i].delta.content, delta.text, a Responses
 * output_text.delta, a Gemini chunk's one text part) and each tool call's argument
 * fragments (choices[i].delta.tool_calls[].function.arguments by the call's index,
 * Anthropic input_json_delta.partial_json by block index, Responses
 * function_call_arguments.delta by output index) are text streams of their own across
 * events (channels), so a value split between two events is still masked. What a channel
 * holds back moves to its next event; the answer's text is released before any other
 * event, a tool call's arguments before an event that feeds no channel (the end of a
 * block, the finish), each into an event made like the channel's last one. Gemini sends
 * a call's args whole in one event. Past PT_MASK_SSE_CHANNELS channels, fragments are
 * masked event by event. Events that are not JSON pass unchanged. */
#define PT_MASK_SSE_CHANNELS 16

typedef struct pt_mask_sse_chan {
    int kind;               /* text or a tool call's arguments */
    long choice, index;     /* which one: the choice, the call's or block's index */
    pt_mask_stream st;
    json_t *tmpl;           /* the last event that fed it, for carrying held text */
    pt_buf lines;           /* that event's lines other than data */
} pt_mask_sse_chan;

typedef struct pt_mask_sse {
    const pt_mask_rules *r;
    pt_buf in;              /* bytes of an event not complete yet */
    pt_mask_sse_chan ch[PT_MASK_SSE_CHANNELS];
    size_t nch;
} pt_mask_sse;

void pt_mask_sse_init(pt_mask_sse *m, const pt_mask_rules *r);
void pt_mask_sse_release(pt_mask_sse *m);
void pt_mask_sse_feed(pt_mask_sse *m, const char *s, size_t n, pt_buf *out, pt_mask_tally *t);
/* The stream ended: releases what is held (text and an unterminated event). */
void pt_mask_sse_end(pt_mask_sse *m, pt_buf *out, pt_mask_tally *t);

#endif
