/* json_scan.c: validating JSON scanner that reports value spans (see json_scan.h). */
#include "core/json_scan.h"

#include <stdint.h>
#include <string.h>

#include "core/err.h"

typedef struct scan {
    const char *p;
    size_t len;
    size_t pos;
} scan;

static inline void skip_ws(scan *s) { s->pos = pt_jscan_skip_ws(s->p, s->len, s->pos); }

/* Length of the UTF-8 sequence starting at p[0] (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
    else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
    if (cp >= 0xd800 && cp <= 0xdfff) return 0;
    return n;
}

/* Scans the string at p[*pos] == '"'. On success *pos is past the closing quote and
 * *escaped says whether a backslash occurs; on failure *pos is at the offending byte. */
static int string_at(const char *text, size_t len, size_t *pos, bool *escaped)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = *pos + 1;
    bool esc = false;
    for (;;) {
        i = pt_jscan_plain_end(text, len, i);
        if (i >= len) break;
        unsigned char c = p[i];
        if (c == '"') {
            *pos = i + 1;
            if (escaped) *escaped = esc;
            return 0;
        }
        if (c < 0x20) break;
        if (c == '\\') {
            esc = true;
            if (i + 1 >= len) break;
            char e = (char)p[i + 1];
            if (e == 'u') {
                if (i + 6 > len) break;
                int k = 2;
                while (k < 6 && pt_hex_digit((char)p[i + k]) >= 0) k++;
                if (k < 6) break;
                i += 6;
                continue;
            }
            if (e == 0 || !strchr("\"\\/bfnrt", e)) break;
            i += 2;
            continue;
        }
        size_t n = utf8_len(p + i, len - i);
        if (!n) break;
        i += n;
    }
    *pos = i;
    return PT_EPARSE;
}

/* A plain string (printable ASCII, no escape: most keys and many values) is checked
 * inline; anything else goes to string_at from its start. */
static inline int scan_string(scan *s, bool *escaped)
{
    size_t end = pt_jscan_plain_end(s->p, s->len, s->pos + 1);
    if (end < s->len && s->p[end] == '"') {
        s->pos = end + 1;
        *escaped = false;
        return 0;
    }
    return string_at(s->p, s->len, &s->pos, escaped);
}

int pt_jscan_string_at(const char *p, size_t len, size_t *pos, bool *escaped)
{
    if (*pos >= len || p[*pos] != '"') return PT_EPARSE;
    return string_at(p, len, pos, escaped);
}

static int scan_number(scan *s)
{
    size_t i = s->pos;
    if (i < s->len && s->p[i] == '-') i++;
    if (i >= s->len) return PT_EPARSE;
    if (s->p[i] == '0') {
        i++;
    } else if (s->p[i] >= '1' && s->p[i] <= '9') {
        while (i < s->len && s->p[i] >= '0' && s->p[i] <= '9') i++;
    } else {
        s->pos = i;
        return PT_EPARSE;
    }
    if (i < s->len && s->p[i] == '.') {
        i++;
        size_t d = i;
        while (i < s->len && s->p[i] >= '0' && s->p[i] <= '9') i++;
        if (i == d) { s->pos = i; return PT_EPARSE; }
    }
    if (i < s->len && (s->p[i] == 'e' || s->p[i] == 'E')) {
        i++;
        if (i < s->len && (s->p[i] == '+' || s->p[i] == '-')) i++;
        size_t d = i;
        while (i < s->len && s->p[i] >= '0' && s->p[i] <= '9') i++;
        if (i == d) { s->pos = i; return PT_EPARSE; }
    }
    s->pos = i;
    return 0;
}

static int scan_lit(scan *s, const char *lit, size_t n)
{
    if (s->len - s->pos < n || memcmp(s->p + s->pos, lit, n) != 0) return PT_EPARSE;
    s->pos += n;
    return 0;
}

static int scan_val(scan *s, unsigned depth);
static int scan_val_at(scan *s, unsigned depth);

/* As scan_val_at, with strings and numbers (most values) scanned here, without a call. */
static inline int scan_member_val(scan *s, unsigned depth)
{
    if (s->pos < s->len) {
        char c = s->p[s->pos];
        if (c == '"') {
            bool escaped;
            return scan_string(s, &escaped);
        }
        if ((c >= '0' && c <= '9') || c == '-') return scan_number(s);
    }
    return scan_val_at(s, depth);
}

static int scan_obj_members(scan *s, unsigned depth, pt_jfield *f, size_t max, size_t *nf)
{
    /* s->p[s->pos] == '{' */
    s->pos++;
    size_t count = 0;
    skip_ws(s);
    if (s->pos < s->len && s->p[s->pos] == '}') {
        s->pos++;
        if (nf) *nf = 0;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->pos >= s->len || s->p[s->pos] != '"') return PT_EPARSE;
        size_t kstart = s->pos + 1;
        bool kesc;
        int rc = scan_string(s, &kesc);
        if (rc) return rc;
        size_t kend = s->pos - 1;
        skip_ws(s);
        if (s->pos >= s->len || s->p[s->pos] != ':') return PT_EPARSE;
        s->pos++;
        skip_ws(s);
        size_t vstart = s->pos;
        rc = scan_member_val(s, depth + 1);
        if (rc) return rc;
        if (f && count < max) {
            f[count].key = pt_slice_from(s->p + kstart, kend - kstart);
            f[count].vstart = vstart;
            f[count].vend = s->pos;
            f[count].key_escaped = kesc;
        }
        count++;
        skip_ws(s);
        if (s->pos >= s->len) return PT_EPARSE;
        if (s->p[s->pos] == ',') {
            s->pos++;
            continue;
        }
        if (s->p[s->pos] == '}') {
            s->pos++;
            if (nf) *nf = count;
            return 0;
        }
        return PT_EPARSE;
    }
}

static int scan_arr(scan *s, unsigned depth)
{
    s->pos++;
    skip_ws(s);
    if (s->pos < s->len && s->p[s->pos] == ']') {
        s->pos++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        int rc = scan_member_val(s, depth + 1);
        if (rc) return rc;
        skip_ws(s);
        if (s->pos >= s->len) return PT_EPARSE;
        if (s->p[s->pos] == ',') {
            s->pos++;
            continue;
        }
        if (s->p[s->pos] == ']') {
            s->pos++;
            return 0;
        }
        return PT_EPARSE;
    }
}

/* The value at s->pos, whitespace skipped already. */
static int scan_val_at(scan *s, unsigned depth)
{
    if (depth > PT_JSCAN_MAX_DEPTH) return PT_EPARSE;
    if (s->pos >= s->len) return PT_EPARSE;
    switch (s->p[s->pos]) {
    case '{': return scan_obj_members(s, depth, NULL, 0, NULL);
    case '[': return scan_arr(s, depth);
    case '"': {
        bool escaped;
        return scan_string(s, &escaped);
    }
    case 't': return scan_lit(s, "true", 4);
    case 'f': return scan_lit(s, "false", 5);
    case 'n': return scan_lit(s, "null", 4);
    default: return scan_number(s);
    }
}

static int scan_val(scan *s, unsigned depth)
{
    skip_ws(s);
    return scan_val_at(s, depth);
}

int pt_jscan_value(const char *p, size_t len, size_t *pos)
{
    scan s = { p, len, *pos };
    int rc = scan_val(&s, 0);
    *pos = s.pos;
    return rc;
}

/* Checks that only whitespace follows p[pos..). */
static int trailing(const char *p, size_t len, size_t pos, size_t *errpos)
{
    scan s = { p, len, pos };
    skip_ws(&s);
    if (errpos) *errpos = s.pos;
    return s.pos == len ? 0 : PT_EPARSE;
}

int pt_jscan_object_document(const char *p, size_t len, pt_jfield *f, size_t max, size_t *nf, size_t *open,
                             size_t *close, size_t *errpos)
{
    int rc = pt_jscan_object(p, len, 0, f, max, nf, open, close);
    if (rc) {
        if (errpos) *errpos = *close;
        return rc;
    }
    return trailing(p, len, *close + 1, errpos);
}

int pt_jscan_document(const char *p, size_t len, size_t *errpos)
{
    scan s = { p, len, 0 };
    int rc = scan_val(&s, 0);
    if (rc == 0) {
        skip_ws(&s);
        if (s.pos != len) rc = PT_EPARSE;
    }
    if (errpos) *errpos = s.pos;
    return rc;
}

int pt_jscan_object(const char *p, size_t len, size_t start, pt_jfield *f, size_t max, size_t *nf,
                    size_t *open, size_t *close)
{
    scan s = { p, len, start };
    skip_ws(&s);
    if (s.pos >= len || p[s.pos] != '{') {
        if (close) *close = s.pos;
        return s.pos >= len ? PT_EPARSE : PT_EINVAL;
    }
    if (open) *open = s.pos;
    size_t count = 0;
    int rc = scan_obj_members(&s, 1, f, max, &count);
    if (nf) *nf = count;
    if (close) *close = rc ? s.pos : s.pos - 1;
    return rc;
}

/* ---- skimming (no validation) ---- */

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The bytes a skimmed object or array has to look at: quotes and brackets; those that end
 * a number or literal; those between members. */
static const unsigned char skim_stop[256] = { ['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1 };
static const unsigned char skim_scalar_end[256] = { [','] = 1, ['}'] = 1,  [']'] = 1, [' '] = 1,
                                                    ['\t'] = 1, ['\n'] = 1, ['\r'] = 1 };
static const unsigned char skim_gap[256] = { [','] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1 };

/* The offset of the first '"' or '\\' of p[i..len), or len. */
static inline size_t skim_string_stop(const char *p, size_t len, size_t i)
{
    bool found;
    i = pt__jscan_find16(p, len, i, PT__JSCAN_QUOTE_ESCAPE, &found);
    if (found) return i;
    while (i < len && p[i] != '"' && p[i] != '\\') i++;
    return i;
}

/* The offset of the first quote or bracket of p[i..len), or len. */
static inline size_t skim_struct_stop(const char *p, size_t len, size_t i)
{
    bool found;
    i = pt__jscan_find16(p, len, i, PT__JSCAN_QUOTE_BRACKET, &found);
    if (found) return i;
    while (i < len && !skim_stop[(unsigned char)p[i]]) i++;
    return i;
}

/* Inside a string at p[i]: the offset just past its closing quote (len when there is none).
 * A backslash takes the byte after it as it is, and sets *escaped. */
static inline size_t skim_string_rest(const char *p, size_t len, size_t i, bool *escaped)
{
    for (;;) {
        i = skim_string_stop(p, len, i);
        if (i >= len) return len;
        if (p[i] == '"') return i + 1;
        *escaped = true;
        if (len - i <= 2) return len; /* a backslash and at most one byte: no closing quote */
        i += 2;
    }
}

/* p[i] == '"': the offset just past the closing quote (len when there is none). */
static inline size_t skim_string(const char *p, size_t len, size_t i)
{
    bool escaped;
    return skim_string_rest(p, len, i + 1, &escaped);
}

/* The walk through an object or array under way at p[*at] (*depth brackets open, in a string
 * when *in_string), string by string and bracket by bracket, until it ends (its end is
 * returned) or gets to stop or beyond (0 is returned, *at and the state say where it is). */
static size_t skim_walk(const char *p, size_t len, size_t *at, size_t stop, size_t *depth, bool *in_string)
{
    size_t i = *at;
    bool escaped;
    while (i < stop) {
        if (*in_string) {
            i = skim_string_rest(p, len, i, &escaped);
            *in_string = false;
            continue;
        }
        i = skim_struct_stop(p, len, i);
        if (i >= len) return len;
        char c = p[i++];
        if (c == '"') *in_string = true;
        else if (c == '{' || c == '[') ++*depth;
        else if (--*depth == 0) return i;
    }
    *at = i;
    return 0;
}

/* p[i] is '{' or '[': the end of that object or array. Where the machine can, sixteen bytes
 * at a time: the quotes of a block without a backslash open and close strings as they come
 * (a running xor of their bits marks the bytes inside one), so its brackets outside strings
 * are found at once and only they are looked at one by one. A block without a quote or
 * bracket (inside a long string, or among numbers) costs a test; one with a backslash is
 * walked string by string. */
static size_t skim_nested(const char *p, size_t len, size_t i)
{
    size_t depth = 0;
    bool in_string = false;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20),
                  open = _mm_set1_epi8('{'), close = _mm_set1_epi8('}');
    while (len - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i)), y = _mm_or_si128(x, space);
        __m128i q = _mm_cmpeq_epi8(x, quote), b = _mm_cmpeq_epi8(x, backslash);
        __m128i o = _mm_cmpeq_epi8(y, open), c = _mm_cmpeq_epi8(y, close); /* '[' and ']' fold onto these */
        unsigned qm = (unsigned)_mm_movemask_epi8(q), bm = (unsigned)_mm_movemask_epi8(b);
        if (bm) { /* escapes: this block string by string (the walk may end beyond it) */
            size_t end = skim_walk(p, len, &i, i + 16, &depth, &in_string);
            if (end) return end;
            continue;
        }
        unsigned om = (unsigned)_mm_movemask_epi8(o), cm = (unsigned)_mm_movemask_epi8(c);
        if (!qm && (in_string || !(om | cm))) {
            i += 16;
            continue;
        }
        unsigned inside = qm; /* bit k: an odd number of quotes at or before byte k */
        inside ^= inside << 1;
        inside ^= inside << 2;
        inside ^= inside << 4;
        inside ^= inside << 8;
        if (in_string) inside = ~inside;
        inside &= 0xffff;
        in_string = inside >> 15;
        om &= ~inside;
        cm &= ~inside;
        for (unsigned br = om | cm; br; br &= br - 1) {
            unsigned k = (unsigned)__builtin_ctz(br);
            if (om >> k & 1) depth++;
            else if (--depth == 0) return i + k + 1;
        }
        i += 16;
    }
#endif
    return skim_walk(p, len, &i, SIZE_MAX, &depth, &in_string);
}

/* The end of the value at p[i]. */
static size_t skim_value(const char *p, size_t len, size_t i)
{
    if (p[i] == '"') return skim_string(p, len, i);
    if (p[i] == '{' || p[i] == '[') return skim_nested(p, len, i);
    while (i < len && !skim_scalar_end[(unsigned char)p[i]]) i++;
    return i;
}

int pt_jscan_skim_object(const char *p, size_t len, pt_jfield *f, size_t max, size_t *nf)
{
    size_t i = 0, count = 0;
    *nf = 0;
    while (i < len && is_ws(p[i])) i++;
    if (i >= len || p[i] != '{') return PT_EPARSE;
    for (i++;;) {
        while (i < len && skim_gap[(unsigned char)p[i]]) i++;
        if (i >= len) return PT_EPARSE;
        if (p[i] == '}') break;
        if (p[i] != '"') return PT_EPARSE;
        bool kesc = false;
        size_t kend = skim_string_rest(p, len, i + 1, &kesc);
        if (kend >= len) return PT_EPARSE;
        pt_slice key = pt_slice_from(p + i + 1, kend - i - 2);
        i = kend;
        while (i < len && is_ws(p[i])) i++;
        if (i >= len || p[i] != ':') return PT_EPARSE;
        i++;
        while (i < len && is_ws(p[i])) i++;
        if (i >= len) return PT_EPARSE;
        size_t vstart = i;
        i = skim_value(p, len, i);
        if (count < max) f[count] = (pt_jfield){ key, vstart, i, kesc };
        count++;
    }
    *nf = count;
    return 0;
}

/* Decodes the escapes of a string body into out; -1 on overflow or bad escape. */
static long decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c != '\\') {
            if (o + 1 >= cap) return -1;
            out[o++] = c;
            continue;
        }
        if (++i >= n) return -1;
        char e = p[i];
        unsigned cp = 0;
        switch (e) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case '"': case '\\': case '/': cp = (unsigned char)e; break;
        case 'u': {
            if (i + 4 >= n) return -1;
            for (int k = 1; k <= 4; k++) {
                int h = pt_hex_digit(p[i + k]);
                if (h < 0) return -1;
                cp = (cp << 4) | (unsigned)h;
            }
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < n && p[i + 1] == '\\' && p[i + 2] == 'u') {
                unsigned lo = 0;
                for (int k = 3; k <= 6; k++) {
                    int h = pt_hex_digit(p[i + k]);
                    if (h < 0) return -1;
                    lo = (lo << 4) | (unsigned)h;
                }
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            break;
        }
        default: return -1;
        }
        char tmp[4];
        size_t tn;
        if (cp < 0x80) { tmp[0] = (char)cp; tn = 1; }
        else if (cp < 0x800) { tmp[0] = (char)(0xc0 | (cp >> 6)); tmp[1] = (char)(0x80 | (cp & 0x3f)); tn = 2; }
        else if (cp < 0x10000) {
            tmp[0] = (char)(0xe0 | (cp >> 12)); tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[2] = (char)(0x80 | (cp & 0x3f)); tn = 3;
        } else {
            tmp[0] = (char)(0xf0 | (cp >> 18)); tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
            tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); tmp[3] = (char)(0x80 | (cp & 0x3f)); tn = 4;
        }
        if (o + tn >= cap) return -1;
        memcpy(out + o, tmp, tn);
        o += tn;
    }
    if (o >= cap) return -1;
    out[o] = '\0';
    return (long)o;
}

/* Whether a raw key longer than name, holding an escape, decodes to name. */
static bool key_decodes_to(pt_slice raw, const char *name, size_t nlen)
{
    char tmp[128];
    long n = decode(raw.ptr, raw.len, tmp, sizeof tmp);
    return n >= 0 && (size_t)n == nlen && memcmp(tmp, name, nlen) == 0;
}

/* Whether the raw key decodes to name (nlen bytes). An escape makes a key shorter than its
 * raw form, so a raw key shorter than name never matches and one of the same length matches
 * only byte for byte, without an escape (which a plain name, one without a backslash, rules
 * out by itself). A longer one matches only through an escape among its first nlen bytes
 * (without one they are the decoded key's first bytes, and more follow): it is decoded only
 * then. Most keys differ at once, in their first byte. */
static inline bool key_is_n(pt_slice raw, const char *name, size_t nlen, bool plain_name)
{
    if (raw.len < nlen) return false;
    if (raw.len == nlen)
        return (!nlen || raw.ptr[0] == name[0]) && memcmp(raw.ptr, name, nlen) == 0 &&
               (plain_name || !memchr(raw.ptr, '\\', raw.len));
    for (size_t i = 0; i < nlen; i++) {
        if (raw.ptr[i] == '\\') return key_decodes_to(raw, name, nlen);
        if (raw.ptr[i] != name[i]) return false;
    }
    return false;
}

bool pt_jscan_key_is(pt_slice raw_key, const char *name) { return key_is_n(raw_key, name, strlen(name), false); }

bool pt__jscan_escaped_key_is(pt_slice raw, const char *name, size_t nlen) { return key_is_n(raw, name, nlen, true); }

int pt_jscan_findn(const pt_jfield *f, size_t n, const char *name, size_t nlen, bool *dup)
{
    int found = -1;
    if (dup) *dup = false;
    for (size_t i = 0; i < n; i++) {
        if (!pt__jscan_field_is(&f[i], name, nlen)) continue;
        if (found >= 0) {
            if (dup) *dup = true;
        } else {
            found = (int)i;
        }
    }
    return found;
}

long pt_jscan_string(const char *p, size_t vstart, size_t vend, char *out, size_t cap)
{
    if (vend < vstart + 2 || p[vstart] != '"' || p[vend - 1] != '"') return -1;
    const char *s = p + vstart + 1;
    size_t n = vend - vstart - 2;
    if (memchr(s, '\\', n)) return decode(s, n, out, cap);
    if (n >= cap) return -1; /* as decode: the bytes and the NUL must fit */
    memcpy(out, s, n);
    out[n] = '\0';
    return (long)n;
}
