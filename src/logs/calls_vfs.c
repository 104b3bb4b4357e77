/* calls_vfs.c: the call log writer's VFS: the default one, with the WAL's appends gathered
 * and written at once (see calls_vfs.h). */
#include "logs/calls_vfs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define VFS_NAME "portico-calls"
#define GATHER_MAX ((size_t)1 << 20) /* gathered bytes are written at once past this */
#define FRAME_HEADER 24              /* a WAL frame's header (SQLite's file format) */
/* The default VFS (unix) writes at most 128 KiB - 1 bytes a call (it masks the length with
 * 0x1ffff): what is gathered is written in pieces of this much (a 4 KiB multiple). */
#define WRITE_MAX ((128 << 10) - 4096)

typedef struct gfile gfile;
struct gfile {
    sqlite3_file base;           /* its pMethods are ours */
    sqlite3_file *real;          /* the default VFS's file (allocated right after this) */
    const char *name;            /* a main database's name, as SQLite passed it to xOpen */
    gfile *wal;                  /* a main database's WAL while it is open; NULL: none */
    gfile *db;                   /* a WAL's main database (its WAL-index is the database's) */
    gfile *next;                 /* the list of open main databases */
    bool is_wal;
    bool commit;                 /* the last append was a commit frame's header */
    unsigned char *buf;          /* a WAL's appends not written yet: len bytes for offset at */
    size_t len, cap;
    sqlite3_int64 at;
};

static sqlite3_vfs vfs;
static sqlite3_vfs *base_vfs;
static sqlite3_io_methods methods[4]; /* by the default VFS file's iVersion (1 to 3) */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool registered;
/* the open main databases, for a WAL to find its own (by the name SQLite derives from it) */
static pthread_mutex_t dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static gfile *dbs;

static sqlite3_file *real(sqlite3_file *f) { return ((gfile *)f)->real; }

/* Writes what is gathered; the bytes are dropped either way (after a failure SQLite rolls
 * the transaction back: frames past the last commit are never read). */
static int flush(gfile *f)
{
    int rc = SQLITE_OK;
    for (size_t done = 0, n; rc == SQLITE_OK && done < f->len; done += n) {
        n = f->len - done < WRITE_MAX ? f->len - done : WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n, f->at + (sqlite3_int64)done);
    }
    f->len = 0;
    f->commit = false;
    return rc;
}

/* Whether buf has room for n more bytes (grown up to GATHER_MAX). */
static bool room(gfile *f, size_t n)
{
    if (f->len + n <= f->cap) return true;
    size_t cap = f->cap ? f->cap : 256 << 10;
    while (cap < f->len + n) cap *= 2;
    if (cap > GATHER_MAX) return false;
    unsigned char *b = realloc(f->buf, cap);
    if (!b) return false;
    f->buf = b;
    f->cap = cap;
    return true;
}

/* A frame header's "database size after commit": not zero only in a commit frame. */
static bool commit_header(const void *p, int n)
{
    const unsigned char *h = p;
    return n == FRAME_HEADER && (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int g_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off)
{
    gfile *f = (gfile *)pf;
    if (!f->is_wal) return f->real->pMethods->xWrite(f->real, p, n, off);
    /* noted before anything is flushed (which forgets it): this is the commit frame's page,
     * the transaction's last append */
    bool ends = f->commit;
    int rc = SQLITE_OK;
    if (f->len && off != f->at + (sqlite3_int64)f->len) rc = flush(f); /* not an append: in order */
    if (rc == SQLITE_OK && !room(f, (size_t)n)) rc = flush(f);
    if (rc != SQLITE_OK) return rc;
    /* out of memory: written at once, after what was gathered */
    if (!room(f, (size_t)n)) return f->real->pMethods->xWrite(f->real, p, n, off);
    if (!f->len) f->at = off;
    memcpy(f->buf + f->len, p, (size_t)n);
    f->len += (size_t)n;
    f->commit = commit_header(p, n);
    return ends ? flush(f) : SQLITE_OK;
}

/* A WAL is written out before anything else is done to it. */
#define FLUSHED(f)                                                                                             \
    do {                                                                                                       \
        int rc_ = flush((gfile *)(f));                                                                         \
        if (rc_ != SQLITE_OK) return rc_;                                                                      \
    } while (0)

static int g_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    FLUSHED(f);
    return real(f)->pMethods->xRead(real(f), p, n, off);
}

static int g_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    FLUSHED(f);
    return real(f)->pMethods->xTruncate(real(f), size);
}

static int g_sync(sqlite3_file *f, int flags)
{
    FLUSHED(f);
    return real(f)->pMethods->xSync(real(f), flags);
}

static int g_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    FLUSHED(f);
    return real(f)->pMethods->xFileSize(real(f), size);
}

static int g_file_control(sqlite3_file *f, int op, void *arg)
{
    FLUSHED(f);
    return real(f)->pMethods->xFileControl(real(f), op, arg);
}

static int g_close(sqlite3_file *pf)
{
    gfile *f = (gfile *)pf;
    int rc = flush(f);
    pthread_mutex_lock(&dbs_lock);
    if (f->db) f->db->wal = NULL;
    if (f->wal) f->wal->db = NULL;
    for (gfile **p = &dbs; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    pthread_mutex_unlock(&dbs_lock);
    free(f->buf);
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int g_lock(sqlite3_file *f, int l) { return real(f)->pMethods->xLock(real(f), l); }
static int g_unlock(sqlite3_file *f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
static int g_check_reserved(sqlite3_file *f, int *out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
static int g_sector_size(sqlite3_file *f) { return real(f)->pMethods->xSectorSize(real(f)); }
static int g_device(sqlite3_file *f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }

static int g_shm_map(sqlite3_file *f, int i, int size, int extend, void volatile **p)
{
    return real(f)->pMethods->xShmMap(real(f), i, size, extend, p);
}

static int g_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}

/* SQLite's barrier between writing the WAL-index header's two copies, before readers can
 * see a commit: the commit's frames were written inside its own write already; this writes
 * anything else gathered, should a commit ever go unrecognised. */
static void g_shm_barrier(sqlite3_file *pf)
{
    gfile *f = (gfile *)pf;
    if (f->wal) flush(f->wal);
    f->real->pMethods->xShmBarrier(f->real);
}

static int g_shm_unmap(sqlite3_file *f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }

static int g_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    return real(f)->pMethods->xFetch(real(f), off, n, p);
}

static int g_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return real(f)->pMethods->xUnfetch(real(f), off, p); }

static int g_open(sqlite3_vfs *v, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    (void)v;
    gfile *f = (gfile *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    if (!f->real->pMethods) return rc; /* nothing to close */
    int version = f->real->pMethods->iVersion;
    f->base.pMethods = &methods[version < 1 ? 1 : version > 3 ? 3 : version];
    if (rc != SQLITE_OK) return rc;
    pthread_mutex_lock(&dbs_lock);
    if (flags & SQLITE_OPEN_MAIN_DB) {
        f->name = name;
        f->next = dbs;
        dbs = f;
    } else if ((flags & SQLITE_OPEN_WAL) && name) {
        /* only a WAL whose database is here is gathered: its barrier writes it out */
        const char *db_name = sqlite3_filename_database(name);
        for (gfile *d = dbs; d; d = d->next)
            if (d->name == db_name && !d->wal) {
                d->wal = f;
                f->db = d;
                f->is_wal = true;
                break;
            }
    }
    pthread_mutex_unlock(&dbs_lock);
    return rc;
}

/* The rest of the VFS is the default one's. */
static int v_delete(sqlite3_vfs *v, const char *name, int sync) { return base_vfs->xDelete(base_vfs, name, sync); }
static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out) { return base_vfs->xAccess(base_vfs, name, flags, out); }
static int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *v_dlopen(sqlite3_vfs *v, const char *name) { return base_vfs->xDlOpen(base_vfs, name); }
static void v_dlerror(sqlite3_vfs *v, int n, char *out) { base_vfs->xDlError(base_vfs, n, out); }
static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void) { return base_vfs->xDlSym(base_vfs, h, sym); }
static void v_dlclose(sqlite3_vfs *v, void *h) { base_vfs->xDlClose(base_vfs, h); }
static int v_randomness(sqlite3_vfs *v, int n, char *out) { return base_vfs->xRandomness(base_vfs, n, out); }
static int v_sleep(sqlite3_vfs *v, int us) { return base_vfs->xSleep(base_vfs, us); }
static int v_current_time(sqlite3_vfs *v, double *out) { return base_vfs->xCurrentTime(base_vfs, out); }
static int v_last_error(sqlite3_vfs *v, int n, char *out)
{
    return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}
static int v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    if (base_vfs->iVersion >= 2 && base_vfs->xCurrentTimeInt64) return base_vfs->xCurrentTimeInt64(base_vfs, out);
    double d;
    int rc = base_vfs->xCurrentTime(base_vfs, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

static void register_vfs(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    if (!base_vfs) return;
    for (int i = 1; i <= 3; i++)
        methods[i] = (sqlite3_io_methods){
            .iVersion = i, .xClose = g_close, .xRead = g_read, .xWrite = g_write, .xTruncate = g_truncate,
            .xSync = g_sync, .xFileSize = g_file_size, .xLock = g_lock, .xUnlock = g_unlock,
            .xCheckReservedLock = g_check_reserved, .xFileControl = g_file_control, .xSectorSize = g_sector_size,
            .xDeviceCharacteristics = g_device, .xShmMap = i >= 2 ? g_shm_map : NULL,
            .xShmLock = i >= 2 ? g_shm_lock : NULL, .xShmBarrier = i >= 2 ? g_shm_barrier : NULL,
            .xShmUnmap = i >= 2 ? g_shm_unmap : NULL, .xFetch = i >= 3 ? g_fetch : NULL,
            .xUnfetch = i >= 3 ? g_unfetch : NULL,
        };
    vfs = (sqlite3_vfs){
        .iVersion = 2, .szOsFile = (int)sizeof(gfile) + base_vfs->szOsFile, .mxPathname = base_vfs->mxPathname,
        .zName = VFS_NAME, .xOpen = g_open, .xDelete = v_delete, .xAccess = v_access,
        .xFullPathname = v_full_pathname, .xDlOpen = v_dlopen, .xDlError = v_dlerror, .xDlSym = v_dlsym,
        .xDlClose = v_dlclose, .xRandomness = v_randomness, .xSleep = v_sleep, .xCurrentTime = v_current_time,
        .xGetLastError = v_last_error, .xCurrentTimeInt64 = v_current_time64,
    };
    registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *pt_calls_vfs_name(void)
{
    pthread_once(&once, register_vfs);
    return registered ? VFS_NAME : NULL;
}
