/* main.c: the command line, and nothing else. Each subcommand hands off to its subsystem. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/export.h"
#include "ai/ai_config.h"
#include "core/buf.h"
#include "doctor/doctor.h"
#include "gateway/config_doctor.h"
#include "gateway/config.h"
#include "gateway/config_store.h"
#include "gateway/gateway.h"
#include "gateway/supervisor.h"
#include "store/schema.h"
#include "store/store.h"
#include "version.h"

#define EXIT_USAGE 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: portico <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve [-c FILE]          run the gateway (default config: ./portico.yaml if present,\n"
            "        [--no-supervisor]  else built-in defaults on 127.0.0.1:8080); a supervisor\n"
            "                           process restarts it after a crash, unless --no-supervisor\n"
            "  check-config -c FILE     validate a configuration file and exit\n"
            "  export [-c FILE | --data-dir DIR]\n"
            "                           print the control plane's state (teams, users, services,\n"
            "                           consumers, keys, subscriptions) as YAML, secrets as references\n"
            "  import [--dry-run] [-c FILE | --data-dir DIR] FILE\n"
            "                           apply such a YAML file to the store (idempotent), printing\n"
            "                           what changes; --dry-run changes nothing\n"
            "  migrate-store --from DIR --to postgres://... [--replace]\n"
            "                           copy the SQLite store in DIR into PostgreSQL in one\n"
            "                           transaction, ids kept; --replace empties a target that is\n"
            "                           not empty (refused without it)\n"
            "  doctor TARGET            find why a connection fails and how to fix it\n"
            "                           (portico doctor --help for the options)\n"
            "  doctor -c FILE [--json] [--check-keys]  the same for every listener, service\n"
            "                           target and AI provider of a file (--check-keys: try each key)\n"
            "  version                  print the version\n"
            "  help                     print this help\n");
}

/* Parses "[-c FILE]" (also "--config FILE", "--config=FILE") and, when no_sup is not
 * NULL, "--no-supervisor". Returns 0, or EXIT_USAGE after printing why. */
static int parse_flags(int argc, char **argv, const char **path, bool *no_sup)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (no_sup && strcmp(a, "--no-supervisor") == 0) {
            *no_sup = true;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "portico: %s needs a file name\n\n", a);
                return EXIT_USAGE;
            }
            *path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            *path = a + 9;
        } else {
            fprintf(stderr, "portico: unknown option '%s'\n\n", a);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    if (parse_flags(argc, argv, &path, NULL) != 0 || !path) {
        if (!path) fprintf(stderr, "portico: check-config needs -c FILE\n\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_file(path, &err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err.data ? err.data : "invalid configuration");
        pt_buf_release(&err);
        return 1;
    }
    pt_buf summary = PT_BUF_INIT, warnings = PT_BUF_INIT;
    size_t nwarn = pt_config_report(cfg, &summary, &warnings);
    for (char *line = warnings.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1)
        fprintf(stderr, "%s: warning: %.*s\n", path, (int)(nl - line), line);
    printf("%s: ok (%zu listeners, %zu services, %zu routes, %zu providers, %zu models; %zu warning%s)\n%s", path,
           cfg->nlisteners, cfg->nservices, cfg->nroutes, cfg->ai ? cfg->ai->nproviders : 0,
           cfg->ai ? cfg->ai->nmodels : 0, nwarn, nwarn == 1 ? "" : "s", summary.data ? summary.data : "");
    pt_buf_release(&summary);
    pt_buf_release(&warnings);
    pt_config_release(cfg);
    pt_buf_release(&err);
    return 0;
}

/* export / import: "[--dry-run] [-c FILE | --data-dir DIR] [FILE]". The store is the
 * configuration's data_dir (-c, else ./portico.yaml when present), or DIR. */
typedef struct store_args {
    const char *config, *data_dir, *file;
    bool dry_run;
} store_args;

static int parse_store_args(int argc, char **argv, bool importing, store_args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (importing && strcmp(s, "--dry-run") == 0) {
            a->dry_run = true;
        } else if (strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0 || strcmp(s, "--data-dir") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "portico: %s needs a value\n\n", s);
                return EXIT_USAGE;
            }
            *(s[1] == '-' && s[2] == 'd' ? &a->data_dir : &a->config) = argv[++i];
        } else if (importing && !a->file && (s[0] != '-' || strcmp(s, "-") == 0)) {
            a->file = s;
        } else {
            fprintf(stderr, "portico: unknown option '%s'\n\n", s);
            return EXIT_USAGE;
        }
    }
    if (importing && !a->file) {
        fprintf(stderr, "portico: import needs a FILE (or - for standard input)\n\n");
        return EXIT_USAGE;
    }
    if (a->config && a->data_dir) {
        fprintf(stderr, "portico: give -c or --data-dir, not both\n\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* An import checks that the gateway would serve each service, as the admin API does, against
 * the configuration file when one is given. */
static int checked(int rc, pt_buf *m, char *msg, size_t msgcap)
{
    snprintf(msg, msgcap, "%s", m->data ? m->data : "");
    pt_buf_release(m);
    return rc;
}

static int check_stored(void *arg, const json_t *svc, const json_t *apis, char *field, size_t fieldcap, char *msg,
                        size_t msgcap)
{
    pt_buf m = PT_BUF_INIT;
    return checked(pt_config_check_stored(arg, svc, apis, field, fieldcap, &m), &m, msg, msgcap);
}

/* And that a policy would be enforced alongside the file's configuration. */
static int check_policy(void *arg, const json_t *policy, const char *replaces, char *field, size_t fieldcap, char *msg,
                        size_t msgcap)
{
    pt_buf m = PT_BUF_INIT;
    return checked(pt_config_check_policy(arg, policy, replaces, field, fieldcap, &m), &m, msg, msgcap);
}

static int cmd_store(int argc, char **argv, bool importing)
{
    store_args a = {0};
    if (parse_store_args(argc, argv, importing, &a) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!a.config && !a.data_dir && access("portico.yaml", R_OK) == 0) a.config = "portico.yaml";
    pt_config *cfg = NULL;
    if (a.config) {
        pt_buf err = PT_BUF_INIT;
        cfg = pt_config_load_file(a.config, &err);
        if (!cfg) fprintf(stderr, "%s\n", err.data ? err.data : "invalid configuration");
        pt_buf_release(&err);
        if (!cfg) return 1;
        a.data_dir = cfg->data_dir;
    }
    if (!a.data_dir) a.data_dir = "./portico-data";
    pt_admin_api checks = {.check_service = cfg ? check_stored : NULL, .check_policy = cfg ? check_policy : NULL,
                           .arg = cfg};
    const char *url = cfg ? cfg->store.postgres : NULL;
    int rc = importing ? pt_admin_import_cli(a.data_dir, url, a.file, a.dry_run, &checks, stdout, stderr)
                       : pt_admin_export_cli(a.data_dir, url, stdout, stderr);
    pt_config_release(cfg);
    return rc;
}

/* migrate-store --from DIR --to URL [--replace]: one SQLite store copied into PostgreSQL. */
static int cmd_migrate_store(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    bool replace = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--replace") == 0) {
            replace = true;
        } else if ((strcmp(argv[i], "--from") == 0 || strcmp(argv[i], "--to") == 0) && i + 1 < argc) {
            *(argv[i][2] == 'f' ? &from : &to) = argv[i + 1];
            i++;
        } else {
            fprintf(stderr, "portico: migrate-store: unknown or incomplete option '%s'\n\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!from || !to) {
        fprintf(stderr, "portico: migrate-store needs --from DATA_DIR and --to postgres://...\n\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    char shown[256];
    pt_store_pg_url_redact(to, shown, sizeof shown);
    char db[4096];
    snprintf(db, sizeof db, "%s/portico.db", from);
    if (access(db, R_OK) != 0) { /* opening would create an empty one */
        fprintf(stderr, "portico: migrate-store: %s: %s\n", db, strerror(errno));
        return 1;
    }
    pt_store_error e;
    pt_store *src = pt_store_open_sqlite(from, &e);
    if (!src) {
        fprintf(stderr, "portico: migrate-store: cannot open the store in %s: %s\n", from, e.message);
        return 1;
    }
    pt_store *dst = pt_store_open_postgres(to, &e);
    if (!dst) {
        fprintf(stderr, "portico: migrate-store: %s\n", e.message);
        pt_store_close(src);
        return 1;
    }
    int64_t counts[PT_KIND_COUNT];
    int rc = pt_store_copy(src, dst, replace, counts);
    if (rc) {
        fprintf(stderr, "portico: migrate-store: nothing was copied: %s\n", pt_store_last_error(dst)->message);
    } else {
        printf("copied %s/portico.db into %s:\n", from, shown);
        for (int k = 0; k < PT_KIND_COUNT; k++) printf("  %-18s %lld\n", pt_store_kinds[k].table, (long long)counts[k]);
    }
    pt_store_close(dst);
    pt_store_close(src);
    return rc ? 1 : 0;
}

static int cmd_serve(int argc, char **argv)
{
    const char *path = NULL;
    bool no_sup = false;
    if (parse_flags(argc, argv, &path, &no_sup) != 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!path && access("portico.yaml", R_OK) == 0) path = "portico.yaml";
    if (!no_sup) return pt_supervisor_run(path);
    pt_gateway_opts o = { .config_path = path, .supervisor_fd = -1 };
    return pt_gateway_run(&o);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "check-config") == 0) return cmd_check_config(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return cmd_store(argc - 2, argv + 2, false);
    if (strcmp(cmd, "import") == 0) return cmd_store(argc - 2, argv + 2, true);
    if (strcmp(cmd, "migrate-store") == 0) return cmd_migrate_store(argc - 2, argv + 2);
    if (strcmp(cmd, "doctor") == 0)
        return pt_config_doctor_wanted(argc - 2, argv + 2) ? pt_config_doctor_main(argc - 2, argv + 2)
                                                           : pt_doctor_main(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("portico %s\n", PT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "portico: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
