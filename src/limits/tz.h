/* tz.h: calendar days and months in a named time zone, for quota and budget windows.
 *
 * A zone is read once, when the configuration is loaded, from the system's TZif files
 * (TZDIR, default /usr/share/zoneinfo): its table of UTC offsets and the times they
 * change. Nothing here touches the process's TZ or localtime, so any thread may ask. */
#ifndef PT_LIMITS_TZ_H
#define PT_LIMITS_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct pt_tz pt_tz;

/* Loads zone name ("Europe/Paris", "UTC"). NULL with why set when the name is not a zone
 * name or no zone file of that name can be read. */
pt_tz *pt_tz_load(const char *name, char *why, size_t cap);
/* A zone from the bytes of a TZif file (what pt_tz_load reads); NULL when they are not one. */
pt_tz *pt_tz_parse(const unsigned char *b, size_t len);
void pt_tz_free(pt_tz *z);

/* The zone's UTC offset in seconds at Unix time t (NULL: UTC). */
int32_t pt_tz_offset(const pt_tz *z, int64_t t);

typedef enum pt_tz_period { PT_TZ_DAY, PT_TZ_MONTH } pt_tz_period;

/* The local day (YYYYMMDD) or month (YYYYMM) holding Unix time t in zone z, and the Unix
 * time it ends (*end, the next local midnight or first of the month). */
uint32_t pt_tz_window(const pt_tz *z, int64_t t, pt_tz_period p, int64_t *end);

#endif
