/* migrations.h: the schema as one ordered list of migrations for every backend. A migration
 * is never edited once released; a change is a new entry at the end. Each is written in
 * SQLite's dialect; PostgreSQL runs it rewritten by pt__store_pg_dialect() (pg_sql.h), or
 * its own pg_sql where a mechanical rewrite would not do. */
#ifndef PT_STORE_MIGRATIONS_H
#define PT_STORE_MIGRATIONS_H

typedef struct pt__store_migration {
    int version;          /* 1, 2, 3... in order, no gaps */
    const char *name;
    const char *sql;      /* constant statements, run in one transaction */
    const char *pg_sql;   /* PostgreSQL's own statements, or NULL for sql rewritten */
} pt__store_migration;

extern const pt__store_migration pt__store_migrations[];
extern const int pt__store_nmigrations;

#endif
