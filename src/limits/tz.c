/* tz.c: local days and months from TZif zone files (tz.h). Only the version 1 (32-bit)
 * transition table is read: it covers 1901-2037, and the zone files the system ships hold
 * it whole; after the last transition the last offset holds. */
#include "limits/tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ZONE_BYTES (256 * 1024)

struct pt_tz {
    size_t n;         /* transitions */
    int64_t *at;      /* ascending Unix times */
    int32_t *off;     /* offset from at[i] on */
    int32_t first;    /* offset before at[0] */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

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

/* Reads the version 1 body of a TZif file; -1 when it is not one. */
static int parse(pt_tz *z, const unsigned char *b, size_t len)
{
    if (len < 44 || memcmp(b, "TZif", 4) != 0) return -1;
    uint32_t isut = be32(b + 20), isstd = be32(b + 24), leap = be32(b + 28), timecnt = be32(b + 32),
             typecnt = be32(b + 36), charcnt = be32(b + 40);
    if (typecnt == 0 || typecnt > 256 || timecnt > 10000) return -1;
    size_t need = 44 + (size_t)timecnt * 5 + (size_t)typecnt * 6 + charcnt + (size_t)leap * 8 + isstd + isut;
    if (need > len) return -1;
    const unsigned char *times = b + 44, *idx = times + timecnt * 4, *types = idx + timecnt;
    z->at = calloc(timecnt ? timecnt : 1, sizeof *z->at);
    z->off = calloc(timecnt ? timecnt : 1, sizeof *z->off);
    if (!z->at || !z->off) return -1;
    for (uint32_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt) return -1;
        z->at[i] = (int32_t)be32(times + 4 * i);
        z->off[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    z->n = timecnt;
    z->first = (int32_t)be32(types); /* type 0: the zone's time before its first change */
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
    pt_tz *z = calloc(1, sizeof *z);
    if (!b || !z || parse(z, b, len) != 0) {
        snprintf(why, cap, "no time zone named '%s' (%s is %s)", name, path, b ? "not a zone file" : "not readable");
        free(b);
        pt_tz_free(z);
        return NULL;
    }
    free(b);
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
    if (z->n == 0 || t < z->at[0]) return z->first;
    size_t lo = 0, hi = z->n; /* the last transition at or before t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->at[mid] <= t) lo = mid;
        else hi = mid;
    }
    return z->off[lo];
}

/* Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

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

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

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
