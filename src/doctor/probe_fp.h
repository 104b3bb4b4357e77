/* probe_fp.h: protocol fingerprints from the first bytes a server sends. Pure functions over
 * byte buffers (no sockets), so every signature is unit-tested. The probe that provoked the
 * bytes matters ("S" means PostgreSQL only as the answer to an SSLRequest), so the caller
 * says which probe it sent. */
#ifndef PT_DOCTOR_PROBE_FP_H
#define PT_DOCTOR_PROBE_FP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/slice.h"

/* What was sent before the bytes were read. */
typedef enum {
    PT_DR_PROBE_PASSIVE,  /* nothing: the server spoke first */
    PT_DR_PROBE_HTTP,     /* an HTTP/1.1 GET */
    PT_DR_PROBE_TLS,      /* a TLS ClientHello */
    PT_DR_PROBE_H2C,      /* the HTTP/2 connection preface and an empty SETTINGS frame */
    PT_DR_PROBE_REDIS,    /* PING\r\n */
    PT_DR_PROBE_PG,       /* a PostgreSQL SSLRequest */
} pt_dr_probe_kind;

typedef enum {
    PT_DR_FP_NONE,        /* no bytes */
    PT_DR_FP_UNKNOWN,     /* bytes that match no signature */
    PT_DR_FP_HTTP1,
    PT_DR_FP_TLS,         /* a TLS record: ServerHello or alert */
    PT_DR_FP_H2C,         /* an HTTP/2 SETTINGS frame without TLS */
    PT_DR_FP_SSH,
    PT_DR_FP_SMTP,        /* "220 " greeting: SMTP or FTP */
    PT_DR_FP_IMAP,
    PT_DR_FP_POP3,
    PT_DR_FP_MYSQL,
    PT_DR_FP_REDIS,
    PT_DR_FP_POSTGRES,
    PT_DR_FP_VNC,
    PT_DR_FP_MONGODB,     /* answers HTTP on its driver port, but only to say it is not HTTP */
} pt_dr_fp_kind;

typedef struct pt_dr_fp {
    pt_dr_fp_kind kind;
    int http_status;        /* HTTP1: the status code, else 0 */
    bool https_hint;        /* HTTP1: the body says "plain HTTP sent to an HTTPS port" */
    bool tls_alert;         /* TLS: the record is an alert, not a ServerHello */
    int tls_alert_desc;     /* TLS alert description code, -1 when unknown */
    char detail[160];       /* printable: "SSH-2.0-OpenSSH_9.2", "HTTP/1.1 200 OK (Server: nginx)" */
} pt_dr_fp;

/* Classifies the bytes read after `probe`. Never reads past bytes.len. */
void pt__dr_fp_classify(pt_slice bytes, pt_dr_probe_kind probe, pt_dr_fp *out);

/* The fact name of a kind: "http1", "tls", "h2c", "ssh", "smtp", ..., "unknown". */
const char *pt__dr_fp_name(pt_dr_fp_kind kind);

/* The kind a fact name stands for (PT_DR_FP_UNKNOWN for names it does not know). */
pt_dr_fp_kind pt__dr_fp_kind_of(const char *name);

/* A person-readable protocol name: "HTTP/1.x", "TLS", "SSH", "a MySQL/MariaDB server"... */
const char *pt__dr_fp_label(pt_dr_fp_kind kind);

/* Writes a printable excerpt of bytes (at most outsz-1 chars, NUL-terminated): printable
 * ASCII as is, CR/LF as \r \n, everything else as \xNN. Returns out. */
char *pt__dr_fp_printable(pt_slice bytes, char *out, size_t outsz);

/* Name of a TLS alert description ("handshake_failure"), or "alert N". */
const char *pt__dr_tls_alert_name(int desc);

/* Probe payloads. */
extern const pt_slice pt__dr_h2c_preface;      /* preface + empty SETTINGS frame */
extern const pt_slice pt__dr_pg_sslrequest;

#endif
