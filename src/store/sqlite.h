/* sqlite.h: the SQLite connection under a store handle, for tests that must reach below the
 * interface (fill a disk with PRAGMA max_page_count, forge a newer schema). Nothing in src/
 * outside src/store/ may use it. */
#ifndef PT_STORE_SQLITE_H
#define PT_STORE_SQLITE_H

#include <sqlite3.h>

#include "store/store.h"

/* The connection, or NULL when st is not an SQLite store. */
sqlite3 *pt__store_sqlite_db(pt_store *st);

#endif
