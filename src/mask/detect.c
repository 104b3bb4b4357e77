/* detect.c: the built-in detectors (detect.h). Each scanner reads forward from one start
 * position and never further than its value's longest form, so a stream holds back at
 * most PT_DETECT_MAX bytes for it. */
#include "mask/detect.h"

#include <string.h>

static const char *const names[] = {
#define PT_DETECTOR_NAME(n, name) name,
    PT_DETECTOR_MAP(PT_DETECTOR_NAME)
#undef PT_DETECTOR_NAME
};

const char *pt_detector_name(pt_detector d) { return (unsigned)d < PT_DET_COUNT ? names[d] : "?"; }

int pt_detector_from_name(const char *name)
{
    for (int i = 0; i < PT_DET_COUNT; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(int c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
static bool is_alnum(int c) { return is_digit(c) || is_alpha(c); }
static bool is_local(int c) { return is_alnum(c) || (c && strchr("._%+-", c)); }
static bool is_label(int c) { return is_alnum(c) || c == '-'; }
static bool is_keych(int c) { return is_alnum(c) || c == '_' || c == '-'; }

bool pt_luhn(const char *s, size_t n)
{
    unsigned sum = 0, k = 0;
    for (size_t i = n; i-- > 0;) {
        if (!is_digit((unsigned char)s[i])) continue;
        unsigned d = (unsigned)(s[i] - '0');
        if (k++ & 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return k > 0 && sum % 10 == 0;
}

/* The byte at i, or 0 past the end (0 belongs to no class, so runs stop there). */
static int at(const char *s, size_t n, size_t i) { return i < n ? (unsigned char)s[i] : 0; }

/* Before reading s[j]: past the end of a text that goes on, the value could still be
 * anything. Past the end of a final text, at() reads 0 and the value stops there. */
#define NEED(j)                                            \
    do {                                                   \
        if ((j) >= n && !final) return PT_SCAN_MORE;       \
    } while (0)

/* After a value ending at e: no letter or digit may follow. */
static pt_scan close_at(const char *s, size_t n, size_t e, bool final, size_t *end)
{
    NEED(e);
    if (is_alnum(at(s, n, e))) return PT_SCAN_NONE;
    *end = e;
    return PT_SCAN_MATCH;
}

/* ---- e-mail ---- */

static pt_scan email(const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    if (is_local(prev) || !is_alnum(at(s, n, i))) return PT_SCAN_NONE;
    size_t j = i;
    for (;; j++) {
        NEED(j);
        if (!is_local(at(s, n, j))) break;
        if (j - i >= 64) return PT_SCAN_NONE;
    }
    if (at(s, n, j) != '@') return PT_SCAN_NONE;
    size_t k = j + 1, labels = 0, last = 0, e = 0;
    for (;;) {
        size_t b = k;
        for (;; k++) {
            NEED(k);
            if (!is_label(at(s, n, k))) break;
            if (k - j > 255) return PT_SCAN_NONE;
        }
        if (k == b) break;
        labels++;
        last = b;
        e = k;
        if (at(s, n, k) != '.') break;
        NEED(k + 1);
        if (!is_label(at(s, n, k + 1))) break;
        k++;
    }
    if (labels < 2 || e - last < 2) return PT_SCAN_NONE;
    for (size_t t = last; t < e; t++)
        if (!is_alpha((unsigned char)s[t])) return PT_SCAN_NONE;
    *end = e;
    return PT_SCAN_MATCH;
}

/* ---- digit groups (phone, card) ---- */

typedef struct digit_groups {
    size_t g[24];  /* the first 24 group sizes */
    size_t ng, digits, end;
} digit_groups;

/* Digits from i, in groups split by one separator from seps (or two: ") ", " ("); stops
 * before separators no digit follows, or past maxlen bytes. 1: the text may go on. */
static int groups(const char *s, size_t n, size_t i, bool final, const char *seps, size_t maxlen, digit_groups *d)
{
    size_t j = i, cur = 0;
    d->ng = d->digits = 0;
    for (;;) {
        if (j - i > maxlen) break;
        if (j >= n && !final) return 1;
        int c = at(s, n, j);
        if (is_digit(c)) {
            cur++;
            d->digits++;
            j++;
            continue;
        }
        if (!cur || !c || !strchr(seps, c)) break;
        size_t k = j + 1;
        if (k >= n && !final) return 1;
        if (at(s, n, k) && strchr(seps, at(s, n, k))) k++;
        if (k >= n && !final) return 1;
        if (!is_digit(at(s, n, k))) break;
        if (d->ng < 24) d->g[d->ng] = cur;
        d->ng++;
        cur = 0;
        j = k;
    }
    if (cur) {
        if (d->ng < 24) d->g[d->ng] = cur;
        d->ng++;
    }
    d->end = j;
    return 0;
}

/* Grouped digits are a card only in a card's layout: fours (the last group shorter), or
 * 4-6-5 and 4-6-4 (American Express, Diners). */
static bool card_layout(const digit_groups *d)
{
    if (d->ng == 1) return true;
    if (d->ng == 3 && d->g[0] == 4 && d->g[1] == 6 && (d->g[2] == 5 || d->g[2] == 4)) return true;
    if (d->ng > 24) return false;
    for (size_t k = 0; k + 1 < d->ng; k++)
        if (d->g[k] != 4) return false;
    return d->g[d->ng - 1] >= 1 && d->g[d->ng - 1] <= 4;
}

static pt_scan card(const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    if (is_alnum(prev) || !is_digit(at(s, n, i))) return PT_SCAN_NONE;
    digit_groups d;
    if (groups(s, n, i, final, " -", 40, &d)) return PT_SCAN_MORE;
    if (d.digits < 13 || d.digits > 19 || !card_layout(&d) || !pt_luhn(s + i, d.end - i)) return PT_SCAN_NONE;
    return close_at(s, n, d.end, final, end);
}

static bool nanp(const digit_groups *d)
{
    if (d->ng == 3) return d->g[0] == 3 && d->g[1] == 3 && d->g[2] == 4;
    return d->ng == 4 && d->g[0] == 1 && d->g[1] == 3 && d->g[2] == 3 && d->g[3] == 4;
}

static pt_scan phone(const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    int c = at(s, n, i);
    if (is_alnum(prev) || prev == '+' || prev == '(' || (c != '+' && c != '(' && !is_digit(c))) return PT_SCAN_NONE;
    size_t j = i + (c == '+' || c == '(');
    NEED(j);
    digit_groups d;
    if (groups(s, n, j, final, c == '+' ? " -.()" : " -.)", 24, &d)) return PT_SCAN_MORE;
    bool ok = c == '+' ? d.digits >= 8 && d.digits <= 15 : nanp(&d);
    if (c == '(') ok = ok && d.ng == 3 && at(s, n, i + 4) == ')';
    if (!ok) return PT_SCAN_NONE;
    return close_at(s, n, d.end, final, end);
}

/* ---- national ids ---- */

static pt_scan ssn(const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    if (is_alnum(prev) || !is_digit(at(s, n, i))) return PT_SCAN_NONE;
    static const char shape[] = "ddd-dd-dddd";
    int sep = 0;
    for (size_t k = 0; k < 11; k++) {
        NEED(i + k);
        int c = at(s, n, i + k);
        if (shape[k] == 'd' ? !is_digit(c) : (c != '-' && c != ' ') || (sep && c != sep)) return PT_SCAN_NONE;
        if (shape[k] == '-') sep = c;
    }
    const char *p = s + i;
    if (memcmp(p, "000", 3) == 0 || memcmp(p, "666", 3) == 0 || p[0] == '9') return PT_SCAN_NONE;
    if (memcmp(p + 4, "00", 2) == 0 || memcmp(p + 7, "0000", 4) == 0) return PT_SCAN_NONE;
    NEED(i + 12);
    if (at(s, n, i + 11) == sep && is_digit(at(s, n, i + 12))) return PT_SCAN_NONE; /* a longer number */
    return close_at(s, n, i + 11, final, end);
}

static pt_scan uk_nino(const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    if (is_alnum(prev) || !is_upper(at(s, n, i))) return PT_SCAN_NONE;
    NEED(i + 1);
    int a = at(s, n, i), b = at(s, n, i + 1);
    if (!is_upper(b) || strchr("DFIQUV", a) || strchr("DFIOQUV", b)) return PT_SCAN_NONE;
    static const char *const bad[] = { "BG", "GB", "NK", "KN", "TN", "NT", "ZZ" };
    for (size_t k = 0; k < 7; k++)
        if (a == bad[k][0] && b == bad[k][1]) return PT_SCAN_NONE;
    size_t j = i + 2;
    NEED(j);
    bool spaced = at(s, n, j) == ' ';
    for (size_t digits = 0; digits < 6; digits++) {
        if (spaced && digits % 2 == 0) {
            NEED(j);
            if (at(s, n, j++) != ' ') return PT_SCAN_NONE;
        }
        NEED(j);
        if (!is_digit(at(s, n, j++))) return PT_SCAN_NONE;
    }
    if (spaced) {
        NEED(j);
        if (at(s, n, j++) != ' ') return PT_SCAN_NONE;
    }
    NEED(j);
    if (at(s, n, j) < 'A' || at(s, n, j) > 'D') return PT_SCAN_NONE;
    return close_at(s, n, j + 1, final, end);
}

/* ---- API keys ---- */

typedef struct key_form {
    const char *prefix;
    size_t min, max;      /* characters after the prefix */
    bool (*ch)(int c);    /* what those characters are */
    bool digit;           /* at least one digit among them */
} key_form;

static bool is_upper_digit(int c) { return is_upper(c) || is_digit(c); }
static bool is_word(int c) { return is_alnum(c) || c == '_'; }
static bool is_alnum_fn(int c) { return is_alnum(c); }

static const key_form forms[] = {
    { "sk-", 20, 256, is_keych, true },         /* OpenAI (sk-proj-...) and Anthropic (sk-ant-...) */
    { "AKIA", 16, 16, is_upper_digit, false },  /* AWS access key ids */
    { "ASIA", 16, 16, is_upper_digit, false },
    { "ghp_", 36, 255, is_alnum_fn, false },    /* GitHub tokens */
    { "gho_", 36, 255, is_alnum_fn, false },
    { "ghu_", 36, 255, is_alnum_fn, false },
    { "ghs_", 36, 255, is_alnum_fn, false },
    { "ghr_", 36, 255, is_alnum_fn, false },
    { "github_pat_", 22, 255, is_word, false },
    { "pk_", 32, 32, is_alnum_fn, false },      /* Portico consumer keys and user tokens */
    { "pt_", 32, 32, is_alnum_fn, false },
};

static pt_scan key_form_at(const key_form *f, const char *s, size_t n, size_t i, bool final, size_t *end)
{
    size_t pl = strlen(f->prefix), j = i;
    for (size_t k = 0; k < pl; k++, j++) {
        NEED(j);
        if (at(s, n, j) != (unsigned char)f->prefix[k]) return PT_SCAN_NONE;
    }
    size_t b = j;
    bool digit = false;
    for (;; j++) {
        NEED(j);
        int c = at(s, n, j);
        if (!f->ch(c)) break;
        if (j - b >= f->max) return PT_SCAN_NONE; /* longer than any such key */
        digit |= is_digit(c);
    }
    if (j - b < f->min || (f->digit && !digit) || is_keych(at(s, n, j))) return PT_SCAN_NONE;
    *end = j;
    return PT_SCAN_MATCH;
}

static pt_scan api_key(const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    if (is_keych(prev)) return PT_SCAN_NONE;
    pt_scan best = PT_SCAN_NONE;
    for (size_t k = 0; k < sizeof forms / sizeof *forms; k++) {
        pt_scan r = key_form_at(&forms[k], s, n, i, final, end);
        if (r == PT_SCAN_MATCH) return r;
        if (r == PT_SCAN_MORE) best = r;
    }
    return best;
}

typedef pt_scan (*scan_fn)(const char *s, size_t n, size_t i, int prev, bool final, size_t *end);
static const scan_fn scanners[PT_DET_COUNT] = { email, phone, card, ssn, uk_nino, api_key };

pt_scan pt_detect_at(pt_detector d, const char *s, size_t n, size_t i, int prev, bool final, size_t *end)
{
    if ((unsigned)d >= PT_DET_COUNT || i >= n) return PT_SCAN_NONE;
    if (i > 0) prev = (unsigned char)s[i - 1];
    return scanners[d](s, n, i, prev, final, end);
}
