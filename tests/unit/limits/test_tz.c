/* Unit tests for limits/tz.c: offsets from the zone files, local days and months and
 * when they end, across a DST change, years after the tables (the footer rule), "slim"
 * zone files written here, and names refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "limits/tz.h"

static void utc_days_and_months(void **state)
{
    int64_t end;
    assert_int_equal(pt_tz_window(NULL, 1796299200, PT_TZ_DAY, &end), 20261203);
    assert_int_equal(end, 1796342400);
    assert_int_equal(pt_tz_window(NULL, 1796299200, PT_TZ_MONTH, &end), 202612);
    assert_int_equal(end, 1798761600); /* 2027-01-01 */
    assert_int_equal(pt_tz_window(NULL, 1709164800, PT_TZ_DAY, &end), 20240229); /* a leap day */
    assert_int_equal(pt_tz_window(NULL, 1709164800, PT_TZ_MONTH, &end), 202402);
    assert_int_equal(end, 1709251200);
}

static void paris_follows_its_offsets(void **state)
{
    char why[256];
    pt_tz *z = pt_tz_load("Europe/Paris", why, sizeof why);
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 1796299200), 3600);  /* December: CET */
    assert_int_equal(pt_tz_offset(z, 1782907200), 7200);  /* 2026-07-01: CEST */
    int64_t end;
    /* 2026-12-03 23:30 UTC is already the 4th in Paris */
    assert_int_equal(pt_tz_window(z, 1796340600, PT_TZ_DAY, &end), 20261204);
    assert_int_equal(end, 1796425200); /* 2026-12-04 23:00 UTC */
    /* the day of the change to summer time (2026-03-29) is 23 hours long */
    assert_int_equal(pt_tz_window(z, 1774738800, PT_TZ_DAY, &end), 20260329);
    assert_int_equal(end, 1774821600);
    assert_int_equal(end - 1774738800, 23 * 3600);
    assert_int_equal(pt_tz_window(z, 1796340600, PT_TZ_MONTH, &end), 202612);
    assert_int_equal(end, 1798758000); /* 2027-01-01 00:00 in Paris */
    pt_tz_free(z);
}

/* The system's zone files hold transitions up to 2037: later years follow the footer rule. */
static void paris_after_2037_follows_the_rule(void **state)
{
    char why[256];
    pt_tz *z = pt_tz_load("Europe/Paris", why, sizeof why);
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 2224756800), 7200);     /* 2040-07-01: CEST */
    assert_int_equal(pt_tz_offset(z, 2216250000 - 1), 3600); /* 2040-03-25 00:59:59 UTC */
    assert_int_equal(pt_tz_offset(z, 2216250000), 7200);     /* 01:00 UTC: the last Sunday of March */
    assert_int_equal(pt_tz_offset(z, 2234998800 - 1), 7200); /* 2040-10-28 00:59:59 UTC */
    assert_int_equal(pt_tz_offset(z, 2234998800), 3600);
    pt_tz_free(z);
}

static void be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A "slim" TZif file, as `zic -b slim` writes: no transitions in either table, one type,
 * and everything in the footer rule. */
static void write_slim(const char *dir, const char *name, int32_t utoff, const char *abbr, const char *rule)
{
    unsigned char head[44] = { 'T', 'Z', 'i', 'f', '2' }, type[6];
    be32_put(head + 36, 1);                      /* typecnt */
    be32_put(head + 40, (uint32_t)strlen(abbr) + 1); /* charcnt */
    be32_put(type, (uint32_t)utoff);
    type[4] = 0, type[5] = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int block = 0; block < 2; block++) { /* the 32-bit body, then the 64-bit one: alike with no times */
        fwrite(head, 1, sizeof head, f);
        fwrite(type, 1, sizeof type, f);
        fwrite(abbr, 1, strlen(abbr) + 1, f);
    }
    fprintf(f, "\n%s\n", rule);
    fclose(f);
}

static void slim_zone_files_follow_their_rule(void **state)
{
    char dir[] = "/tmp/portico-tz-XXXXXX", why[256];
    assert_non_null(mkdtemp(dir));
    write_slim(dir, "Slim_Paris", 3600, "CET", "CET-1CEST,M3.5.0,M10.5.0/3");
    write_slim(dir, "Slim_Sydney", 36000, "AEST", "AEST-10AEDT,M10.1.0,M4.1.0/3");
    write_slim(dir, "Slim_Fixed", -18000, "EST", "<-05>5");
    write_slim(dir, "Slim_Garbled", 3600, "CET", "CET-1CEST,M13.5.0,M10.5.0/3");
    setenv("TZDIR", dir, 1);
    pt_tz *z = pt_tz_load("Slim_Paris", why, sizeof why);
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 1796299200), 3600);     /* 2026-12-03 */
    assert_int_equal(pt_tz_offset(z, 1774746000 - 1), 3600); /* 2026-03-29 00:59:59 UTC */
    assert_int_equal(pt_tz_offset(z, 1774746000), 7200);
    assert_int_equal(pt_tz_offset(z, 1792890000 - 1), 7200); /* 2026-10-25 00:59:59 UTC */
    assert_int_equal(pt_tz_offset(z, 1792890000), 3600);
    int64_t end;
    assert_int_equal(pt_tz_window(z, 1774738800, PT_TZ_DAY, &end), 20260329); /* the 23-hour day */
    assert_int_equal(end - 1774738800, 23 * 3600);
    pt_tz_free(z);
    z = pt_tz_load("Slim_Sydney", why, sizeof why); /* southern: daylight time spans the new year */
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 1768435200), 39600); /* 2026-01-15: AEDT */
    assert_int_equal(pt_tz_offset(z, 1784073600), 36000); /* 2026-07-15: AEST */
    assert_int_equal(pt_tz_offset(z, 1775318400 - 1), 39600); /* 2026-04-05 03:00 AEDT, less a second */
    assert_int_equal(pt_tz_offset(z, 1775318400), 36000);
    assert_int_equal(pt_tz_offset(z, 1791043200 - 1), 36000); /* 2026-10-04 02:00 AEST, less a second */
    assert_int_equal(pt_tz_offset(z, 1791043200), 39600);
    pt_tz_free(z);
    z = pt_tz_load("Slim_Fixed", why, sizeof why);
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 1784073600), -18000);
    pt_tz_free(z);
    z = pt_tz_load("Slim_Garbled", why, sizeof why); /* a rule that does not parse: the table's type */
    if (!z) fail_msg("%s", why);
    assert_int_equal(pt_tz_offset(z, 1784073600), 3600);
    pt_tz_free(z);
    unsetenv("TZDIR");
    char path[600];
    for (const char *n = "Slim_Paris\0Slim_Sydney\0Slim_Fixed\0Slim_Garbled\0"; *n; n += strlen(n) + 1) {
        snprintf(path, sizeof path, "%s/%s", dir, n);
        unlink(path);
    }
    rmdir(dir);
}

static void bad_names_are_refused(void **state)
{
    char why[256];
    assert_null(pt_tz_load("../../etc/passwd", why, sizeof why));
    assert_null(pt_tz_load("/etc/localtime", why, sizeof why));
    assert_null(pt_tz_load("Nowhere/Atlantis", why, sizeof why));
    assert_null(pt_tz_load("", why, sizeof why));
    pt_tz *z = pt_tz_load("UTC", why, sizeof why);
    assert_non_null(z);
    assert_int_equal(pt_tz_offset(z, 1796299200), 0);
    pt_tz_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utc_days_and_months),
        cmocka_unit_test(paris_follows_its_offsets),
        cmocka_unit_test(paris_after_2037_follows_the_rule),
        cmocka_unit_test(slim_zone_files_follow_their_rule),
        cmocka_unit_test(bad_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
