/* config.c: loads the gateway configuration (YAML) into an immutable, validated,
 * reference-counted pt_config, and publishes the current snapshot to the workers.
 *
 * Two stages. libyaml's event stream becomes a small tree of nodes that keep their
 * line numbers (anchors, aliases and tags other than !!str are refused). The tree is
 * then mapped onto the typed structs through per-section tables of keys, which give
 * strictness for free: an unknown key is an error with the closest known key
 * suggested, and every error reads "FILE:LINE: KEY.PATH: what is wrong".
 * ${NAME} in a scalar value is expanded from the environment when the value is read;
 * messages only ever quote the text as written, never an expanded value. */
#include "gateway/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "ai/ai_config.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/router.h"

#define MAX_FILE_BYTES (4u << 20)     /* a configuration file larger than this is refused */
#define MAX_NODES 200000u             /* YAML nodes per file */
#define MAX_DEPTH 32u                 /* nesting of YAML lists/mappings */
#define MAX_SCALAR_BYTES (64u << 10)  /* one value, after ${} expansion */
#define MAX_LISTENERS 64u
#define MAX_SERVICES 4096u
#define MAX_TARGETS 1024u             /* per service */
#define MAX_WEIGHT 1000u
#define MAX_WEIGHT_SUM 65536u         /* bounds the weighted schedule */
#define MAX_ROUTES 10000u
#define MAX_LIST 64u                  /* hosts, methods, headers, header edits per route */
#define MAX_NAME 64u
#define MAX_URL_PATH 2048u
#define DAY_MS (24ull * 3600 * 1000)

/* ======================================================================== */
/* YAML -> node tree                                                        */
/* ======================================================================== */

typedef enum { Y_SCALAR, Y_SEQ, Y_MAP } ykind;

/* A map keeps its pairs flat: items[2i] is a key (always a scalar), items[2i+1] its
 * value; n counts pairs. A sequence has n items. */
typedef struct ynode {
    ykind kind;
    bool quoted;            /* scalar in quotes, a block scalar or !!str: never null or bool */
    unsigned line;          /* 1-based */
    char *text;             /* scalar: the text as written, NUL-terminated */
    size_t len;             /* scalar: bytes in text (may hold a NUL from a "\0" escape) */
    struct ynode **items;
    size_t n;               /* pairs (map) or items (sequence) */
    size_t nitems, cap;     /* raw entries in items */
} ynode;

typedef struct ybuilder {
    yaml_parser_t parser;
    const char *file;
    pt_buf *err;
    size_t nodes;
    bool failed;
} ybuilder;

static void ynode_free(ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nitems; i++) ynode_free(n->items[i]);
    free(n->items);
    free(n->text);
    free(n);
}

static void yb_fail(ybuilder *b, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void yb_fail(ybuilder *b, unsigned line, const char *fmt, ...)
{
    if (b->failed) return;
    b->failed = true;
    pt_buf_reset(b->err);
    pt_buf_printf(b->err, "%s:%u: ", b->file, line);
    va_list ap;
    va_start(ap, fmt);
    pt_buf_vprintf(b->err, fmt, ap);
    va_end(ap);
}

static bool yb_next(ybuilder *b, yaml_event_t *ev)
{
    if (yaml_parser_parse(&b->parser, ev)) return true;
    yaml_parser_t *p = &b->parser;
    unsigned line = (unsigned)p->problem_mark.line + 1;
    if (p->context)
        yb_fail(b, line, "YAML syntax error: %s (%s, line %u)", p->problem ? p->problem : "invalid",
                p->context, (unsigned)p->context_mark.line + 1);
    else
        yb_fail(b, line, "YAML syntax error: %s", p->problem ? p->problem : "invalid input");
    return false;
}

static ynode *yb_new(ybuilder *b, ykind kind, const yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1;
    if (++b->nodes > MAX_NODES) {
        yb_fail(b, line, "YAML: too many values (more than %u)", MAX_NODES);
        return NULL;
    }
    ynode *n = calloc(1, sizeof *n);
    if (!n) {
        yb_fail(b, line, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    return n;
}

/* Appends child as the count-th item of parent (a map's items alternate key, value). */
static bool yb_push(ybuilder *b, ynode *parent, size_t count, ynode *child)
{
    if (count == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        ynode **items = realloc(parent->items, cap * sizeof *items);
        if (!items) {
            yb_fail(b, child->line, "out of memory");
            return false;
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[count] = child;
    parent->nitems = count + 1;
    parent->n = parent->kind == Y_MAP ? parent->nitems / 2 : parent->nitems;
    return true;
}

static ynode *yb_node(ybuilder *b, yaml_event_t *ev, unsigned depth);

/* Reads children until the matching end event. A map's children alternate key, value. */
static bool yb_children(ybuilder *b, ynode *n, unsigned depth)
{
    size_t count = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yb_next(b, &ev)) return false;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        ynode *child = yb_node(b, &ev, depth + 1);
        if (!child) return false;
        if (n->kind == Y_MAP && count % 2 == 0 && child->kind != Y_SCALAR) {
            yb_fail(b, child->line, "YAML: a mapping key must be a plain string");
            ynode_free(child);
            return false;
        }
        if (!yb_push(b, n, count, child)) {
            ynode_free(child);
            return false;
        }
        count++;
    }
    return true;
}

/* Builds the node that starts with ev (and deletes ev). NULL on error (reported). */
static ynode *yb_node(ybuilder *b, yaml_event_t *ev, unsigned depth)
{
    ynode *n = NULL;
    unsigned line = (unsigned)ev->start_mark.line + 1;
    const unsigned char *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: anchor = ev->data.scalar.anchor; tag = ev->data.scalar.tag; break;
    case YAML_SEQUENCE_START_EVENT: anchor = ev->data.sequence_start.anchor; tag = ev->data.sequence_start.tag; break;
    case YAML_MAPPING_START_EVENT: anchor = ev->data.mapping_start.anchor; tag = ev->data.mapping_start.tag; break;
    case YAML_ALIAS_EVENT:
        yb_fail(b, line, "YAML: anchors and aliases are not supported");
        goto out;
    default:
        yb_fail(b, line, "YAML: unexpected event");
        goto out;
    }
    if (anchor) {
        yb_fail(b, line, "YAML: anchors and aliases are not supported");
        goto out;
    }
    bool str_tag = tag && strcmp((const char *)tag, "tag:yaml.org,2002:str") == 0;
    if (tag && !str_tag && strcmp((const char *)tag, "!") != 0 &&
        strcmp((const char *)tag, "tag:yaml.org,2002:seq") != 0 &&
        strcmp((const char *)tag, "tag:yaml.org,2002:map") != 0) {
        yb_fail(b, line, "YAML: tags are not supported (only !!str)");
        goto out;
    }
    if (depth > MAX_DEPTH) {
        yb_fail(b, line, "YAML: nested more than %u levels deep", MAX_DEPTH);
        goto out;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        if (ev->data.scalar.length > MAX_SCALAR_BYTES) {
            yb_fail(b, line, "YAML: value longer than %u bytes", MAX_SCALAR_BYTES);
            goto out;
        }
        n = yb_new(b, Y_SCALAR, ev);
        if (!n) goto out;
        n->len = ev->data.scalar.length;
        n->text = malloc(n->len + 1);
        if (!n->text) {
            yb_fail(b, line, "out of memory");
            ynode_free(n);
            n = NULL;
            goto out;
        }
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->quoted = str_tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        goto out;
    }
    n = yb_new(b, ev->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ, ev);
    if (!n) goto out;
    yaml_event_delete(ev);
    if (!yb_children(b, n, depth)) {
        ynode_free(n);
        return NULL;
    }
    return n;
out:
    yaml_event_delete(ev);
    return n;
}

/* Parses one YAML document. An empty stream gives an empty mapping. NULL on error. */
static ynode *yaml_tree(const char *file, const char *text, size_t len, pt_buf *err)
{
    ybuilder b = { .file = file, .err = err };
    ynode *root = NULL;
    yaml_event_t ev;
    if (!yaml_parser_initialize(&b.parser)) {
        yb_fail(&b, 0, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    if (!yb_next(&b, &ev)) goto fail; /* STREAM-START */
    yaml_event_delete(&ev);
    if (!yb_next(&b, &ev)) goto fail;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        root = calloc(1, sizeof *root);
        if (!root) goto fail;
        root->kind = Y_MAP;
        root->line = 1;
        goto done;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (!yb_next(&b, &ev)) goto fail;
    root = yb_node(&b, &ev, 1);
    if (!root) goto fail;
    if (!yb_next(&b, &ev)) goto fail; /* DOCUMENT-END */
    yaml_event_delete(&ev);
    if (!yb_next(&b, &ev)) goto fail;
    if (ev.type != YAML_STREAM_END_EVENT) {
        yb_fail(&b, (unsigned)ev.start_mark.line + 1, "YAML: only one document is allowed");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
done:
    yaml_parser_delete(&b.parser);
    return root;
fail:
    if (!b.failed) yb_fail(&b, 0, "out of memory");
    ynode_free(root);
    yaml_parser_delete(&b.parser);
    return NULL;
}

/* ======================================================================== */
/* Mapping context: key path, errors, scalars                               */
/* ======================================================================== */

typedef struct ctx {
    const char *file;
    char *basedir;          /* relative file names in the config resolve against it; NULL = cwd */
    pt_buf *err;
    bool failed;
    char path[256];         /* "services[0].timeouts.connect" */
    size_t pathlen;
    pt_config *cfg;
    const ynode *routes;    /* mapped after services, whatever the order in the file */
    const ynode *ai_providers, *ai_models; /* handed to ai/ai_config.c once the rest is read */
} ctx;

/* Copies printable ASCII of s into out (at most cap-1 bytes), '?' for anything else,
 * "..." when cut. Messages quote only text as written in the file. */
static char *sanitize(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0, max = cap - 4;
    for (size_t i = 0; i < len && o < cap - 1; i++) {
        if (o == max && len - i > 3) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[o] = '\0';
    return out;
}

/* The node's text as written (never expanded), fit for a message. */
#define SHOW(n) sanitize((n)->text ? (n)->text : "", (n)->len, (char[84]){ 0 }, 84)

static size_t path_push_key(ctx *c, const char *key)
{
    size_t old = c->pathlen;
    char clean[64];
    sanitize(key, strlen(key), clean, sizeof clean);
    int w = snprintf(c->path + old, sizeof c->path - old, "%s%s", old ? "." : "", clean);
    if (w > 0) c->pathlen = old + (size_t)w < sizeof c->path ? old + (size_t)w : sizeof c->path - 1;
    return old;
}

static size_t path_push_index(ctx *c, size_t i)
{
    size_t old = c->pathlen;
    int w = snprintf(c->path + old, sizeof c->path - old, "[%zu]", i);
    if (w > 0) c->pathlen = old + (size_t)w < sizeof c->path ? old + (size_t)w : sizeof c->path - 1;
    return old;
}

static void path_pop(ctx *c, size_t old)
{
    c->pathlen = old;
    c->path[old] = '\0';
}

/* Records the first error as "FILE:LINE: KEY.PATH: message"; always returns -1. */
static int fail(ctx *c, const ynode *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ctx *c, const ynode *at, const char *fmt, ...)
{
    if (c->failed) return -1;
    c->failed = true;
    pt_buf_reset(c->err);
    pt_buf_printf(c->err, "%s:%u: %s: ", c->file, at ? at->line : 1,
                  c->pathlen ? c->path : "(top level)");
    va_list ap;
    va_start(ap, fmt);
    pt_buf_vprintf(c->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(ctx *c, const ynode *at) { return fail(c, at, "out of memory"); }

static bool is_null(const ynode *n)
{
    if (n->kind != Y_SCALAR || n->quoted) return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static const char *kind_name(const ynode *n)
{
    if (n->kind == Y_MAP) return "a mapping";
    if (n->kind == Y_SEQ) return "a list";
    return is_null(n) ? "nothing (null)" : "a single value";
}

/* The value of key in map n, or NULL. */
static const ynode *map_get(const ynode *n, const char *key)
{
    if (!n || n->kind != Y_MAP) return NULL;
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->items[2 * i]->text, key) == 0) return n->items[2 * i + 1];
    return NULL;
}

static bool env_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 128 || (s[0] >= '0' && s[0] <= '9')) return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* Expands ${NAME} references (and "$${" to a literal "${") in a scalar into a new
 * string the caller frees. A missing variable is an error naming it; its value never
 * appears in a message. */
static int expand(ctx *c, const ynode *n, char **out)
{
    if (n->kind != Y_SCALAR) return fail(c, n, "expected a single value, got %s", kind_name(n));
    if (strlen(n->text) != n->len) return fail(c, n, "value contains a NUL byte");
    pt_buf b;
    pt_buf_init(&b, MAX_SCALAR_BYTES);
    const char *s = n->text;
    size_t len = n->len, run = 0, i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        if (s[i] != '$' || i + 1 >= len) {
            i++;
            continue;
        }
        if (s[i + 1] == '$' && i + 2 < len && s[i + 2] == '{') { /* "$${" -> "${" */
            rc = pt_buf_append(&b, s + run, i - run);
            i += 1;
            run = i;
            i += 2;
            continue;
        }
        if (s[i + 1] != '{') {
            i++;
            continue;
        }
        const char *close = memchr(s + i + 2, '}', len - i - 2);
        size_t nlen = close ? (size_t)(close - (s + i + 2)) : 0;
        if (!close || !env_name_ok(s + i + 2, nlen)) {
            pt_buf_release(&b);
            return fail(c, n, "malformed environment reference in '%s' (expected ${NAME}; write $${ for a literal ${)",
                        SHOW(n));
        }
        char name[129];
        memcpy(name, s + i + 2, nlen);
        name[nlen] = '\0';
        const char *val = getenv(name);
        if (!val) {
            pt_buf_release(&b);
            return fail(c, n, "environment variable '%s' is not set", name);
        }
        rc = pt_buf_append(&b, s + run, i - run);
        if (rc == 0) rc = pt_buf_append_str(&b, val);
        i += nlen + 3;
        run = i;
    }
    if (rc == 0) rc = pt_buf_append(&b, s + run, len - run);
    if (rc != 0) {
        pt_buf_release(&b);
        return rc == PT_ETOOBIG ? fail(c, n, "value longer than %u bytes after expansion", MAX_SCALAR_BYTES)
                                : oom(c, n);
    }
    *out = pt_buf_detach(&b, NULL);
    return *out ? 0 : oom(c, n);
}

/* A scalar value (not null), expanded; replaces and frees *out. */
static int get_str(ctx *c, const ynode *n, char **out)
{
    if (is_null(n)) return fail(c, n, "missing value");
    char *s = NULL;
    if (expand(c, n, &s)) return -1;
    free(*out);
    *out = s;
    return 0;
}

static int get_bool(ctx *c, const ynode *n, bool *out)
{
    char *s = NULL;
    if (is_null(n)) return fail(c, n, "missing value (expected true or false)");
    if (expand(c, n, &s)) return -1;
    int rc = 0;
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) *out = false;
    else rc = fail(c, n, "expected true or false, got '%s'", SHOW(n));
    free(s);
    return rc;
}

typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

static const unit duration_units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                                       { "h", 3600000 }, { "d", 86400000 }, { NULL, 0 } };
static const unit size_units[] = { { "", 1 },          { "b", 1 },          { "kb", 1000 },
                                   { "kib", 1024 },     { "mb", 1000000 },   { "mib", 1048576 },
                                   { "gb", 1000000000 }, { "gib", 1073741824 }, { NULL, 0 } };

/* Parses "<digits>[.<digits>][ ]<unit>" with unit from units (case-insensitive; "" is a
 * bare number). Fractions round down. False on anything else or on overflow. */
static bool parse_scaled(const char *s, const unit *units, uint64_t *out)
{
    uint64_t ip = 0, frac = 0, scale = 1;
    size_t i = 0, digits = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        if (++digits > 15) return false;
        ip = ip * 10 + (uint64_t)(s[i++] - '0');
    }
    if (digits == 0) return false;
    if (s[i] == '.') {
        i++;
        size_t fd = 0;
        while (s[i] >= '0' && s[i] <= '9') {
            if (++fd > 6) return false;
            frac = frac * 10 + (uint64_t)(s[i++] - '0');
            scale *= 10;
        }
        if (fd == 0) return false;
    }
    while (s[i] == ' ') i++;
    for (const unit *u = units; u->name; u++) {
        if (strcasecmp(s + i, u->name) != 0) continue;
        if (ip > UINT64_MAX / u->mult) return false;
        *out = ip * u->mult + frac * u->mult / scale;
        return true;
    }
    return false;
}

static int get_uint(ctx *c, const ynode *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *s = NULL;
    if (is_null(n)) return fail(c, n, "missing value (expected a number)");
    if (expand(c, n, &s)) return -1;
    unsigned long long v;
    int rc = 0;
    if (!pt_slice_to_u64(pt_slice_cstr(s), &v))
        rc = fail(c, n, "expected a whole number, got '%s'", SHOW(n));
    else if (v < lo || v > hi)
        rc = fail(c, n, "must be between %llu and %llu, got '%s'", (unsigned long long)lo,
                  (unsigned long long)hi, SHOW(n));
    else
        *out = v;
    free(s);
    return rc;
}

/* Writes ms as the largest whole unit ("7d", "1h", "100ms") for range messages. */
static const char *fmt_ms(uint64_t ms, char *out, size_t cap)
{
    static const unit u[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { NULL, 0 } };
    for (size_t i = 0; u[i].name; i++)
        if (ms >= u[i].mult && ms % u[i].mult == 0) {
            snprintf(out, cap, "%llu%s", (unsigned long long)(ms / u[i].mult), u[i].name);
            return out;
        }
    snprintf(out, cap, "%llums", (unsigned long long)ms);
    return out;
}

static int get_duration(ctx *c, const ynode *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *s = NULL;
    if (is_null(n)) return fail(c, n, "missing value (expected a duration)");
    if (expand(c, n, &s)) return -1;
    uint64_t v = 0;
    int rc = 0;
    char a[32], b[32];
    if (!parse_scaled(s, duration_units, &v))
        rc = fail(c, n, "expected a duration like 500ms, 10s, 2m or 1h (a plain number is milliseconds), got '%s'",
                  SHOW(n));
    else if (v < lo || v > hi)
        rc = fail(c, n, "must be between %s and %s, got '%s'", fmt_ms(lo, a, sizeof a), fmt_ms(hi, b, sizeof b),
                  SHOW(n));
    else
        *out = v;
    free(s);
    return rc;
}

static int get_size(ctx *c, const ynode *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *s = NULL;
    if (is_null(n)) return fail(c, n, "missing value (expected a size)");
    if (expand(c, n, &s)) return -1;
    uint64_t v = 0;
    int rc = 0;
    if (!parse_scaled(s, size_units, &v))
        rc = fail(c, n, "expected a size like 512KiB, 10MB or a number of bytes, got '%s'", SHOW(n));
    else if (v < lo || v > hi)
        rc = fail(c, n, "must be between %llu and %llu bytes, got '%s'", (unsigned long long)lo,
                  (unsigned long long)hi, SHOW(n));
    else
        *out = v;
    free(s);
    return rc;
}

/* A URL path: starts with '/', no whitespace, controls, '?' or '#'. */
static int get_path(ctx *c, const ynode *n, char **out)
{
    char *s = NULL;
    if (get_str(c, n, &s)) return -1;
    int rc = 0;
    if (s[0] != '/') rc = fail(c, n, "must start with '/', got '%s'", SHOW(n));
    else if (strlen(s) > MAX_URL_PATH) rc = fail(c, n, "longer than %u bytes", MAX_URL_PATH);
    for (const char *p = s; rc == 0 && *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
            rc = fail(c, n, "must be a plain path without spaces, '?' or '#', got '%s'", SHOW(n));
    if (rc) {
        free(s);
        return -1;
    }
    free(*out);
    *out = s;
    return 0;
}

/* A file that must be readable now. A relative name resolves against the directory
 * of the configuration file, so the same file works from any working directory. */
static int get_file(ctx *c, const ynode *n, char **out)
{
    char *s = NULL;
    if (get_str(c, n, &s)) return -1;
    if (s[0] == '\0') {
        free(s);
        return fail(c, n, "missing file name");
    }
    if (s[0] != '/' && c->basedir) {
        char *joined = NULL;
        if (asprintf(&joined, "%s/%s", c->basedir, s) < 0) joined = NULL;
        free(s);
        if (!joined) return oom(c, n);
        s = joined;
    }
    if (access(s, R_OK) != 0) {
        int e = errno;
        free(s);
        return fail(c, n, "cannot read '%s': %s", SHOW(n), strerror(e));
    }
    free(*out);
    *out = s;
    return 0;
}

/* Edit distance counting a swap of two neighbours as one edit (optimal string
 * alignment), case-insensitive, for "did you mean" (inputs are short keys). */
static char fold(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 64;
    size_t rows[3][64], *prev2 = rows[0], *prev = rows[1], *row = rows[2];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]) &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = row;
        row = t;
    }
    return prev[lb];
}

/* The candidate closest to word, if close enough to be a likely typo; else NULL. */
static const char *closest(const char *word, const char *const *cands, size_t ncands)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < ncands; i++) {
        size_t d = edit_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    if (!best) return NULL;
    size_t limit = strlen(best) < 5 ? 1 : strlen(best) < 9 ? 2 : 3;
    return best_d <= limit && best_d < strlen(word) ? best : NULL;
}

/* ======================================================================== */
/* Key tables                                                               */
/* ======================================================================== */

typedef enum { F_STR, F_PATH, F_FILE, F_BOOL, F_UINT, F_DURATION, F_SIZE, F_FUNC } ftype;

typedef int (*field_fn)(ctx *c, const ynode *v, void *obj);

/* One known key of a mapping: where its value goes in obj and how it is read. */
typedef struct field {
    const char *key;
    ftype type;
    size_t off, width;  /* offset and size of the member in obj */
    uint64_t lo, hi;    /* bounds for F_UINT / F_DURATION / F_SIZE */
    field_fn fn;        /* F_FUNC */
} field;

#define MEMBER(T, m) offsetof(T, m), sizeof(((T *)0)->m)
#define FSTR(k, T, m) { k, F_STR, MEMBER(T, m), 0, 0, NULL }
#define FPATH(k, T, m) { k, F_PATH, MEMBER(T, m), 0, 0, NULL }
#define FFILE(k, T, m) { k, F_FILE, MEMBER(T, m), 0, 0, NULL }
#define FBOOL(k, T, m) { k, F_BOOL, MEMBER(T, m), 0, 0, NULL }
#define FUINT(k, T, m, lo, hi) { k, F_UINT, MEMBER(T, m), lo, hi, NULL }
#define FDUR(k, T, m, lo, hi) { k, F_DURATION, MEMBER(T, m), lo, hi, NULL }
#define FSIZE(k, T, m, lo, hi) { k, F_SIZE, MEMBER(T, m), lo, hi, NULL }
#define FFUNC(k, fn) { k, F_FUNC, 0, 0, 0, 0, fn }
#define FEND { NULL, F_STR, 0, 0, 0, 0, NULL }

static void store_uint(void *p, size_t width, uint64_t v)
{
    switch (width) {
    case 1: *(uint8_t *)p = (uint8_t)v; break;
    case 2: *(uint16_t *)p = (uint16_t)v; break;
    case 4: *(uint32_t *)p = (uint32_t)v; break;
    default: *(uint64_t *)p = v; break;
    }
}

static int apply_field(ctx *c, const field *f, const ynode *v, void *obj)
{
    void *p = (char *)obj + f->off;
    uint64_t u = 0;
    int rc;
    switch (f->type) {
    case F_STR: return get_str(c, v, (char **)p);
    case F_PATH: return get_path(c, v, (char **)p);
    case F_FILE: return get_file(c, v, (char **)p);
    case F_BOOL: return get_bool(c, v, (bool *)p);
    case F_UINT: rc = get_uint(c, v, f->lo, f->hi, &u); break;
    case F_DURATION: rc = get_duration(c, v, f->lo, f->hi, &u); break;
    case F_SIZE: rc = get_size(c, v, f->lo, f->hi, &u); break;
    case F_FUNC: return f->fn(c, v, obj);
    default: return fail(c, v, "internal error: bad field type");
    }
    if (rc == 0) store_uint(p, f->width, u);
    return rc;
}

static int unknown_key(ctx *c, const ynode *key, const field *fields)
{
    const char *names[64] = { 0 };
    size_t n = 0;
    for (const field *f = fields; f->key && n < 64; f++) names[n++] = f->key;
    const char *guess = closest(key->text, names, n);
    if (guess) return fail(c, key, "unknown key (did you mean '%s'?)", guess);
    pt_buf list = PT_BUF_INIT;
    for (size_t i = 0; i < n; i++) pt_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    int rc = fail(c, key, "unknown key (expected one of: %s)", list.data ? list.data : "");
    pt_buf_release(&list);
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    const ynode *ka = *(const ynode *const *)a, *kb = *(const ynode *const *)b;
    int r = strcmp(ka->text, kb->text);
    if (r) return r;
    return ka->line < kb->line ? -1 : ka->line > kb->line;
}

/* Requires a mapping whose keys are all different; reports the second of two equal keys. */
static int expect_map(ctx *c, const ynode *n, const char *what)
{
    if (n->kind != Y_MAP) return fail(c, n, "expected %s, got %s", what, kind_name(n));
    if (n->n < 2) return 0;
    const ynode **keys = malloc(n->n * sizeof *keys);
    if (!keys) return oom(c, n);
    for (size_t i = 0; i < n->n; i++) keys[i] = n->items[2 * i];
    qsort(keys, n->n, sizeof *keys, key_cmp);
    int rc = 0;
    for (size_t i = 1; i < n->n && rc == 0; i++) {
        if (strcmp(keys[i]->text, keys[i - 1]->text) != 0) continue;
        size_t mark = path_push_key(c, keys[i]->text);
        rc = fail(c, keys[i], "duplicate key (first at line %u)", keys[i - 1]->line);
        path_pop(c, mark);
    }
    free(keys);
    return rc;
}

/* Maps n's keys through fields into obj. *seen gets bit i for fields[i] present.
 * A null value (an empty section) maps nothing. */
static int map_fields(ctx *c, const ynode *n, const field *fields, void *obj, uint64_t *seen)
{
    uint64_t mask = 0;
    if (seen) *seen = 0;
    if (is_null(n)) return 0;
    if (expect_map(c, n, "a mapping")) return -1;
    for (size_t i = 0; i < n->n; i++) {
        const ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        size_t idx = 0;
        while (fields[idx].key && strcmp(fields[idx].key, k->text) != 0) idx++;
        size_t mark = path_push_key(c, k->text);
        int rc = fields[idx].key ? apply_field(c, &fields[idx], v, obj) : unknown_key(c, k, fields);
        path_pop(c, mark);
        if (rc) return -1;
        if (idx < 64) mask |= (uint64_t)1 << idx;
    }
    if (seen) *seen = mask;
    return 0;
}

static bool was_seen(const field *fields, uint64_t seen, const char *key)
{
    for (size_t i = 0; fields[i].key && i < 64; i++)
        if (strcmp(fields[i].key, key) == 0) return (seen >> i) & 1;
    return false;
}

/* How to map one list: entries go through entry(); begin() runs first with the count,
 * to allocate. A single value counts as a list of one and gets no "[i]" in the key
 * path; a null value is an empty list, an error when `empty` says why. */
typedef struct list_spec {
    const char *what;   /* "a list of addresses", for type errors */
    size_t max;
    const char *empty;  /* message for an empty list; NULL = allowed */
    int (*begin)(ctx *c, const ynode *v, size_t count, void *obj);
    int (*entry)(ctx *c, const ynode *it, size_t i, void *obj);
} list_spec;

static int map_list(ctx *c, const ynode *v, const list_spec *spec, void *obj)
{
    const ynode *const *items = NULL;
    size_t count = 0;
    bool single = false;
    if (v->kind == Y_SCALAR && !is_null(v)) {
        items = &v;
        count = 1;
        single = true;
    } else if (v->kind == Y_SEQ) {
        items = (const ynode *const *)v->items;
        count = v->n;
    } else if (!is_null(v)) {
        return fail(c, v, "expected %s, got %s", spec->what, kind_name(v));
    }
    if (count > spec->max) return fail(c, v, "too many entries (at most %zu)", spec->max);
    if (count == 0) return spec->empty ? fail(c, v, "%s", spec->empty) : 0;
    if (spec->begin && spec->begin(c, v, count, obj)) return -1;
    for (size_t i = 0; i < count; i++) {
        size_t mark = single ? c->pathlen : path_push_index(c, i);
        int rc = spec->entry(c, items[i], i, obj);
        path_pop(c, mark);
        if (rc) return -1;
    }
    return 0;
}

/* An entry written either as a single value (scalar_fn reads it) or as a mapping
 * through fields, which must then hold the key `required`. */
static int map_entry(ctx *c, const ynode *it, const field *fields, void *obj, field_fn scalar_fn,
                     const char *required, const char *what)
{
    if (it->kind == Y_SCALAR) return scalar_fn(c, it, obj);
    if (it->kind != Y_MAP) return fail(c, it, "expected %s, got %s", what, kind_name(it));
    if (map_fields(c, it, fields, obj, NULL)) return -1;
    if (!map_get(it, required)) return fail(c, it, "missing required key '%s'", required);
    return 0;
}

/* ======================================================================== */
/* Addresses, names, headers                                                */
/* ======================================================================== */

static bool parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned long long v;
    if (len > 5 || !pt_slice_to_u64(pt_slice_from(s, len), &v) || v < 1 || v > 65535) return false;
    *out = (uint16_t)v;
    return true;
}

/* A DNS name or IPv4 literal: letters, digits, '-', '.', '_'; 1..253 bytes. */
static bool hostname_ok(const char *h, size_t len)
{
    if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-') return false;
    for (size_t i = 0; i < len; i++) {
        char ch = h[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

static bool ipv6_ok(const char *h, size_t len)
{
    char tmp[64];
    struct in6_addr a;
    if (len == 0 || len >= sizeof tmp) return false;
    memcpy(tmp, h, len);
    tmp[len] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

static void lowercase(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
}

/* Service and route names: used in metrics labels, logs and registry keys. */
static int check_name(ctx *c, const ynode *n, const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > MAX_NAME)
        return fail(c, n, "must be 1 to %u characters long", MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return fail(c, n, "'%s' may only contain letters, digits, '-', '_' and '.'", SHOW(n));
    }
    return 0;
}

static bool token_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("!#$%&'*+-.^_`|~", ch)))
            return false;
    }
    return true;
}

/* A header name. As a mapping key it is taken literally, like every key; as a list
 * entry it is a value and ${} expands. */
static int get_header_name(ctx *c, const ynode *n, bool is_key, char **out)
{
    if (is_key) {
        free(*out);
        if (!(*out = strdup(n->text))) return oom(c, n);
    } else if (get_str(c, n, out)) {
        return -1;
    }
    if (strlen(*out) != n->len && is_key) return fail(c, n, "'%s' is not a valid header name", SHOW(n));
    if (!token_ok(*out) || strlen(*out) > 256) return fail(c, n, "'%s' is not a valid header name", SHOW(n));
    return 0;
}

/* Header values: no CR, LF, NUL or other controls but HTAB (no header injection). */
static int get_header_value(ctx *c, const ynode *n, char **out)
{
    if (get_str(c, n, out)) return -1;
    for (const char *p = *out; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return fail(c, n, "header value must not contain line breaks or control characters");
    }
    return 0;
}

/* "HOST:PORT" or "[IPV6]:PORT"; HOST is an IP literal or localhost. */
static int parse_listen_address(ctx *c, const ynode *at, const char *s, pt_listener_cfg *l)
{
    const char *hs = s, *he, *ps;
    bool v6 = false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return fail(c, at, "expected [IPV6]:PORT such as [::1]:8080, got '%s'", SHOW(at));
        hs = s + 1;
        he = close;
        ps = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return fail(c, at, "expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got '%s'", SHOW(at));
        he = colon;
        ps = colon + 1;
        if (memchr(hs, ':', (size_t)(he - hs)))
            return fail(c, at, "an IPv6 address goes in brackets, as in [::1]:8080, got '%s'", SHOW(at));
    }
    size_t hl = (size_t)(he - hs);
    char host[64];
    struct in_addr a4;
    if (hl == 0 || hl >= sizeof host)
        return fail(c, at, "expected HOST:PORT such as 127.0.0.1:8080, got '%s'", SHOW(at));
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (!v6 && strcasecmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (v6 ? !ipv6_ok(host, hl) : inet_pton(AF_INET, host, &a4) != 1)
        return fail(c, at, "listen host must be an IP address (127.0.0.1, 0.0.0.0, [::1], [::]) or localhost, got '%s'",
                    SHOW(at));
    if (!parse_port(ps, strlen(ps), &l->port))
        return fail(c, at, "port must be a number from 1 to 65535, got '%s'", SHOW(at));
    free(l->host);
    free(l->text);
    l->host = strdup(host);
    if (asprintf(&l->text, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)l->port) < 0) l->text = NULL;
    if (!l->host || !l->text) return oom(c, at);
    return 0;
}

/* "http[s]://HOST[:PORT]" with an optional trailing '/'; IPv6 in brackets. */
static int parse_target_url(ctx *c, const ynode *at, pt_target *t)
{
    const char *s = t->url, *rest;
    if (strncasecmp(s, "http://", 7) == 0) {
        t->tls = false;
        t->port = 80;
        rest = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        t->tls = true;
        t->port = 443;
        rest = s + 8;
    } else {
        return fail(c, at, "target must start with http:// or https://, got '%s'", SHOW(at));
    }
    size_t alen = strcspn(rest, "/?#");
    const char *end = rest + alen;
    if (memchr(rest, '@', alen))
        return fail(c, at, "target must not contain user info (user@); set credentials with request_headers");
    if (*end && !(end[0] == '/' && end[1] == '\0'))
        return fail(c, at, "target must not have a path, query or fragment (use rewrite_prefix on the route), got '%s'",
                    SHOW(at));
    const char *hs = rest, *he, *port = NULL;
    if (rest[0] == '[') {
        he = memchr(rest, ']', alen);
        if (!he || !ipv6_ok(rest + 1, (size_t)(he - rest - 1)))
            return fail(c, at, "target has a malformed IPv6 address (expected [ADDRESS]), got '%s'", SHOW(at));
        hs = rest + 1;
        if (he + 1 < end) {
            if (he[1] != ':') return fail(c, at, "expected ':' and a port after ']', got '%s'", SHOW(at));
            port = he + 2;
        }
    } else {
        he = memchr(rest, ':', alen);
        if (he) port = he + 1;
        else he = end;
        if (port && memchr(port, ':', (size_t)(end - port)))
            return fail(c, at, "an IPv6 address goes in brackets, as in http://[::1]:9000, got '%s'", SHOW(at));
        if (!hostname_ok(hs, (size_t)(he - hs)))
            return fail(c, at, "target has no valid host name, got '%s'", SHOW(at));
    }
    if (port && !parse_port(port, (size_t)(end - port), &t->port))
        return fail(c, at, "port must be a number from 1 to 65535, got '%s'", SHOW(at));
    free(t->host);
    t->host = strndup(hs, (size_t)(he - hs));
    if (!t->host) return oom(c, at);
    lowercase(t->host);
    return 0;
}

/* Route host patterns: "api.example.com", "*.example.com", "[::1]"; stored lowercase. */
static int check_host_pattern(ctx *c, const ynode *at, char *h)
{
    lowercase(h);
    size_t len = strlen(h);
    const char *name = h;
    if (len > 2 && h[0] == '[' && h[len - 1] == ']') {
        if (!ipv6_ok(h + 1, len - 2)) return fail(c, at, "'%s' is not a valid IPv6 address", SHOW(at));
        return 0;
    }
    if (h[0] == '*') {
        if (h[1] != '.' || len < 3)
            return fail(c, at, "a wildcard must be a whole first label, as in *.example.com, got '%s'", SHOW(at));
        name = h + 2;
    }
    if (strchr(name, ':')) return fail(c, at, "host must not include a port, got '%s'", SHOW(at));
    if (strchr(name, '*'))
        return fail(c, at, "a wildcard is only allowed as the first label, as in *.example.com, got '%s'", SHOW(at));
    if (!hostname_ok(name, strlen(name))) return fail(c, at, "'%s' is not a valid host name", SHOW(at));
    return 0;
}

/* ======================================================================== */
/* Sections                                                                 */
/* ======================================================================== */

/* ---- listen ---- */

static int listen_address_fn(ctx *c, const ynode *v, void *obj)
{
    char *s = NULL;
    if (get_str(c, v, &s)) return -1;
    int rc = parse_listen_address(c, v, s, obj);
    free(s);
    return rc;
}

static const field listen_tls_fields[] = {
    FFILE("cert", pt_listener_cfg, cert_file),
    FFILE("key", pt_listener_cfg, key_file),
    FEND,
};

static int listen_tls_fn(ctx *c, const ynode *v, void *obj)
{
    pt_listener_cfg *l = obj;
    if (v->kind != Y_MAP) return fail(c, v, "expected a mapping with cert and key, got %s", kind_name(v));
    if (map_fields(c, v, listen_tls_fields, l, NULL)) return -1;
    if (!l->cert_file) return fail(c, v, "missing required key 'cert'");
    if (!l->key_file) return fail(c, v, "missing required key 'key'");
    l->tls = true;
    return 0;
}

static const field listen_fields[] = {
    FFUNC("address", listen_address_fn),
    FFUNC("tls", listen_tls_fn),
    FEND,
};

static int listen_begin(ctx *c, const ynode *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    cfg->listeners = calloc(count, sizeof *cfg->listeners);
    if (!cfg->listeners) return oom(c, v);
    cfg->nlisteners = count;
    return 0;
}

static int listen_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    pt_listener_cfg *l = &cfg->listeners[i];
    if (map_entry(c, it, listen_fields, l, listen_address_fn, "address",
                  "an address or a mapping with address and tls"))
        return -1;
    for (size_t j = 0; j < i; j++)
        if (cfg->listeners[j].port == l->port && strcmp(cfg->listeners[j].host, l->host) == 0)
            return fail(c, it, "same address as listen[%zu]", j);
    return 0;
}

static const list_spec listen_list = { "a list of addresses", MAX_LISTENERS,
                                       "at least one listen address is required", listen_begin, listen_entry };

static int listen_fn(ctx *c, const ynode *v, void *obj) { return map_list(c, v, &listen_list, obj); }

/* ---- limits, logs, endpoints ---- */

static const field limits_fields[] = {
    FSIZE("max_header_bytes", pt_limits, max_header_bytes, 1024, 1u << 20),
    FUINT("max_headers", pt_limits, max_headers, 1, 10000),
    FSIZE("max_body_bytes", pt_limits, max_body_bytes, 0, 1ull << 40),
    FDUR("header_timeout", pt_limits, header_timeout_ms, 1, DAY_MS),
    FDUR("body_timeout", pt_limits, body_timeout_ms, 1, DAY_MS),
    FDUR("idle_timeout", pt_limits, idle_timeout_ms, 1, DAY_MS),
    FDUR("send_timeout", pt_limits, send_timeout_ms, 1, DAY_MS),
    FDUR("drain_timeout", pt_limits, drain_timeout_ms, 1, DAY_MS),
    FUINT("max_connections", pt_limits, max_connections, 1, 1000000),
    FEND,
};

static int limits_fn(ctx *c, const ynode *v, void *obj)
{
    return map_fields(c, v, limits_fields, &((pt_config *)obj)->limits, NULL);
}

static int access_log_fn(ctx *c, const ynode *v, void *obj)
{
    pt_config *cfg = obj;
    char *s = NULL;
    if (v->kind == Y_SCALAR && !v->quoted && (strcmp(v->text, "false") == 0 || strcmp(v->text, "off") == 0)) {
        free(cfg->access_log);
        cfg->access_log = NULL;
        return 0;
    }
    if (get_str(c, v, &s)) return -1;
    if (!*s) {
        free(s);
        return fail(c, v, "expected \"-\" (standard output), a file name, or off");
    }
    free(cfg->access_log);
    cfg->access_log = strcmp(s, "off") == 0 ? NULL : s;
    if (!cfg->access_log) free(s);
    return 0;
}

static int log_level_fn(ctx *c, const ynode *v, void *obj)
{
    pt_config *cfg = obj;
    char *s = NULL;
    if (get_str(c, v, &s)) return -1;
    if (pt_log_level_parse(s) < 0) {
        free(s);
        return fail(c, v, "unknown log level '%s' (expected debug, info, warn, error, off)", SHOW(v));
    }
    free(cfg->error_log_level);
    cfg->error_log_level = s;
    return 0;
}

static const field endpoint_fields[] = {
    FPATH("health", pt_config, health_path),
    FPATH("ready", pt_config, ready_path),
    FPATH("metrics", pt_config, metrics_path),
    FEND,
};

static int endpoints_fn(ctx *c, const ynode *v, void *obj)
{
    pt_config *cfg = obj;
    if (map_fields(c, v, endpoint_fields, cfg, NULL)) return -1;
    const char *names[3] = { "health", "ready", "metrics" };
    const char *paths[3] = { cfg->health_path, cfg->ready_path, cfg->metrics_path };
    for (int i = 1; i < 3; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(paths[i], paths[j]) == 0) {
                size_t mark = path_push_key(c, names[i]);
                const ynode *at = map_get(v, names[i]);
                int rc = fail(c, at ? at : v, "same path as endpoints.%s", names[j]);
                path_pop(c, mark);
                return rc;
            }
    return 0;
}

static const field errors_fields[] = {
    FBOOL("expose_upstream_address", pt_config, expose_upstream_address),
    FEND,
};

static int errors_fn(ctx *c, const ynode *v, void *obj) { return map_fields(c, v, errors_fields, obj, NULL); }

/* ---- services ---- */

static int service_name_fn(ctx *c, const ynode *v, void *obj)
{
    pt_service *s = obj;
    if (get_str(c, v, &s->name)) return -1;
    return check_name(c, v, s->name);
}

static int target_url_fn(ctx *c, const ynode *v, void *obj)
{
    pt_target *t = obj;
    if (get_str(c, v, &t->url)) return -1;
    return parse_target_url(c, v, t);
}

static const field target_fields[] = {
    FFUNC("url", target_url_fn),
    FUINT("weight", pt_target, weight, 1, MAX_WEIGHT),
    FEND,
};

static int targets_begin(ctx *c, const ynode *v, size_t count, void *obj)
{
    pt_service *s = obj;
    s->targets = calloc(count, sizeof *s->targets);
    if (!s->targets) return oom(c, v);
    s->ntargets = count;
    for (size_t i = 0; i < count; i++) s->targets[i].weight = 1;
    return 0;
}

static int target_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    pt_service *s = obj;
    pt_target *t = &s->targets[i];
    if (map_entry(c, it, target_fields, t, target_url_fn, "url", "a URL or a mapping with url and weight"))
        return -1;
    for (size_t j = 0; j < i; j++)
        if (strcmp(s->targets[j].url, t->url) == 0) return fail(c, it, "same target as targets[%zu]", j);
    return 0;
}

static const list_spec targets_list = { "a list of target URLs", MAX_TARGETS, "at least one target is required",
                                        targets_begin, target_entry };

static int targets_fn(ctx *c, const ynode *v, void *obj) { return map_list(c, v, &targets_list, obj); }

static int lb_fn(ctx *c, const ynode *v, void *obj)
{
    pt_service *s = obj;
    char *name = NULL;
    if (get_str(c, v, &name)) return -1;
    int rc = 0;
    if (strcmp(name, "round_robin") == 0) s->lb = PT_LB_ROUND_ROBIN;
    else if (strcmp(name, "weighted") == 0) s->lb = PT_LB_WEIGHTED;
    else if (strcmp(name, "least_conn") == 0) s->lb = PT_LB_LEAST_CONN;
    else rc = fail(c, v, "unknown balancer '%s' (expected round_robin, weighted, least_conn)", SHOW(v));
    free(name);
    return rc;
}

static const field timeout_fields[] = {
    FDUR("connect", pt_service, connect_timeout_ms, 1, DAY_MS),
    FDUR("first_byte", pt_service, first_byte_timeout_ms, 1, DAY_MS),
    FDUR("idle", pt_service, idle_timeout_ms, 1, DAY_MS),
    FEND,
};

static const field pool_fields[] = {
    FUINT("max_idle", pt_service, pool_max_idle, 0, 100000),
    FDUR("idle_timeout", pt_service, pool_idle_ms, 1, DAY_MS),
    FEND,
};

static int sni_fn(ctx *c, const ynode *v, void *obj)
{
    pt_service *s = obj;
    if (get_str(c, v, &s->sni)) return -1;
    if (!hostname_ok(s->sni, strlen(s->sni))) return fail(c, v, "'%s' is not a valid host name", SHOW(v));
    return 0;
}

static const field service_tls_fields[] = {
    FFILE("ca_file", pt_service, ca_file),
    FBOOL("insecure_skip_verify", pt_service, insecure_skip_verify),
    FFUNC("sni", sni_fn),
    FEND,
};

static int expect_status_fn(ctx *c, const ynode *v, void *obj)
{
    pt_service *s = obj;
    char *str = NULL;
    if (get_str(c, v, &str)) return -1;
    unsigned long long lo = 0, hi = 0;
    const char *dash = strchr(str, '-');
    bool ok;
    if (dash) {
        ok = pt_slice_to_u64(pt_slice_from(str, (size_t)(dash - str)), &lo) &&
             pt_slice_to_u64(pt_slice_cstr(dash + 1), &hi);
    } else {
        ok = pt_slice_to_u64(pt_slice_cstr(str), &lo);
        hi = lo;
    }
    free(str);
    if (!ok || lo < 100 || hi > 599 || lo > hi)
        return fail(c, v, "expected a status like 200 or a range like 200-399 (100..599), got '%s'", SHOW(v));
    s->health.expect_min = (int)lo;
    s->health.expect_max = (int)hi;
    return 0;
}

static const field health_fields[] = {
    FBOOL("enabled", pt_service, health.enabled),
    FPATH("path", pt_service, health.path),
    FDUR("interval", pt_service, health.interval_ms, 100, DAY_MS),
    FDUR("timeout", pt_service, health.timeout_ms, 1, 3600000),
    FUINT("healthy_threshold", pt_service, health.healthy_threshold, 1, 100),
    FUINT("unhealthy_threshold", pt_service, health.unhealthy_threshold, 1, 100),
    FFUNC("expect_status", expect_status_fn),
    FEND,
};

static int health_fn(ctx *c, const ynode *v, void *obj)
{
    pt_service *s = obj;
    s->health.enabled = true; /* writing the section turns probes on; `enabled: false` turns them off */
    if (map_fields(c, v, health_fields, s, NULL)) return -1;
    if (s->health.timeout_ms > s->health.interval_ms) {
        const ynode *at = map_get(v, "timeout");
        size_t mark = path_push_key(c, "timeout");
        fail(c, at ? at : v, "must not be longer than interval");
        path_pop(c, mark);
        return -1;
    }
    return 0;
}

static const field passive_fields[] = {
    FUINT("max_fails", pt_service, passive.max_fails, 0, 1000),
    FDUR("eject_for", pt_service, passive.eject_ms, 1, DAY_MS),
    FEND,
};

#define SECTION_FN(fn, fields)                                                                       \
    static int fn(ctx *c, const ynode *v, void *obj) { return map_fields(c, v, fields, obj, NULL); }
SECTION_FN(timeouts_fn, timeout_fields)
SECTION_FN(pool_fn, pool_fields)
SECTION_FN(service_tls_fn, service_tls_fields)
SECTION_FN(passive_fn, passive_fields)

static const field service_fields[] = {
    FFUNC("name", service_name_fn),
    FFUNC("targets", targets_fn),
    FFUNC("lb", lb_fn),
    FFUNC("timeouts", timeouts_fn),
    FFUNC("pool", pool_fn),
    FUINT("retries", pt_service, retries, 0, 10),
    FFUNC("tls", service_tls_fn),
    FFUNC("health_check", health_fn),
    FFUNC("passive_health", passive_fn),
    FEND,
};

static void service_defaults(pt_service *s)
{
    s->lb = PT_LB_ROUND_ROBIN;
    s->connect_timeout_ms = 3000;
    s->first_byte_timeout_ms = 60000;
    s->idle_timeout_ms = 60000;
    s->pool_idle_ms = 60000;
    s->pool_max_idle = 64;
    s->retries = 1;
    s->health.interval_ms = 5000;
    s->health.timeout_ms = 2000;
    s->health.healthy_threshold = 2;
    s->health.unhealthy_threshold = 2;
    s->health.expect_min = 200;
    s->health.expect_max = 399;
    s->passive.max_fails = 3;
    s->passive.eject_ms = 10000;
    atomic_init(&s->rr_cursor, 0);
}

/* Checks that need the whole service, then links targets to their runtime state. */
static int finish_service(ctx *c, const ynode *n, size_t idx)
{
    pt_service *s = &c->cfg->services[idx];
    if (!s->name) return fail(c, n, "missing required key 'name'");
    if (!s->targets) return fail(c, n, "missing required key 'targets'");
    for (size_t j = 0; j < idx; j++)
        if (strcmp(c->cfg->services[j].name, s->name) == 0) {
            size_t mark = path_push_key(c, "name");
            const ynode *at = map_get(n, "name");
            fail(c, at, "duplicate service name '%s' (also services[%zu])", SHOW(at), j);
            path_pop(c, mark);
            return -1;
        }
    uint64_t sum = 0;
    for (size_t i = 0; i < s->ntargets; i++) sum += s->targets[i].weight;
    if (s->lb == PT_LB_WEIGHTED && sum > MAX_WEIGHT_SUM) {
        size_t mark = path_push_key(c, "targets");
        fail(c, map_get(n, "targets"), "weights add up to %llu, more than %u", (unsigned long long)sum,
             MAX_WEIGHT_SUM);
        path_pop(c, mark);
        return -1;
    }
    if (s->health.enabled && !s->health.path && !(s->health.path = strdup("/healthz"))) return oom(c, n);
    for (size_t i = 0; i < s->ntargets; i++) {
        s->targets[i].health_checked = s->health.enabled;
        s->targets[i].state = pt_target_state_get(s->name, s->targets[i].url);
        if (!s->targets[i].state) return oom(c, n);
    }
    if (pt__balancer_prepare(s) != 0) return oom(c, n);
    if (s->insecure_skip_verify)
        pt_log_warn("%s: service '%s': tls.insecure_skip_verify is on: upstream certificates are not verified",
                    c->file, s->name);
    return 0;
}

static int services_begin(ctx *c, const ynode *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    cfg->services = calloc(count, sizeof *cfg->services);
    if (!cfg->services) return oom(c, v);
    cfg->nservices = count;
    for (size_t i = 0; i < count; i++) service_defaults(&cfg->services[i]);
    return 0;
}

static int service_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    if (it->kind != Y_MAP) return fail(c, it, "expected a mapping with name and targets, got %s", kind_name(it));
    if (map_fields(c, it, service_fields, &cfg->services[i], NULL)) return -1;
    return finish_service(c, it, i);
}

static const list_spec services_list = { "a list of services", MAX_SERVICES, NULL, services_begin, service_entry };

static int services_fn(ctx *c, const ynode *v, void *obj) { return map_list(c, v, &services_list, obj); }

/* ---- routes ---- */

static int route_name_fn(ctx *c, const ynode *v, void *obj)
{
    pt_route *r = obj;
    if (get_str(c, v, &r->name)) return -1;
    return check_name(c, v, r->name);
}

static int hosts_begin(ctx *c, const ynode *v, size_t count, void *obj)
{
    pt_route *r = obj;
    r->hosts = calloc(count, sizeof *r->hosts);
    if (!r->hosts) return oom(c, v);
    r->nhosts = count;
    return 0;
}

static int host_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    pt_route *r = obj;
    if (get_str(c, it, &r->hosts[i])) return -1;
    return check_host_pattern(c, it, r->hosts[i]);
}

static const list_spec hosts_list = { "a host or a list of hosts", MAX_LIST,
                                      "at least one host is required (leave host out to match any host)",
                                      hosts_begin, host_entry };

static int hosts_fn(ctx *c, const ynode *v, void *obj) { return map_list(c, v, &hosts_list, obj); }

static const struct {
    const char *name;
    unsigned num;
} http_methods[] = {
#define PT_METHOD_ENTRY(num, name, string) { #string, num },
    HTTP_METHOD_MAP(PT_METHOD_ENTRY)
#undef PT_METHOD_ENTRY
};
#define N_METHODS (sizeof http_methods / sizeof http_methods[0])

static int method_fn(ctx *c, const ynode *v, pt_method_mask *mask)
{
    char *name = NULL;
    if (get_str(c, v, &name)) return -1;
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcasecmp(name, http_methods[i].name) == 0 && http_methods[i].num < 64) {
            *mask |= (pt_method_mask)1 << http_methods[i].num;
            free(name);
            return 0;
        }
    const char *names[N_METHODS];
    for (size_t i = 0; i < N_METHODS; i++) names[i] = http_methods[i].name;
    const char *guess = closest(name, names, N_METHODS);
    free(name);
    if (guess) return fail(c, v, "unknown HTTP method '%s' (did you mean '%s'?)", SHOW(v), guess);
    return fail(c, v, "unknown HTTP method '%s'", SHOW(v));
}

static int method_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    return method_fn(c, it, &((pt_route *)obj)->methods);
}

static const list_spec methods_list = { "a list of methods", MAX_LIST,
                                        "at least one method is required (leave methods out to match any)", NULL,
                                        method_entry };

static int methods_fn(ctx *c, const ynode *v, void *obj) { return map_list(c, v, &methods_list, obj); }

static int match_headers_fn(ctx *c, const ynode *v, void *obj)
{
    pt_route *r = obj;
    if (is_null(v)) return 0;
    if (expect_map(c, v, "a mapping of header names to values (or true)")) return -1;
    if (v->n > MAX_LIST) return fail(c, v, "too many headers (at most %u)", MAX_LIST);
    if (v->n == 0) return 0;
    r->headers = calloc(v->n, sizeof *r->headers);
    if (!r->headers) return oom(c, v);
    r->nheaders = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
        pt_header_match *hm = &r->headers[i];
        size_t mark = path_push_key(c, k->text);
        int rc = get_header_name(c, k, true, &hm->name);
        if (rc == 0 && val->kind == Y_SCALAR && !val->quoted && strcmp(val->text, "true") == 0)
            hm->value = NULL; /* presence */
        else if (rc == 0 && val->kind == Y_SCALAR && !val->quoted && strcmp(val->text, "false") == 0)
            rc = fail(c, val, "false is not supported: use true to require the header, or a value to match");
        else if (rc == 0)
            rc = get_header_value(c, val, &hm->value);
        path_pop(c, mark);
        if (rc) return -1;
    }
    return 0;
}

static const field match_fields[] = {
    FFUNC("host", hosts_fn),
    FPATH("path", pt_route, path_exact),
    FPATH("path_prefix", pt_route, path_prefix),
    FFUNC("methods", methods_fn),
    FFUNC("headers", match_headers_fn),
    FEND,
};

static int match_fn(ctx *c, const ynode *v, void *obj)
{
    pt_route *r = obj;
    if (map_fields(c, v, match_fields, r, NULL)) return -1;
    if (r->path_exact && r->path_prefix) {
        size_t mark = path_push_key(c, "path_prefix");
        fail(c, map_get(v, "path_prefix"), "cannot be combined with path (choose one)");
        path_pop(c, mark);
        return -1;
    }
    return 0;
}

/* Where one direction's header edits go in a route. */
typedef struct header_edits {
    pt_kv **add;
    size_t *nadd;
    char ***remove;
    size_t *nremove;
} header_edits;

/* Headers that frame the message: the proxy owns them, a route may not set them. */
static bool framing_header(const char *name)
{
    return strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
           strcasecmp(name, "connection") == 0;
}

static int edits_add_fn(ctx *c, const ynode *v, void *obj)
{
    header_edits *e = obj;
    if (is_null(v)) return 0;
    if (expect_map(c, v, "a mapping of header names to values")) return -1;
    if (v->n > MAX_LIST) return fail(c, v, "too many headers (at most %u)", MAX_LIST);
    if (v->n == 0) return 0;
    *e->add = calloc(v->n, sizeof **e->add);
    if (!*e->add) return oom(c, v);
    *e->nadd = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
        pt_kv *kv = &(*e->add)[i];
        size_t mark = path_push_key(c, k->text);
        int rc = get_header_name(c, k, true, &kv->name);
        if (rc == 0 && framing_header(kv->name))
            rc = fail(c, k, "'%s' is managed by the proxy and cannot be set", SHOW(k));
        if (rc == 0) rc = get_header_value(c, val, &kv->value);
        path_pop(c, mark);
        if (rc) return -1;
    }
    return 0;
}

static int remove_begin(ctx *c, const ynode *v, size_t count, void *obj)
{
    header_edits *e = obj;
    *e->remove = calloc(count, sizeof **e->remove);
    if (!*e->remove) return oom(c, v);
    *e->nremove = count;
    return 0;
}

static int remove_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    header_edits *e = obj;
    return get_header_name(c, it, false, &(*e->remove)[i]);
}

static const list_spec remove_list = { "a list of header names", MAX_LIST, NULL, remove_begin, remove_entry };

static int edits_remove_fn(ctx *c, const ynode *v, void *obj) { return map_list(c, v, &remove_list, obj); }

static const field edit_fields[] = {
    FFUNC("add", edits_add_fn),
    FFUNC("remove", edits_remove_fn),
    FEND,
};

static int request_headers_fn(ctx *c, const ynode *v, void *obj)
{
    pt_route *r = obj;
    header_edits e = { &r->req_add, &r->nreq_add, &r->req_remove, &r->nreq_remove };
    return map_fields(c, v, edit_fields, &e, NULL);
}

static int response_headers_fn(ctx *c, const ynode *v, void *obj)
{
    pt_route *r = obj;
    header_edits e = { &r->resp_add, &r->nresp_add, &r->resp_remove, &r->nresp_remove };
    return map_fields(c, v, edit_fields, &e, NULL);
}

static int route_service_fn(ctx *c, const ynode *v, void *obj)
{
    pt_route *r = obj;
    if (get_str(c, v, &r->service_name)) return -1;
    r->service = pt_config_find_service(c->cfg, r->service_name);
    if (r->service) return 0;
    if (c->cfg->nservices == 0) return fail(c, v, "unknown service '%s' (no services are defined)", SHOW(v));
    const char **names = malloc(c->cfg->nservices * sizeof *names);
    if (!names) return oom(c, v);
    for (size_t i = 0; i < c->cfg->nservices; i++) names[i] = c->cfg->services[i].name;
    const char *guess = closest(r->service_name, names, c->cfg->nservices);
    int rc = guess ? fail(c, v, "unknown service '%s' (did you mean '%s'?)", SHOW(v), guess)
                   : fail(c, v, "unknown service '%s'", SHOW(v));
    free(names);
    return rc;
}

static const field route_fields[] = {
    FFUNC("name", route_name_fn),
    FFUNC("match", match_fn),
    FFUNC("service", route_service_fn),
    FBOOL("strip_prefix", pt_route, strip_prefix),
    FPATH("rewrite_prefix", pt_route, rewrite_prefix),
    FFUNC("request_headers", request_headers_fn),
    FFUNC("response_headers", response_headers_fn),
    FEND,
};

static int finish_route(ctx *c, const ynode *n, size_t idx)
{
    pt_route *r = &c->cfg->routes[idx];
    if (!r->name) return fail(c, n, "missing required key 'name'");
    if (!r->service_name) return fail(c, n, "missing required key 'service'");
    for (size_t j = 0; j < idx; j++)
        if (strcmp(c->cfg->routes[j].name, r->name) == 0) {
            size_t mark = path_push_key(c, "name");
            const ynode *at = map_get(n, "name");
            fail(c, at, "duplicate route name '%s' (also routes[%zu])", SHOW(at), j);
            path_pop(c, mark);
            return -1;
        }
    const char *needs_prefix = r->rewrite_prefix ? "rewrite_prefix" : r->strip_prefix ? "strip_prefix" : NULL;
    if (needs_prefix && !r->path_prefix) {
        size_t mark = path_push_key(c, needs_prefix);
        fail(c, map_get(n, needs_prefix), "needs match.path_prefix (it rewrites the matched prefix)");
        path_pop(c, mark);
        return -1;
    }
    return 0;
}

static int routes_begin(ctx *c, const ynode *v, size_t count, void *obj)
{
    pt_config *cfg = obj;
    cfg->routes = calloc(count, sizeof *cfg->routes);
    if (!cfg->routes) return oom(c, v);
    cfg->nroutes = count;
    for (size_t i = 0; i < count; i++) {
        cfg->routes[i].kind = PT_ROUTE_PROXY;
        cfg->routes[i].order = (unsigned)i;
    }
    return 0;
}

static int route_entry(ctx *c, const ynode *it, size_t i, void *obj)
{
    pt_config *cfg = obj;
    if (it->kind != Y_MAP) return fail(c, it, "expected a mapping with name, match and service, got %s", kind_name(it));
    if (map_fields(c, it, route_fields, &cfg->routes[i], NULL)) return -1;
    return finish_route(c, it, i);
}

static const list_spec routes_list = { "a list of routes", MAX_ROUTES, NULL, routes_begin, route_entry };

/* Sorted by precedence once all are read (the router relies on it). */
static int routes_fn(ctx *c, const ynode *v, void *obj)
{
    pt_config *cfg = obj;
    if (map_list(c, v, &routes_list, cfg)) return -1;
    pt_router_sort(cfg->routes, cfg->nroutes);
    return 0;
}

/* Routes name services, so they are mapped once the services are, wherever they are written. */
static int routes_later_fn(ctx *c, const ynode *v, void *obj)
{
    (void)obj;
    c->routes = v;
    return 0;
}

/* ---- AI providers and models: parsed by ai/ai_config.c from a JSON tree ---- */

typedef struct ai_lines {
    const json_t **node;
    unsigned *line;
    size_t n, cap;
} ai_lines;

static int ai_line_of(void *arg, const json_t *node)
{
    const ai_lines *l = arg;
    for (size_t i = 0; i < l->n; i++)
        if (l->node[i] == node) return (int)l->line[i];
    return 0;
}

/* A YAML node as JSON, ${} expanded in values; an unquoted scalar that reads as a
 * number, a boolean or null becomes one. Records each node's line for messages. */
static json_t *ai_json(ctx *c, const ynode *n, ai_lines *l)
{
    json_t *j = NULL;
    if (n->kind == Y_MAP) {
        if (expect_map(c, n, "a mapping")) return NULL;
        if (!(j = json_object())) goto bad;
        for (size_t i = 0; i < n->n; i++) {
            size_t mark = path_push_key(c, n->items[2 * i]->text);
            json_t *v = ai_json(c, n->items[2 * i + 1], l);
            path_pop(c, mark);
            if (!v || json_object_set_new(j, n->items[2 * i]->text, v)) goto bad;
        }
    } else if (n->kind == Y_SEQ) {
        if (!(j = json_array())) goto bad;
        for (size_t i = 0; i < n->n; i++) {
            size_t mark = path_push_index(c, i);
            json_t *v = ai_json(c, n->items[i], l);
            path_pop(c, mark);
            if (!v || json_array_append_new(j, v)) goto bad;
        }
    } else if (is_null(n)) {
        j = json_null();
    } else {
        char *s = NULL, *end = NULL;
        if (expand(c, n, &s)) return NULL;
        long long iv = strtoll(s, &end, 10);
        double dv = 0;
        if (!n->quoted && (!strcmp(s, "true") || !strcmp(s, "false"))) j = json_boolean(!strcmp(s, "true"));
        else if (!n->quoted && *s && !*end) j = json_integer(iv);
        else if (!n->quoted && *s && (dv = strtod(s, &end), !*end)) j = json_real(dv);
        else j = json_string(s);
        free(s);
    }
    if (!j) {
        oom(c, n);
        return NULL;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        const json_t **nn = realloc(l->node, cap * sizeof *nn);
        if (nn) l->node = nn;
        unsigned *nl = realloc(l->line, cap * sizeof *nl);
        if (nl) l->line = nl;
        if (!nn || !nl) goto bad;
        l->cap = cap;
    }
    l->node[l->n] = j;
    l->line[l->n++] = n->line;
    return j;
bad:
    json_decref(j);
    if (!c->failed) oom(c, n);
    return NULL;
}

static int ai_sections(ctx *c)
{
    ai_lines l = { 0 };
    json_t *p = NULL, *m = NULL;
    pt_buf msg = PT_BUF_INIT;
    int rc = -1;
    size_t mark = path_push_key(c, "providers");
    if (c->ai_providers) p = ai_json(c, c->ai_providers, &l);
    path_pop(c, mark);
    if (c->failed) goto out;
    mark = path_push_key(c, "models");
    if (c->ai_models) m = ai_json(c, c->ai_models, &l);
    path_pop(c, mark);
    if (c->failed) goto out;
    pt_ai_cfg_src src = { c->file, ai_line_of, &l };
    c->cfg->ext = pt_ai_config_parse(p, m, &src, &msg);
    if (c->cfg->ext) {
        rc = 0;
    } else {
        c->failed = true;
        pt_buf_reset(c->err);
        pt_buf_append_str(c->err, msg.data ? msg.data : "AI configuration: out of memory");
    }
out:
    json_decref(p);
    json_decref(m);
    free(l.node);
    free(l.line);
    pt_buf_release(&msg);
    return rc;
}

static int ai_providers_fn(ctx *c, const ynode *v, void *obj)
{
    (void)obj;
    c->ai_providers = v;
    return 0;
}

static int ai_models_fn(ctx *c, const ynode *v, void *obj)
{
    (void)obj;
    c->ai_models = v;
    return 0;
}

/* ---- top level ---- */

static const field top_fields[] = {
    FFUNC("listen", listen_fn),
    FUINT("workers", pt_config, workers, 1, 256),
    FFUNC("limits", limits_fn),
    FFUNC("access_log", access_log_fn),
    FFUNC("log_level", log_level_fn),
    FFUNC("endpoints", endpoints_fn),
    FFUNC("errors", errors_fn),
    FFUNC("services", services_fn),
    FFUNC("routes", routes_later_fn),
    FFUNC("providers", ai_providers_fn),
    FFUNC("models", ai_models_fn),
    FEND,
};

static int map_top(ctx *c, const ynode *root)
{
    pt_config *cfg = c->cfg;
    uint64_t seen;
    if (root->kind != Y_MAP)
        return fail(c, root, "expected a mapping of settings (listen, services, routes, ...), got %s",
                    kind_name(root));
    if (map_fields(c, root, top_fields, cfg, &seen)) return -1;
    if (c->routes) {
        size_t mark = path_push_key(c, "routes");
        int rc = routes_fn(c, c->routes, cfg);
        path_pop(c, mark);
        if (rc) return -1;
    }
    if ((c->ai_providers || c->ai_models) && ai_sections(c)) return -1;
    if (!was_seen(top_fields, seen, "listen")) {
        cfg->listeners = calloc(1, sizeof *cfg->listeners);
        if (!cfg->listeners) return oom(c, root);
        cfg->nlisteners = 1;
        if (parse_listen_address(c, root, "127.0.0.1:8080", &cfg->listeners[0])) return -1;
    }
    return 0;
}

/* ======================================================================== */
/* Snapshots: build, free, count, publish                                   */
/* ======================================================================== */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void free_kv(pt_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

static void service_free(pt_service *s)
{
    free(s->name);
    for (size_t i = 0; i < s->ntargets; i++) {
        free(s->targets[i].url);
        free(s->targets[i].host);
    }
    free(s->targets);
    free(s->ca_file);
    free(s->sni);
    free(s->health.path);
    free(s->wrr_slots);
}

static void route_free(pt_route *r)
{
    free(r->name);
    free_strv(r->hosts, r->nhosts);
    free(r->path_exact);
    free(r->path_prefix);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->service_name);
    free(r->rewrite_prefix);
    free_kv(r->req_add, r->nreq_add);
    free_strv(r->req_remove, r->nreq_remove);
    free_kv(r->resp_add, r->nresp_add);
    free_strv(r->resp_remove, r->nresp_remove);
}

static void config_free(pt_config *cfg)
{
    if (!cfg) return;
    free(cfg->source);
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        free(cfg->listeners[i].host);
        free(cfg->listeners[i].cert_file);
        free(cfg->listeners[i].key_file);
        free(cfg->listeners[i].text);
    }
    free(cfg->listeners);
    free(cfg->access_log);
    free(cfg->error_log_level);
    free(cfg->health_path);
    free(cfg->ready_path);
    free(cfg->metrics_path);
    for (size_t i = 0; i < cfg->nservices; i++) service_free(&cfg->services[i]);
    free(cfg->services);
    for (size_t i = 0; i < cfg->nroutes; i++) route_free(&cfg->routes[i]);
    free(cfg->routes);
    pt_ai_config_free(cfg->ext);
    free(cfg);
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > 256 ? 256 : (unsigned)n;
}

/* A snapshot holding every default that is not a list (listeners default at the end of
 * mapping, services and routes default to none). */
static pt_config *config_new(const char *source)
{
    pt_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    atomic_init(&cfg->refs, 1);
    cfg->workers = online_cpus();
    cfg->limits = (pt_limits){
        .max_header_bytes = 32768,
        .max_headers = 100,
        .max_body_bytes = 10u << 20,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 30000,
        .idle_timeout_ms = 60000,
        .send_timeout_ms = 60000,
        .drain_timeout_ms = 30000,
        .max_connections = 16384,
    };
    cfg->source = strdup(source);
    cfg->access_log = strdup("-");
    cfg->error_log_level = strdup("info");
    cfg->health_path = strdup("/healthz");
    cfg->ready_path = strdup("/readyz");
    cfg->metrics_path = strdup("/metrics");
    if (!cfg->source || !cfg->access_log || !cfg->error_log_level || !cfg->health_path || !cfg->ready_path ||
        !cfg->metrics_path) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static pt_config *load(const char *name, char *basedir, const char *yaml, size_t len, pt_buf *err)
{
    pt_buf local = PT_BUF_INIT;
    if (!err) err = &local;
    pt_buf_reset(err);
    pt_config *cfg = NULL;
    ynode *root = NULL;
    if (len > MAX_FILE_BYTES) {
        pt_buf_printf(err, "%s: larger than %u bytes", name, MAX_FILE_BYTES);
        goto out;
    }
    root = yaml_tree(name, yaml, len, err);
    if (!root) goto out;
    cfg = config_new(name);
    if (!cfg) {
        pt_buf_printf(err, "%s: out of memory", name);
        goto out;
    }
    ctx c = { .file = name, .basedir = basedir, .err = err, .cfg = cfg };
    if (map_top(&c, root) != 0) {
        config_free(cfg);
        cfg = NULL;
    }
out:
    ynode_free(root);
    pt_buf_release(&local);
    return cfg;
}

pt_config *pt_config_load_string(const char *name, const char *yaml, size_t len, pt_buf *err)
{
    return load(name, NULL, yaml, len, err);
}

pt_config *pt_config_load_file(const char *path, pt_buf *err)
{
    pt_buf text;
    pt_buf_init(&text, MAX_FILE_BYTES);
    pt_config *cfg = NULL;
    char *basedir = NULL;
    FILE *f = fopen(path, "rb");
    int e = 0;
    if (!f) {
        e = errno;
        goto fail;
    }
    char chunk[16384];
    size_t n;
    errno = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        int rc = pt_buf_append(&text, chunk, n);
        if (rc == PT_ETOOBIG) {
            fclose(f);
            pt_buf_release(&text);
            if (err) {
                pt_buf_reset(err);
                pt_buf_printf(err, "%s: larger than %u bytes", path, MAX_FILE_BYTES);
            }
            return NULL;
        }
        if (rc) {
            e = ENOMEM;
            break;
        }
    }
    if (!e && ferror(f)) e = errno ? errno : EIO; /* a directory reads as EISDIR */
    fclose(f);
    if (e) goto fail;
    const char *slash = strrchr(path, '/');
    if (slash && !(basedir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        e = ENOMEM;
        goto fail;
    }
    cfg = load(path, basedir, text.data ? text.data : "", text.len, err);
    free(basedir);
    pt_buf_release(&text);
    return cfg;
fail:
    free(basedir);
    pt_buf_release(&text);
    if (err) {
        pt_buf_reset(err);
        pt_buf_printf(err, "%s: cannot read: %s", path, strerror(e));
    }
    return NULL;
}

/* The built-in configuration, validated by the same loader as any file. */
static const char default_yaml[] =
    "# Portico's built-in configuration: loopback only, health and metrics, no routes.\n"
    "listen: [\"127.0.0.1:8080\"]\n"
    "access_log: \"-\"\n"
    "log_level: info\n"
    "endpoints:\n"
    "  health: /healthz\n"
    "  ready: /readyz\n"
    "  metrics: /metrics\n";

pt_config *pt_config_defaults(pt_buf *err)
{
    return load("<defaults>", NULL, default_yaml, sizeof default_yaml - 1, err);
}

pt_config *pt_config_acquire(pt_config *cfg)
{
    if (cfg) atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void pt_config_release(pt_config *cfg)
{
    if (!cfg) return;
    /* acq_rel rather than release + a fence: same order, and ThreadSanitizer sees it */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) != 1) return;
    config_free(cfg);
}

/* The published snapshot. A reader must load the pointer and count its reference as one
 * step, or a publish could free the snapshot in between; a tiny spinlock makes it one
 * step (held for two atomic operations, never across anything that can block). */
static pt_config *_Atomic current_cfg;
static atomic_flag current_lock = ATOMIC_FLAG_INIT;

static void current_lock_take(void)
{
    while (atomic_flag_test_and_set_explicit(&current_lock, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void current_lock_drop(void) { atomic_flag_clear_explicit(&current_lock, memory_order_release); }

void pt_config_publish(pt_config *cfg)
{
    current_lock_take();
    pt_config *old = atomic_exchange_explicit(&current_cfg, cfg, memory_order_acq_rel);
    current_lock_drop();
    pt_config_release(old);
}

pt_config *pt_config_current(void)
{
    current_lock_take();
    pt_config *cfg = pt_config_acquire(atomic_load_explicit(&current_cfg, memory_order_acquire));
    current_lock_drop();
    return cfg;
}

pt_service *pt_config_find_service(const pt_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nservices; i++)
        if (cfg->services[i].name && strcmp(cfg->services[i].name, name) == 0) return &cfg->services[i];
    return NULL;
}
