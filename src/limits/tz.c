/* tz.c: local days and months from TZif zone files (tz.h). The 64-bit table of a version
 * 2+ file is read (the 32-bit one of a version 1 file), and after its last transition the
 * file's footer rule (a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3") gives the
 * offset, so "slim" zone files, whose tables stop early or are empty, and years after 2037
 * are right. */
#include "limits/tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ZONE_BYTES (256 * 1024)

/* A daylight-saving change of a POSIX TZ rule: Mm.w.d (week w of month m, weekday d), Jn
 * (day n of 365, February 29 never counted) or n (day n from 0, leap days counted); at secs
 * past local midnight. */
typedef struct tz_change {
    char kind; /* 'M', 'J', 'n' */
    int m, w, d, n;
    int32_t secs;
} tz_change;

/* The footer rule: standard offset, and when has_dst, the daylight offset and its changes. */
typedef struct tz_rule {
    bool valid, has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    tz_change start, end;     /* into daylight time (in standard local time), and out (in daylight time) */
} tz_rule;

struct pt_tz {
    size_t n;         /* transitions */
    int64_t *at;      /* ascending Unix times */
    int32_t *off;     /* offset from at[i] on */
    int32_t first;    /* offset before at[0] */
    tz_rule rule;     /* after at[n-1] (or always, with no transitions), when valid */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

static bool name_ok(const char *s)
{
    if (!s[0] || s[0] == '/' || strlen(s) > 128 || strstr(s, "..")) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("/_+-", *p)))
            return false;
    return true;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = malloc(MAX_ZONE_BYTES);
    *len = b ? fread(b, 1, MAX_ZONE_BYTES, f) : 0;
    fclose(f);
    return b;
}

/* ---- the footer rule -------------------------------------------------------------------- */

/* A zone abbreviation: letters, or anything but '>' between '<' and '>'. */
static bool rule_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        while (*s && *s != '>') s++;
        if (*s != '>') return false;
        *p = s + 1;
        return true;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) s++;
    if (s - *p < 3) return false;
    *p = s;
    return true;
}

/* [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536's extension); seconds. */
static bool rule_time(const char **p, int32_t *out)
{
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    int32_t v[3] = { 0, 0, 0 };
    for (int i = 0; i < 3; i++) {
        if (i && *s != ':') break;
        if (i) s++;
        if (*s < '0' || *s > '9') return false;
        int n = 0;
        while (*s >= '0' && *s <= '9' && n < 1000) n = n * 10 + (*s++ - '0');
        v[i] = n;
    }
    if (v[0] > 167 || v[1] > 59 || v[2] > 59) return false;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    *p = s;
    return true;
}

static bool rule_num(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    int n = 0;
    if (*s < '0' || *s > '9') return false;
    while (*s >= '0' && *s <= '9' && n <= hi) n = n * 10 + (*s++ - '0');
    if (n < lo || n > hi) return false;
    *out = n;
    *p = s;
    return true;
}

static bool rule_change(const char **p, tz_change *c)
{
    const char *s = *p;
    bool ok;
    if (*s == 'M') {
        s++;
        c->kind = 'M';
        ok = rule_num(&s, 1, 12, &c->m) && *s++ == '.' && rule_num(&s, 1, 5, &c->w) && *s++ == '.' &&
             rule_num(&s, 0, 6, &c->d);
    } else if (*s == 'J') {
        s++;
        c->kind = 'J';
        ok = rule_num(&s, 1, 365, &c->n);
    } else {
        c->kind = 'n';
        ok = rule_num(&s, 0, 365, &c->n);
    }
    c->secs = 7200; /* 02:00 unless said */
    if (ok && *s == '/') {
        s++;
        ok = rule_time(&s, &c->secs);
    }
    *p = s;
    return ok;
}

/* POSIX offsets are west of UTC ("CET-1" is one hour east): stored east, as TZif's are. */
static tz_rule rule_parse(const char *s)
{
    tz_rule r = { 0 };
    int32_t std;
    if (!rule_name(&s) || !rule_time(&s, &std)) return r;
    r.std_off = -std;
    if (*s == '\0') {
        r.valid = true;
        return r;
    }
    if (!rule_name(&s)) return r;
    r.dst_off = r.std_off + 3600;
    int32_t dst;
    if (*s != ',' && *s != '\0') {
        if (!rule_time(&s, &dst)) return r;
        r.dst_off = -dst;
    }
    if (*s++ != ',' || !rule_change(&s, &r.start) || *s++ != ',' || !rule_change(&s, &r.end) || *s) return r;
    r.has_dst = r.valid = true;
    return r;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* The local day (days since the epoch) a change falls on in year y. */
static int64_t change_day(const tz_change *c, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (c->kind == 'n') return jan1 + c->n;
    if (c->kind == 'J') return jan1 + c->n - 1 + (leap_year(y) && c->n >= 60);
    int64_t first = days_from_civil(y, (unsigned)c->m, 1);
    int wd = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday (4) */
    int64_t day = first + (c->d - wd + 7) % 7 + (int64_t)(c->w - 1) * 7;
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int64_t last = first + mdays[c->m - 1] + (c->m == 2 && leap_year(y)) - 1;
    while (day > last) day -= 7; /* week 5: the last such weekday */
    return day;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_off;
    int64_t y;
    unsigned m, d;
    civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
    /* into daylight time at a standard local time, out of it at a daylight local time */
    int64_t start = change_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
    int64_t end = change_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
    bool dst = start < end ? t >= start && t < end : !(t >= end && t < start); /* southern zones wrap */
    return dst ? r->dst_off : r->std_off;
}

/* ---- the file ----------------------------------------------------------------------------- */

typedef struct tzif_head {
    uint32_t isut, isstd, leap, timecnt, typecnt, charcnt;
} tzif_head;

static int head_at(const unsigned char *b, size_t len, size_t at, tzif_head *h)
{
    if (len < at + 44 || memcmp(b + at, "TZif", 4) != 0) return -1;
    const unsigned char *c = b + at + 20;
    *h = (tzif_head){ be32(c), be32(c + 4), be32(c + 8), be32(c + 12), be32(c + 16), be32(c + 20) };
    if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 100000 || h->leap > 10000 || h->charcnt > 65536 ||
        h->isstd > 256 || h->isut > 256)
        return -1;
    return 0;
}

static size_t body_len(const tzif_head *h, size_t tsize)
{
    return (size_t)h->timecnt * (tsize + 1) + (size_t)h->typecnt * 6 + h->charcnt + (size_t)h->leap * (tsize + 4) +
           h->isstd + h->isut;
}

/* Reads the transitions of a TZif file (the 64-bit ones when it has them) and its footer
 * rule; -1 when it is not one. */
static int parse(pt_tz *z, const unsigned char *b, size_t len)
{
    tzif_head h;
    if (head_at(b, len, 0, &h)) return -1;
    size_t at = 44, tsize = 4;
    if (b[4] >= '2') { /* skip the 32-bit body to the 64-bit header */
        size_t v2 = 44 + body_len(&h, 4);
        if (head_at(b, len, v2, &h)) return -1;
        at = v2 + 44;
        tsize = 8;
    }
    if (at + body_len(&h, tsize) > len) return -1;
    const unsigned char *times = b + at, *idx = times + h.timecnt * tsize, *types = idx + h.timecnt;
    z->at = calloc(h.timecnt ? h.timecnt : 1, sizeof *z->at);
    z->off = calloc(h.timecnt ? h.timecnt : 1, sizeof *z->off);
    if (!z->at || !z->off) return -1;
    for (uint32_t i = 0; i < h.timecnt; i++) {
        if (idx[i] >= h.typecnt) return -1;
        z->at[i] = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        z->off[i] = (int32_t)be32(types + 6 * idx[i]);
        if (i && z->at[i] <= z->at[i - 1]) return -1;
    }
    z->n = h.timecnt;
    z->first = (int32_t)be32(types); /* type 0: the zone's time before its first change */
    size_t foot = at + body_len(&h, tsize);
    if (tsize == 8 && foot < len && b[foot] == '\n') {
        const unsigned char *nl = memchr(b + foot + 1, '\n', len - foot - 1);
        if (nl && nl - (b + foot + 1) < 128) {
            char rule[128];
            memcpy(rule, b + foot + 1, (size_t)(nl - (b + foot + 1)));
            rule[nl - (b + foot + 1)] = '\0';
            z->rule = rule_parse(rule);
        }
    }
    return 0;
}

pt_tz *pt_tz_load(const char *name, char *why, size_t cap)
{
    if (!name_ok(name)) {
        snprintf(why, cap, "'%s' is not a time zone name (expected a name such as UTC or Europe/Paris)", name);
        return NULL;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", name);
    size_t len = 0;
    unsigned char *b = read_file(path, &len);
    pt_tz *z = b ? pt_tz_parse(b, len) : NULL;
    if (!z) snprintf(why, cap, "no time zone named '%s' (%s is %s)", name, path, b ? "not a zone file" : "not readable");
    free(b);
    return z;
}

pt_tz *pt_tz_parse(const unsigned char *b, size_t len)
{
    pt_tz *z = calloc(1, sizeof *z);
    if (z && parse(z, b, len) != 0) {
        pt_tz_free(z);
        z = NULL;
    }
    return z;
}

void pt_tz_free(pt_tz *z)
{
    if (!z) return;
    free(z->at);
    free(z->off);
    free(z);
}

int32_t pt_tz_offset(const pt_tz *z, int64_t t)
{
    if (!z) return 0;
    if (z->rule.valid && (z->n == 0 || t >= z->at[z->n - 1])) return rule_offset(&z->rule, t);
    if (z->n == 0 || t < z->at[0]) return z->first;
    size_t lo = 0, hi = z->n; /* the last transition at or before t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->at[mid] <= t) lo = mid;
        else hi = mid;
    }
    return z->off[lo];
}

/* A civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The Unix time of local midnight starting local day `day` (days since the epoch): the
 * offset in force just before it, corrected once if it changes at that very time. */
static int64_t local_midnight(const pt_tz *z, int64_t day)
{
    int64_t local = day * 86400;
    int64_t t = local - pt_tz_offset(z, local - 86400);
    return local - pt_tz_offset(z, t);
}

uint32_t pt_tz_window(const pt_tz *z, int64_t t, pt_tz_period p, int64_t *end)
{
    int64_t day = floor_div(t + pt_tz_offset(z, t), 86400), y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    if (p == PT_TZ_DAY) {
        *end = local_midnight(z, day + 1);
        return (uint32_t)(y * 10000 + m * 100 + d);
    }
    *end = local_midnight(z, days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1));
    return (uint32_t)(y * 100 + m);
}
