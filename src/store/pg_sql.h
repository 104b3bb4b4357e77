/* pg_sql.h: the pure parts of the PostgreSQL backend, apart so they are tested without a
 * server: the SQLite schema's statements rewritten in PostgreSQL's dialect, SQLSTATEs
 * mapped onto PT_STORE_E* (the URL's checks are in store.h). */
#ifndef PT_STORE_PG_SQL_H
#define PT_STORE_PG_SQL_H

#include <stdbool.h>
#include <stddef.h>

/* sql (the SQLite migration) in PostgreSQL's dialect: AUTOINCREMENT ids become identity
 * columns that accept given ids (migrate-store keeps them), INTEGER becomes BIGINT, BLOB
 * BYTEA, length() octet_length(), and STRICT goes. A new string (free it), NULL when out
 * of memory. Keywords are replaced only as whole words outside quotes. */
char *pt__store_pg_dialect(const char *sql);

/* The PT_STORE_E* code for a SQLSTATE (NULL when there is none); lost: the connection is
 * gone, which is PT_STORE_EUNAVAIL whatever the state says. */
int pt__store_pg_code(const char *sqlstate, bool lost);

/* The column a unique violation names, from its detail "Key (service_id, name)=(1, x)
 * already exists.": the last one ("name"), the one a person chose; "" when not found. */
void pt__store_pg_unique_field(const char *detail, char *out, size_t cap);

#endif
