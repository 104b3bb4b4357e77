/* calls_vfs.h: the VFS the call log's writer opens its file with: the default one (unix),
 * but that the WAL's appends are gathered and written at once.
 *
 * SQLite writes each WAL frame as two writes, its 24-byte header and then its page: a
 * batch of the call log (about ten 16 KiB pages) took some twenty pwrite calls, each with
 * the kernel's cost of a call beside that of its bytes. Here the appends of a transaction
 * are copied into one buffer, written with one call when its commit frame (a frame header
 * whose "database size after commit" is not zero, as the WAL's format defines it) has
 * been appended: inside the write of that frame, so a failure (a full disk) is the
 * commit's, which SQLite then rolls back; the WAL-index (which readers follow) is updated
 * only after that write returns. Anything else done to the WAL (a read, a sync, a
 * truncation, its size, a write elsewhere, closing it) writes what is gathered first, so
 * the file is always read as SQLite wrote it. Every other file, and every other call,
 * goes straight to the default VFS. */
#ifndef PT_LOGS_CALLS_VFS_H
#define PT_LOGS_CALLS_VFS_H

/* The VFS's name for sqlite3_open_v2, registered on the first call (NULL when it could not
 * be: then the default VFS is used). */
const char *pt_calls_vfs_name(void);

#endif
