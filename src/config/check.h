/* check.h: validators for values that several sections share: names, hosts, ports,
 * addresses, URLs, header names and values. Each records its own error (see value.h). */
#ifndef PT_CONFIG_CHECK_H
#define PT_CONFIG_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/value.h"

#define PT_CFG_MAX_NAME 64u

bool pt_cfg_parse_port(const char *s, size_t len, uint16_t *out);
/* A DNS name or IPv4 literal: letters, digits, '-', '.', '_'; 1..253 bytes. */
bool pt_cfg_hostname_ok(const char *h, size_t len);
bool pt_cfg_ipv6_ok(const char *h, size_t len);
void pt_cfg_lowercase(char *s);

/* Names used in metrics labels, logs and registry keys: 1..64 of [A-Za-z0-9._-]. */
int pt_cfg_name(pt_cfg *c, const pt_cfg_node *n, const char *s);
/* A header name. As a mapping key it is taken literally, like every key; as a list
 * entry it is a value and ${} expands. Replaces *out. */
int pt_cfg_header_name(pt_cfg *c, const pt_cfg_node *n, bool is_key, char **out);
/* Header values: no CR, LF, NUL or other controls but HTAB (no header injection). */
int pt_cfg_header_value(pt_cfg *c, const pt_cfg_node *n, char **out);
/* Route host patterns: "api.example.com", "*.example.com", "[::1]"; lowercased in place. */
int pt_cfg_host_pattern(pt_cfg *c, const pt_cfg_node *at, char *h);

/* A listen address: host (no brackets), port, and the canonical text. */
typedef struct pt_cfg_addr {
    char *host;
    uint16_t port;
    char *text;
} pt_cfg_addr;
/* "HOST:PORT" or "[IPV6]:PORT"; HOST is an IP literal or localhost. Replaces host, text. */
int pt_cfg_listen_address(pt_cfg *c, const pt_cfg_node *at, const char *s, pt_cfg_addr *out);

typedef struct pt_cfg_url_parts {
    bool tls;
    char *host;      /* lowercase, no brackets */
    uint16_t port;   /* default 80 / 443 by scheme */
    char *path;      /* without trailing '/', "" for none */
} pt_cfg_url_parts;
int pt_cfg_url(pt_cfg *c, const pt_cfg_node *at, const char *s, const char *what, bool allow_path,
               pt_cfg_url_parts *u);

#endif
