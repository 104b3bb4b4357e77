/* assets.h: the console's files as the build embeds them (scripts/embed_assets.c writes the
 * table into the build directory from console/), sorted by path. */
#ifndef PT_CONSOLE_ASSETS_H
#define PT_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct pt_console_asset {
    const char *path;           /* below console/, e.g. "pages/index.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const char *etag;           /* strong, quoted: "\"0123456789abcdef\"" */
} pt_console_asset;

extern const pt_console_asset pt__console_assets[];
extern const size_t pt__console_nassets;

#endif
