/* value.c: the mapping context, errors, ${ENV} expansion, typed scalars and
 * suggestions (see value.h). */
#include "config/value.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/err.h"
#include "core/str.h"

#define MAX_URL_PATH 2048u

/* Copies printable ASCII of s into out (at most cap-1 bytes), '?' for anything else,
 * "..." when cut. Messages quote only text as written in the file. */
char *pt_cfg_sanitize(const char *s, size_t len, char *out, size_t cap)
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


size_t pt_cfg_push_key(pt_cfg *c, const char *key)
{
    size_t old = c->pathlen;
    char clean[64];
    pt_cfg_sanitize(key, strlen(key), clean, sizeof clean);
    int w = snprintf(c->path + old, sizeof c->path - old, "%s%s", old ? "." : "", clean);
    if (w > 0) c->pathlen = old + (size_t)w < sizeof c->path ? old + (size_t)w : sizeof c->path - 1;
    return old;
}

size_t pt_cfg_push_index(pt_cfg *c, size_t i)
{
    size_t old = c->pathlen;
    int w = snprintf(c->path + old, sizeof c->path - old, "[%zu]", i);
    if (w > 0) c->pathlen = old + (size_t)w < sizeof c->path ? old + (size_t)w : sizeof c->path - 1;
    return old;
}

void pt_cfg_pop(pt_cfg *c, size_t old)
{
    c->pathlen = old;
    c->path[old] = '\0';
}

static void vfail(pt_cfg *c, unsigned line, const char *fmt, va_list ap)
{
    if (c->nerrors++ >= PT_CFG_MAX_ERRORS) {
        if (c->nerrors == PT_CFG_MAX_ERRORS + 1)
            pt_buf_printf(c->err, "\n%s: more than %u errors; the rest are not shown", c->file, PT_CFG_MAX_ERRORS);
        return;
    }
    if (c->err->len) pt_buf_append(c->err, "\n", 1);
    pt_buf_printf(c->err, "%s:%u: %s: ", c->file, line, c->pathlen ? c->path : "(top level)");
    pt_buf_vprintf(c->err, fmt, ap);
}

typedef struct err_line {
    const char *text;
    size_t len;
    unsigned long line;
    size_t order;
} err_line;

static int err_line_cmp(const void *a, const void *b)
{
    const err_line *x = a, *y = b;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void pt_cfg_sort_errors(pt_cfg *c)
{
    size_t n = 1, flen = strlen(c->file);
    if (!c->err->data) return;
    for (size_t i = 0; i < c->err->len; i++) n += c->err->data[i] == '\n';
    err_line *lines = calloc(n, sizeof *lines);
    pt_buf sorted = PT_BUF_INIT;
    if (!lines) return;
    const char *p = c->err->data, *end = p + c->err->len;
    for (size_t i = 0; i < n; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lines[i] = (err_line){ p, nl ? (size_t)(nl - p) : (size_t)(end - p), ULONG_MAX, i };
        if (lines[i].len > flen + 1 && memcmp(p, c->file, flen) == 0 && p[flen] == ':')
            lines[i].line = strtoul(p + flen + 1, NULL, 10);
        p = nl ? nl + 1 : end;
    }
    qsort(lines, n, sizeof *lines, err_line_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i) rc = pt_buf_append(&sorted, "\n", 1);
        if (rc == 0) rc = pt_buf_append(&sorted, lines[i].text, lines[i].len);
    }
    if (rc == 0) {
        pt_buf_reset(c->err);
        rc = pt_buf_append(c->err, sorted.data, sorted.len);
    }
    pt_buf_release(&sorted);
    free(lines);
}

int pt_cfg_fail(pt_cfg *c, const pt_cfg_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, at ? at->line : 1, fmt, ap);
    va_end(ap);
    return -1;
}

int pt_cfg_fail_key(pt_cfg *c, const char *key, const pt_cfg_node *at, const char *fmt, ...)
{
    size_t mark = pt_cfg_push_key(c, key);
    va_list ap;
    va_start(ap, fmt);
    vfail(c, at ? at->line : 1, fmt, ap);
    va_end(ap);
    pt_cfg_pop(c, mark);
    return -1;
}

int pt_cfg_oom(pt_cfg *c, const pt_cfg_node *at) { return pt_cfg_fail(c, at, "out of memory"); }

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
int pt_cfg_expand(pt_cfg *c, const pt_cfg_node *n, char **out)
{
    if (n->kind != PT_CFG_SCALAR) return pt_cfg_fail(c, n, "expected a single value, got %s", pt_cfg_kind_name(n));
    if (strlen(n->text) != n->len) return pt_cfg_fail(c, n, "value contains a NUL byte");
    if (n->literal) return (*out = strdup(n->text)) ? 0 : pt_cfg_oom(c, n);
    pt_buf b;
    pt_buf_init(&b, PT_CFG_MAX_SCALAR);
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
            return pt_cfg_fail(c, n,
                               "malformed environment reference in '%s' (expected ${NAME}; write $${ for a literal ${)",
                               PT_CFG_SHOW(n));
        }
        char name[129];
        memcpy(name, s + i + 2, nlen);
        name[nlen] = '\0';
        const char *val = getenv(name);
        if (!val) {
            pt_buf_release(&b);
            return pt_cfg_fail(c, n, "environment variable '%s' is not set", name);
        }
        rc = pt_buf_append(&b, s + run, i - run);
        if (rc == 0) rc = pt_buf_append_str(&b, val);
        i += nlen + 3;
        run = i;
    }
    if (rc == 0) rc = pt_buf_append(&b, s + run, len - run);
    if (rc != 0) {
        pt_buf_release(&b);
        return rc == PT_ETOOBIG ? pt_cfg_fail(c, n, "value longer than %u bytes after expansion", PT_CFG_MAX_SCALAR)
                                : pt_cfg_oom(c, n);
    }
    *out = pt_buf_detach(&b, NULL);
    return *out ? 0 : pt_cfg_oom(c, n);
}

/* A scalar value (not null), expanded; replaces and frees *out. */
int pt_cfg_str(pt_cfg *c, const pt_cfg_node *n, char **out)
{
    if (pt_cfg_is_null(n)) return pt_cfg_fail(c, n, "missing value");
    char *s = NULL;
    if (pt_cfg_expand(c, n, &s)) return -1;
    free(*out);
    *out = s;
    return 0;
}

int pt_cfg_bool(pt_cfg *c, const pt_cfg_node *n, bool *out)
{
    char *s = NULL;
    if (pt_cfg_is_null(n)) return pt_cfg_fail(c, n, "missing value (expected true or false)");
    if (pt_cfg_expand(c, n, &s)) return -1;
    int rc = 0;
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) *out = false;
    else rc = pt_cfg_fail(c, n, "expected true or false, got '%s'", PT_CFG_SHOW(n));
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

int pt_cfg_uint(pt_cfg *c, const pt_cfg_node *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *s = NULL;
    if (pt_cfg_is_null(n)) return pt_cfg_fail(c, n, "missing value (expected a number)");
    if (pt_cfg_expand(c, n, &s)) return -1;
    unsigned long long v;
    int rc = 0;
    if (!pt_slice_to_u64(pt_slice_cstr(s), &v))
        rc = pt_cfg_fail(c, n, "expected a whole number, got '%s'", PT_CFG_SHOW(n));
    else if (v < lo || v > hi)
        rc = pt_cfg_fail(c, n, "must be between %llu and %llu, got '%s'", (unsigned long long)lo,
                  (unsigned long long)hi, PT_CFG_SHOW(n));
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

static const char *fmt_bytes(uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%llu", (unsigned long long)n);
    return out;
}

/* A number with units: what it is called, how it may be written, how bounds read. */
typedef struct scaled_kind {
    const char *noun;      /* "duration" */
    const unit *units;
    const char *examples;  /* "500ms, 10s, ..." */
    const char *(*fmt)(uint64_t v, char *out, size_t cap);
    const char *suffix;    /* after the upper bound: " bytes" */
} scaled_kind;

static const scaled_kind duration_kind = { "duration", duration_units,
                                           "500ms, 10s, 2m or 1h (a plain number is milliseconds)", fmt_ms, "" };
static const scaled_kind size_kind = { "size", size_units, "512KiB, 10MB or a number of bytes", fmt_bytes, " bytes" };

static int get_scaled(pt_cfg *c, const pt_cfg_node *n, const scaled_kind *k, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *s = NULL;
    if (pt_cfg_is_null(n)) return pt_cfg_fail(c, n, "missing value (expected a %s)", k->noun);
    if (pt_cfg_expand(c, n, &s)) return -1;
    uint64_t v = 0;
    int rc = 0;
    char a[32], b[32];
    if (!parse_scaled(s, k->units, &v))
        rc = pt_cfg_fail(c, n, "expected a %s like %s, got '%s'", k->noun, k->examples, PT_CFG_SHOW(n));
    else if (v < lo || v > hi)
        rc = pt_cfg_fail(c, n, "must be between %s and %s%s, got '%s'", k->fmt(lo, a, sizeof a),
                         k->fmt(hi, b, sizeof b), k->suffix, PT_CFG_SHOW(n));
    else
        *out = v;
    free(s);
    return rc;
}

int pt_cfg_duration(pt_cfg *c, const pt_cfg_node *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return get_scaled(c, n, &duration_kind, lo, hi, out);
}

int pt_cfg_size(pt_cfg *c, const pt_cfg_node *n, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return get_scaled(c, n, &size_kind, lo, hi, out);
}

/* A URL path: starts with '/', no whitespace, controls, '?' or '#'. */
int pt_cfg_urlpath(pt_cfg *c, const pt_cfg_node *n, char **out)
{
    char *s = NULL;
    if (pt_cfg_str(c, n, &s)) return -1;
    int rc = 0;
    if (s[0] != '/') rc = pt_cfg_fail(c, n, "must start with '/', got '%s'", PT_CFG_SHOW(n));
    else if (strlen(s) > MAX_URL_PATH) rc = pt_cfg_fail(c, n, "longer than %u bytes", MAX_URL_PATH);
    for (const char *p = s; rc == 0 && *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
            rc = pt_cfg_fail(c, n, "must be a plain path without spaces, '?' or '#', got '%s'", PT_CFG_SHOW(n));
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
int pt_cfg_file(pt_cfg *c, const pt_cfg_node *n, char **out)
{
    char *s = NULL;
    if (pt_cfg_str(c, n, &s)) return -1;
    if (s[0] == '\0') {
        free(s);
        return pt_cfg_fail(c, n, "missing file name");
    }
    if (s[0] != '/' && c->basedir) {
        char *joined = NULL;
        if (asprintf(&joined, "%s/%s", c->basedir, s) < 0) joined = NULL;
        free(s);
        if (!joined) return pt_cfg_oom(c, n);
        s = joined;
    }
    if (access(s, R_OK) != 0) {
        int e = errno;
        free(s);
        return pt_cfg_fail(c, n, "cannot read '%s': %s", PT_CFG_SHOW(n), strerror(e));
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

/* The candidate pt_cfg_closest to word, if close enough to be a likely typo; else NULL. */
const char *pt_cfg_closest(const char *word, const char *const *cands, size_t ncands)
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

int pt_cfg_unknown_name(pt_cfg *c, const pt_cfg_node *at, const char *what, const char *const *names, size_t n)
{
    const char *guess = pt_cfg_closest(at->text ? at->text : "", names, n);
    if (guess) return pt_cfg_fail(c, at, "unknown %s '%s' (did you mean '%s'?)", what, PT_CFG_SHOW(at), guess);
    pt_buf list = PT_BUF_INIT;
    for (size_t i = 0; i < n; i++) pt_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    int rc = pt_cfg_fail(c, at, "unknown %s '%s' (expected one of: %s)", what, PT_CFG_SHOW(at),
                         list.data ? list.data : "");
    pt_buf_release(&list);
    return rc;
}

void pt_cfg_kv_free(pt_cfg_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

int pt_cfg_choice(pt_cfg *c, const pt_cfg_node *v, const char *what, const char *const *names, size_t n, int *out)
{
    char *s = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    size_t i = 0;
    while (i < n && strcmp(s, names[i]) != 0) i++;
    free(s);
    if (i == n) return pt_cfg_unknown_name(c, v, what, names, n);
    *out = (int)i;
    return 0;
}
