/* migrations.h: the SQLite schema as an ordered list of migrations. A migration is never
 * edited once released; a change is a new entry at the end. A PostgreSQL backend keeps its
 * own list with the same version numbers and the same meaning. */
#ifndef PT_STORE_MIGRATIONS_H
#define PT_STORE_MIGRATIONS_H

typedef struct pt__store_migration {
    int version;          /* 1, 2, 3... in order, no gaps */
    const char *name;
    const char *sql;      /* constant statements, run in one transaction */
} pt__store_migration;

extern const pt__store_migration pt__store_sqlite_migrations[];
extern const int pt__store_sqlite_nmigrations;

#endif
