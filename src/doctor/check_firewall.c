/* check_firewall.c: the "firewall" check. With CAP_NET_ADMIN it reads the rules (nftables as
 * JSON through `nft -j list ruleset`; legacy iptables through iptables-save) and walks the
 * chains a connection from this host to the target passes (output, input, pre/postrouting)
 * with the real packet: tcp, the target address and port, on lo. Without the capability it
 * says it could not read them and infers from behaviour instead. It never changes a rule; it
 * prints the command that would. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/check.h"
#include "doctor/checks.h"
#include "doctor/firewall.h"
#include "doctor/runcmd.h"
#include "doctor/sysinfo.h"

#define NFT_OUTPUT_CAP (8u << 20)
#define MAX_DEPTH 16

/* ---- evaluating nftables JSON against one packet ------------------------------------------ */

typedef enum { T_FALSE, T_TRUE, T_UNKNOWN } tri;

typedef struct fw_eval {
    json_t *items;            /* the "nftables" array */
    const pt_dr_fw_packet *p;
    const char *hook;         /* hook of the base chain being walked */
    bool unsure;              /* a rule we could not evaluate came before */
    json_t *maybe;            /* array of rules that may drop or reject */
} fw_eval;

static tri neg(tri t) { return t == T_TRUE ? T_FALSE : t == T_FALSE ? T_TRUE : T_UNKNOWN; }

typedef struct lval {
    enum { L_UNKNOWN, L_PORT, L_ADDR, L_STR, L_NOMATCH } kind;
    unsigned port;
    const unsigned char *addr;
    const char *str;
} lval;

static bool addr_in_prefix(const unsigned char *a, int family, const char *net, long len)
{
    unsigned char b[16];
    return inet_pton(family, net, b) == 1 && pt_dr_prefix_match(family, b, a, len);
}

/* Is item (a "rule" or "set" object) in this family and table, with key equal to name? */
static bool in_place(json_t *item, const char *family, const char *table, const char *key, const char *name)
{
    const char *f = json_string_value(json_object_get(item, "family"));
    const char *t = json_string_value(json_object_get(item, "table"));
    const char *k = json_string_value(json_object_get(item, key));
    return f && t && k && strcmp(f, family) == 0 && strcmp(t, table) == 0 && strcmp(k, name) == 0;
}

/* The elements of a named "set" or "map" (a verdict map: [[key, verdict], ...]). */
static json_t *named(fw_eval *e, const char *what, const char *name, const char *family, const char *table)
{
    size_t i;
    json_t *it;
    json_array_foreach(e->items, i, it) {
        json_t *s = json_object_get(it, what);
        if (s && in_place(s, family, table, "name", name)) return json_object_get(s, "elem");
    }
    return NULL;
}

static tri value_in(fw_eval *e, const lval *l, json_t *r, const char *family, const char *table, int depth);

static tri value_in_list(fw_eval *e, const lval *l, json_t *arr, const char *family, const char *table, int depth)
{
    tri out = T_FALSE;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        json_t *elem = json_object_get(x, "elem"); /* {"elem": {"val": ..., "counter": ...}} */
        tri t = value_in(e, l, elem ? json_object_get(elem, "val") : x, family, table, depth + 1);
        if (t == T_TRUE) return T_TRUE;
        if (t == T_UNKNOWN) out = T_UNKNOWN;
    }
    return out;
}

static tri value_in(fw_eval *e, const lval *l, json_t *r, const char *family, const char *table, int depth)
{
    if (!r || depth > MAX_DEPTH) return T_UNKNOWN;
    const pt_dr_fw_packet *p = e->p;
    if (json_is_array(r)) return value_in_list(e, l, r, family, table, depth);
    json_t *set = json_object_get(r, "set");
    if (set) return json_is_array(set) ? value_in_list(e, l, set, family, table, depth) : T_UNKNOWN;
    if (json_is_string(r) && json_string_value(r)[0] == '@') {
        json_t *elems = named(e, "set", json_string_value(r) + 1, family, table);
        return elems ? value_in_list(e, l, elems, family, table, depth) : T_UNKNOWN;
    }
    json_t *range = json_object_get(r, "range");
    if (json_is_array(range) && json_array_size(range) == 2 && l->kind == L_PORT) {
        json_int_t lo = json_integer_value(json_array_get(range, 0)), hi = json_integer_value(json_array_get(range, 1));
        return (json_int_t)l->port >= lo && (json_int_t)l->port <= hi ? T_TRUE : T_FALSE;
    }
    json_t *prefix = json_object_get(r, "prefix");
    if (prefix && l->kind == L_ADDR) {
        const char *net = json_string_value(json_object_get(prefix, "addr"));
        long len = (long)json_integer_value(json_object_get(prefix, "len"));
        return net && addr_in_prefix(l->addr, p->family, net, len) ? T_TRUE : T_FALSE;
    }
    switch (l->kind) {
    case L_PORT:
        if (json_is_integer(r)) return json_integer_value(r) == (json_int_t)l->port ? T_TRUE : T_FALSE;
        return T_UNKNOWN; /* service names */
    case L_ADDR:
        if (json_is_string(r)) {
            unsigned char b[16];
            if (inet_pton(p->family, json_string_value(r), b) != 1) return T_UNKNOWN;
            return memcmp(b, l->addr, p->family == AF_INET ? 4 : 16) == 0 ? T_TRUE : T_FALSE;
        }
        return T_UNKNOWN;
    case L_STR:
        if (json_is_string(r)) return strcmp(json_string_value(r), l->str) == 0 ? T_TRUE : T_FALSE;
        if (json_is_integer(r) && strcmp(l->str, "tcp") == 0) return json_integer_value(r) == 6 ? T_TRUE : T_FALSE;
        return T_UNKNOWN;
    default: return T_UNKNOWN;
    }
}

static lval left_value(fw_eval *e, json_t *left)
{
    const pt_dr_fw_packet *p = e->p;
    lval l = { .kind = L_UNKNOWN };
    json_t *pl = json_object_get(left, "payload");
    json_t *meta = json_object_get(left, "meta");
    json_t *ct = json_object_get(left, "ct");
    bool in_side = strcmp(e->hook, "input") == 0 || strcmp(e->hook, "prerouting") == 0;
    if (pl) {
        const char *proto = json_string_value(json_object_get(pl, "protocol"));
        const char *field = json_string_value(json_object_get(pl, "field"));
        if (!proto || !field) return l;
        if (strcmp(proto, "udp") == 0 || strcmp(proto, "sctp") == 0 || strcmp(proto, "icmp") == 0 ||
            strcmp(proto, "icmpv6") == 0) {
            l.kind = L_NOMATCH;
        } else if ((strcmp(proto, "tcp") == 0 || strcmp(proto, "th") == 0) && strcmp(field, "dport") == 0) {
            l.kind = L_PORT, l.port = p->dport;
        } else if (strcmp(proto, "ip") == 0 || strcmp(proto, "ip6") == 0) {
            if ((strcmp(proto, "ip") == 0) != (p->family == AF_INET)) l.kind = L_NOMATCH;
            else if (strcmp(field, "daddr") == 0) l.kind = L_ADDR, l.addr = p->daddr;
            else if (strcmp(field, "saddr") == 0 && p->saddr_known) l.kind = L_ADDR, l.addr = p->saddr;
            else if (strcmp(field, "protocol") == 0 || strcmp(field, "nexthdr") == 0) l.kind = L_STR, l.str = "tcp";
        }
    } else if (meta) {
        const char *key = json_string_value(json_object_get(meta, "key"));
        if (!key) return l;
        if (strcmp(key, "l4proto") == 0) l.kind = L_STR, l.str = "tcp";
        else if (strcmp(key, "nfproto") == 0) l.kind = L_STR, l.str = p->family == AF_INET ? "ipv4" : "ipv6";
        else if (!p->ifname[0] && (strstr(key, "iif") || strstr(key, "oif"))) return l; /* route unknown */
        else if (strcmp(key, "iifname") == 0 || strcmp(key, "iif") == 0) l.kind = L_STR, l.str = in_side ? p->ifname : "";
        else if (strcmp(key, "oifname") == 0 || strcmp(key, "oif") == 0) l.kind = L_STR, l.str = in_side ? "" : p->ifname;
    } else if (ct) {
        const char *key = json_string_value(json_object_get(ct, "key"));
        if (key && strcmp(key, "state") == 0) l.kind = L_STR, l.str = "new";
    }
    return l;
}

static bool verdict_drops(json_t *v) { return json_object_get(v, "drop") || json_object_get(v, "reject"); }

/* `tcp dport vmap { 22 : accept, 8080 : drop }` (or `vmap @name`): the verdict the packet's
 * key selects (T_TRUE, *verdict set); T_FALSE when no element matches (the rule does not
 * apply); T_UNKNOWN when the key cannot be judged, with *may_drop when some element drops. */
static tri vmap_lookup(fw_eval *e, json_t *vm, const char *family, const char *table, json_t **verdict, bool *may_drop)
{
    *may_drop = false;
    lval l = left_value(e, json_object_get(vm, "key"));
    if (l.kind == L_NOMATCH) return T_FALSE;
    json_t *data = json_object_get(vm, "data");
    json_t *elems = json_object_get(data, "set");
    if (json_is_string(data) && json_string_value(data)[0] == '@')
        elems = named(e, "map", json_string_value(data) + 1, family, table);
    if (!json_is_array(elems)) return T_UNKNOWN;
    tri out = T_FALSE;
    size_t i;
    json_t *pair;
    json_array_foreach(elems, i, pair) {
        json_t *k = json_array_get(pair, 0), *v = json_array_get(pair, 1);
        if (!k || !v) continue;
        if (json_object_get(k, "elem")) k = json_object_get(json_object_get(k, "elem"), "val");
        tri t = l.kind == L_UNKNOWN ? T_UNKNOWN : value_in(e, &l, k, family, table, 1);
        if (t == T_TRUE) {
            *verdict = v;
            return T_TRUE;
        }
        if (t == T_UNKNOWN) {
            out = T_UNKNOWN;
            *may_drop |= verdict_drops(v);
        }
    }
    return out;
}

static tri eval_match(fw_eval *e, json_t *m, const char *family, const char *table)
{
    const char *op = json_string_value(json_object_get(m, "op"));
    lval l = left_value(e, json_object_get(m, "left"));
    if (l.kind == L_NOMATCH) return op && strcmp(op, "!=") == 0 ? T_TRUE : T_FALSE;
    if (l.kind == L_UNKNOWN || !op) return T_UNKNOWN;
    tri t = value_in(e, &l, json_object_get(m, "right"), family, table, 0);
    if (strcmp(op, "==") == 0 || strcmp(op, "in") == 0) return t;
    if (strcmp(op, "!=") == 0) return neg(t);
    return T_UNKNOWN;
}

/* ---- rendering a rule the way nft prints it (close enough to find it) ----------------------- */

static void render_value(json_t *r, char *out, size_t n)
{
    if (json_is_integer(r)) snprintf(out, n, "%lld", (long long)json_integer_value(r));
    else if (json_is_string(r)) snprintf(out, n, "%s", json_string_value(r));
    else if (json_object_get(r, "prefix"))
        snprintf(out, n, "%s/%lld", json_string_value(json_object_get(json_object_get(r, "prefix"), "addr")),
                 (long long)json_integer_value(json_object_get(json_object_get(r, "prefix"), "len")));
    else if (json_object_get(r, "range"))
        snprintf(out, n, "%lld-%lld", (long long)json_integer_value(json_array_get(json_object_get(r, "range"), 0)),
                 (long long)json_integer_value(json_array_get(json_object_get(r, "range"), 1)));
    else if (json_object_get(r, "set") || json_is_array(r)) {
        json_t *a = json_object_get(r, "set") ? json_object_get(r, "set") : r;
        size_t used = (size_t)snprintf(out, n, "{ ");
        size_t i;
        json_t *x;
        json_array_foreach(a, i, x) {
            char v[64];
            render_value(x, v, sizeof v);
            if (used < n) used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", v);
        }
        if (used < n) snprintf(out + used, n - used, " }");
    } else snprintf(out, n, "...");
}

static void render_rule(json_t *rule, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(rule, "expr"), i, x) {
        char part[256] = "";
        json_t *m = json_object_get(x, "match");
        if (m) {
            json_t *left = json_object_get(m, "left");
            char l[64] = "?", r[160];
            json_t *pl = json_object_get(left, "payload"), *meta = json_object_get(left, "meta"),
                   *ct = json_object_get(left, "ct");
            if (pl) snprintf(l, sizeof l, "%s %s", json_string_value(json_object_get(pl, "protocol")),
                             json_string_value(json_object_get(pl, "field")));
            else if (meta) snprintf(l, sizeof l, "%s", json_string_value(json_object_get(meta, "key")));
            else if (ct) snprintf(l, sizeof l, "ct %s", json_string_value(json_object_get(ct, "key")));
            render_value(json_object_get(m, "right"), r, sizeof r);
            const char *op = json_string_value(json_object_get(m, "op"));
            bool plain = !op || strcmp(op, "==") == 0 || strcmp(op, "in") == 0;
            snprintf(part, sizeof part, "%s %s%s%s", l, plain ? "" : op, plain ? "" : " ", r);
        } else if (json_object_get(x, "vmap")) {
            json_t *vm = json_object_get(x, "vmap"), *pl = json_object_get(json_object_get(vm, "key"), "payload");
            json_t *data = json_object_get(vm, "data");
            char elems[200] = "";
            if (json_is_string(data)) snprintf(elems, sizeof elems, "%s", json_string_value(data));
            else {
                size_t u = (size_t)snprintf(elems, sizeof elems, "{ "), j;
                json_t *pair;
                json_array_foreach(json_object_get(data, "set"), j, pair) {
                    char k[64];
                    render_value(json_array_get(pair, 0), k, sizeof k);
                    const char *verb = json_object_iter_key(json_object_iter(json_array_get(pair, 1)));
                    if (u < sizeof elems)
                        u += (size_t)snprintf(elems + u, sizeof elems - u, "%s%s : %s", j ? ", " : "", k, verb ? verb : "?");
                }
                if (u < sizeof elems) snprintf(elems + u, sizeof elems - u, " }");
            }
            snprintf(part, sizeof part, "%s %s vmap %s", pl ? json_string_value(json_object_get(pl, "protocol")) : "?",
                     pl ? json_string_value(json_object_get(pl, "field")) : "?", elems);
        } else if (json_object_get(x, "jump") || json_object_get(x, "goto")) {
            bool jump = json_object_get(x, "jump") != NULL;
            snprintf(part, sizeof part, "%s %s", jump ? "jump" : "goto",
                     json_string_value(json_object_get(json_object_get(x, jump ? "jump" : "goto"), "target")));
        } else {
            const char *key = json_object_iter_key(json_object_iter(x));
            if (key && strcmp(key, "counter") != 0) snprintf(part, sizeof part, "%s", key);
        }
        if (*part && used < n) used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " " : "", part);
    }
}

static json_t *rule_json(json_t *rule, const char *why)
{
    char text[512];
    render_rule(rule, text, sizeof text);
    json_t *o = json_object();
    static const char *const keys[] = { "family", "table", "chain", "handle" };
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(rule, keys[i]);
        json_object_set_new(o, keys[i], v ? json_incref(v) : json_null());
    }
    json_object_set_new(o, "rule", json_string(text));
    json_object_set_new(o, "match", json_string(why));
    return o;
}

typedef struct verdict {
    enum { V_NONE, V_ACCEPT, V_DROP, V_REJECT, V_RETURN } kind;
    json_t *rule;
    bool sure;
} verdict;

static verdict walk_chain(fw_eval *e, const char *family, const char *table, const char *chain, int depth)
{
    verdict none = { V_NONE, NULL, false };
    if (depth > MAX_DEPTH) return none;
    size_t i;
    json_t *it;
    json_array_foreach(e->items, i, it) {
        json_t *rule = json_object_get(it, "rule");
        if (!rule || !in_place(rule, family, table, "chain", chain)) continue;
        tri all = T_TRUE;
        int kind = V_NONE;
        const char *target = NULL;
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(rule, "expr"), k, x) {
            json_t *m = json_object_get(x, "match");
            if (m) {
                tri r = eval_match(e, m, family, table);
                if (r == T_FALSE) {
                    all = T_FALSE;
                    break;
                }
                if (r == T_UNKNOWN) all = T_UNKNOWN;
            } else if (json_object_get(x, "vmap")) {
                json_t *v = NULL;
                bool may_drop;
                tri r = vmap_lookup(e, json_object_get(x, "vmap"), family, table, &v, &may_drop);
                if (r == T_FALSE) {
                    all = T_FALSE;
                    break;
                }
                if (r == T_UNKNOWN) { /* cannot tell which element: a maybe when one of them drops */
                    all = T_UNKNOWN;
                    if (may_drop) kind = V_DROP;
                    continue;
                }
                json_t *j = json_object_get(v, "jump") ? json_object_get(v, "jump") : json_object_get(v, "goto");
                if (j) target = json_string_value(json_object_get(j, "target"));
                else kind = json_object_get(v, "accept") ? V_ACCEPT : json_object_get(v, "drop") ? V_DROP
                          : json_object_get(v, "reject") ? V_REJECT : json_object_get(v, "return") ? V_RETURN : V_NONE;
            } else if (json_object_get(x, "accept")) kind = V_ACCEPT;
            else if (json_object_get(x, "drop")) kind = V_DROP;
            else if (json_object_get(x, "reject")) kind = V_REJECT;
            else if (json_object_get(x, "return")) kind = V_RETURN;
            else if (json_object_get(x, "jump") || json_object_get(x, "goto")) {
                json_t *j = json_object_get(x, "jump") ? json_object_get(x, "jump") : json_object_get(x, "goto");
                target = json_string_value(json_object_get(j, "target"));
            } else if (!json_object_get(x, "counter") && !json_object_get(x, "log") &&
                       !json_object_get(x, "comment")) {
                if (all == T_TRUE) all = T_UNKNOWN; /* limit, xt, mangle...: cannot tell */
            }
        }
        if (all == T_FALSE) continue;
        if (target) {
            verdict v = walk_chain(e, family, table, target, depth + 1);
            if (v.kind == V_NONE || v.kind == V_RETURN) continue;
            if (all == T_TRUE) return v;
            if (v.kind == V_DROP || v.kind == V_REJECT) json_array_append_new(e->maybe, rule_json(v.rule, "maybe"));
            e->unsure = true;
            continue;
        }
        if (kind == V_NONE) continue;
        if (all == T_UNKNOWN) {
            if (kind == V_DROP || kind == V_REJECT) json_array_append_new(e->maybe, rule_json(rule, "maybe"));
            e->unsure = true;
            continue;
        }
        return (verdict){ kind, rule, !e->unsure };
    }
    return none;
}

static bool hook_applies(const char *hook)
{
    return hook && (strcmp(hook, "input") == 0 || strcmp(hook, "output") == 0 || strcmp(hook, "prerouting") == 0 ||
                    strcmp(hook, "postrouting") == 0);
}

int pt__dr_nft_evaluate(json_t *doc, const pt_dr_fw_packet *p, json_t *found, json_t *maybe)
{
    json_t *items = json_object_get(doc, "nftables");
    if (!json_is_array(items)) return -1;
    int nrules = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) nrules += json_object_get(it, "rule") != NULL;
    json_array_foreach(items, i, it) {
        json_t *ch = json_object_get(it, "chain");
        if (!ch) continue;
        const char *family = json_string_value(json_object_get(ch, "family"));
        const char *hook = json_string_value(json_object_get(ch, "hook"));
        if (!family || !hook_applies(hook)) continue;
        bool fam_ok = strcmp(family, "inet") == 0 || (strcmp(family, "ip") == 0 && p->family == AF_INET) ||
                      (strcmp(family, "ip6") == 0 && p->family == AF_INET6);
        if (!fam_ok) continue;
        fw_eval e = { .items = items, .p = p, .hook = hook, .maybe = maybe };
        const char *table = json_string_value(json_object_get(ch, "table"));
        const char *name = json_string_value(json_object_get(ch, "name"));
        if (!table || !name) continue;
        verdict v = walk_chain(&e, family, table, name, 0);
        if (v.kind == V_DROP || v.kind == V_REJECT) {
            json_t *r = rule_json(v.rule, v.sure ? "certain" : "likely");
            json_object_set_new(r, "verdict", json_string(v.kind == V_DROP ? "drop" : "reject"));
            json_object_set_new(r, "hook", json_string(hook));
            json_array_append_new(found, r);
        } else if (v.kind == V_NONE) {
            const char *policy = json_string_value(json_object_get(ch, "policy"));
            if (policy && strcmp(policy, "drop") == 0) {
                json_t *r = json_object();
                json_object_set_new(r, "family", json_string(family));
                json_object_set_new(r, "table", json_string(table));
                json_object_set_new(r, "chain", json_string(name));
                json_object_set_new(r, "handle", json_null());
                char text[160];
                snprintf(text, sizeof text, "policy drop of chain %s (no rule before it accepts this packet)", name);
                json_object_set_new(r, "rule", json_string(text));
                json_object_set_new(r, "match", json_string(e.unsure ? "likely" : "certain"));
                json_object_set_new(r, "verdict", json_string("drop"));
                json_object_set_new(r, "hook", json_string(hook));
                json_array_append_new(found, r);
            }
        }
    }
    return nrules;
}

/* ---- legacy iptables ------------------------------------------------------------------- */

static bool port_in_spec(const char *spec, unsigned port)
{
    /* "8080", "8000:9000", "80,443,8080" */
    for (const char *p = spec; *p;) {
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p) return false;
        if (*end == ':') b = strtoul(end + 1, &end, 10);
        if (port >= a && port <= b) return true;
        if (*end != ',') break;
        p = end + 1;
    }
    return false;
}

int pt__dr_iptables_evaluate(const char *save, const pt_dr_fw_packet *p, json_t *found)
{
    int nrules = 0;
    const char *line = save;
    for (int k = 0; line && *line && k < 200000; k++) {
        size_t n = strcspn(line, "\n");
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf - 1 ? n : sizeof buf - 1), line);
        line += n + (line[n] == '\n');
        if (strncmp(buf, "-A ", 3) != 0) {
            char chain[64], policy[16];
            if (sscanf(buf, ":%63s %15s", chain, policy) == 2 && strcmp(policy, "DROP") == 0 &&
                (strcmp(chain, "INPUT") == 0 || strcmp(chain, "OUTPUT") == 0)) {
                json_t *r = json_object();
                json_object_set_new(r, "rule", json_string(buf));
                json_object_set_new(r, "match", json_string("likely"));
                json_object_set_new(r, "verdict", json_string("drop"));
                json_object_set_new(r, "chain", json_string(chain));
                json_array_append_new(found, r);
            }
            continue;
        }
        nrules++;
        const char *j = strstr(buf, " -j ");
        if (!j || (strncmp(j + 4, "DROP", 4) != 0 && strncmp(j + 4, "REJECT", 6) != 0)) continue;
        const char *dp = strstr(buf, "--dport ");
        if (!dp) dp = strstr(buf, "--dports ");
        bool port_ok = !dp || port_in_spec(strchr(dp, ' ') + 1, p->dport);
        bool udp = strstr(buf, "-p udp") != NULL || strstr(buf, "-p icmp") != NULL;
        const char *iface = strstr(buf, " -i ");
        if (!iface) iface = strstr(buf, " -o ");
        bool iface_ok = !iface || !p->ifname[0] || strncmp(iface + 4, p->ifname, strlen(p->ifname)) == 0;
        bool narrowed = dp || iface;
        if (!port_ok || udp || !iface_ok || !narrowed) continue;
        json_t *r = json_object();
        json_object_set_new(r, "rule", json_string(buf));
        json_object_set_new(r, "match", json_string("likely"));
        json_object_set_new(r, "verdict", json_string(strncmp(j + 4, "DROP", 4) == 0 ? "drop" : "reject"));
        json_array_append_new(found, r);
    }
    return nrules;
}

/* ---- the check --------------------------------------------------------------------------- */

static bool file_nonempty(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return false;
    int c = fgetc(f);
    fclose(f);
    return c != EOF;
}

typedef struct target_addr {
    pt_dr_fw_packet pkt;
    char text[46];
    const char *result;
} target_addr;

static size_t gather_targets(pt_dr_ctx *ctx, target_addr *v, size_t max)
{
    json_t *list = json_object_get(ctx->facts, "connect");
    if (!json_is_array(list)) list = json_object_get(ctx->facts, "addresses");
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(list, i, o) {
        const char *a = json_string_value(json_object_get(o, "address"));
        if (!a || n >= max) continue;
        target_addr *t = &v[n];
        memset(t, 0, sizeof *t);
        t->pkt.family = strchr(a, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(t->pkt.family, a, t->pkt.daddr) != 1) continue;
        t->pkt.dport = (unsigned)ctx->target->port;
        if (pt_dr_addr_is_local(t->pkt.family, t->pkt.daddr)) {
            /* A connection to this machine goes over lo, from the address it targets. */
            memcpy(t->pkt.saddr, t->pkt.daddr, 16);
            t->pkt.saddr_known = true;
            snprintf(t->pkt.ifname, sizeof t->pkt.ifname, "lo");
        }
        snprintf(t->text, sizeof t->text, "%s", a);
        t->result = json_string_value(json_object_get(o, "result"));
        n++;
    }
    return n;
}

static bool timed_out(const target_addr *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].result && strcmp(t[i].result, "timeout") == 0) return true;
    return false;
}

static bool refused(const target_addr *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].result && (strcmp(t[i].result, "refused") == 0 || strcmp(t[i].result, "unreachable") == 0)) return true;
    return false;
}

static bool listener_queue_full(json_t *facts)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(facts, "listeners"), i, o) {
        json_t *b = json_object_get(o, "backlog");
        if (json_is_integer(b) && json_integer_value(json_object_get(o, "accept_queue")) > json_integer_value(b))
            return true;
    }
    return false;
}

/* Without the rules: what the connect results say about a firewall. */
static void infer(pt_dr_ctx *ctx, pt_dr_result *res, const target_addr *t, size_t n, const char *why)
{
    json_object_set_new(res->evidence, "rules_read", json_false());
    json_object_set_new(res->evidence, "why_not", json_string(why));
    bool lo = n && (t[0].pkt.family == AF_INET ? t[0].pkt.daddr[0] == 127 : t[0].pkt.daddr[15] == 1);
    if (timed_out(t, n) && lo && !listener_queue_full(ctx->facts)) {
        pt_dr_set(res, PT_DR_WARN, "firewall_drop", 60,
                  "could not read the rules (%s), but a connect on loopback timed out without a full accept queue: "
                  "a DROP rule is the likely cause", why);
        pt_dr_remedy(res, "Read the rules as root: `sudo nft list ruleset | grep -n -e drop -e 'dport %ld'` or "
                     "`sudo iptables -S | grep -e DROP -e %ld`", ctx->target->port, ctx->target->port);
        return;
    }
    pt_dr_skip(res, "could not read the rules (%s); the connect results show no sign of a firewall", why);
}

/* A table and chain iptables-nft made ("ip filter" / INPUT): named in capitals, in the tables
 * iptables knows. Its rules are best changed with iptables, which lists them. */
static bool iptables_nft_chain(const char *fam, const char *table, const char *chain)
{
    static const char *const tables[] = { "filter", "nat", "mangle", "raw", "security" };
    static const char *const chains[] = { "INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING" };
    if (!fam || !table || !chain || (strcmp(fam, "ip") != 0 && strcmp(fam, "ip6") != 0)) return false;
    bool t = false, c = false;
    for (size_t i = 0; i < 5; i++) {
        t = t || strcmp(table, tables[i]) == 0;
        c = c || strcmp(chain, chains[i]) == 0;
    }
    return t && c;
}

static void report(pt_dr_ctx *ctx, pt_dr_result *res, json_t *found, json_t *maybe, int nrules, const char *source,
                   const target_addr *t, size_t n)
{
    json_object_set_new(res->evidence, "rules_read", json_true());
    json_object_set_new(res->evidence, "source", json_string(source));
    json_object_set_new(res->evidence, "rules", json_integer(nrules));
    json_object_set(res->evidence, "blocking", found);
    json_object_set(res->evidence, "maybe_blocking", maybe);
    bool failed = timed_out(t, n) || refused(t, n);
    if (json_array_size(found)) {
        json_t *r = json_array_get(found, 0);
        const char *verd = json_string_value(json_object_get(r, "verdict"));
        const char *text = json_string_value(json_object_get(r, "rule"));
        const char *fam = json_string_value(json_object_get(r, "family"));
        const char *table = json_string_value(json_object_get(r, "table"));
        const char *chain = json_string_value(json_object_get(r, "chain"));
        json_t *h = json_object_get(r, "handle");
        bool reject = verd && strcmp(verd, "reject") == 0;
        size_t i;
        json_t *x;
        json_array_foreach(found, i, x) {
            const char *xf = json_string_value(json_object_get(x, "family"));
            const char *xt = json_string_value(json_object_get(x, "table"));
            const char *xc = json_string_value(json_object_get(x, "chain"));
            if (xt)
                pt_dr_detail(res, "table %s %s, chain %s: %s", xf ? xf : "?", xt, xc ? xc : "?",
                             json_string_value(json_object_get(x, "rule")));
            else
                pt_dr_detail(res, "iptables: %s", json_string_value(json_object_get(x, "rule")));
        }
        pt_dr_detail(res, "probe packet: tcp to %s port %ld on lo", n ? t[0].text : "?", ctx->target->port);
        if (failed) {
            char handle[40] = ""; /* a chain's policy has no handle */
            if (json_is_integer(h)) snprintf(handle, sizeof handle, ", handle %lld", (long long)json_integer_value(h));
            if (table)
                pt_dr_set(res, PT_DR_FAIL, reject ? "firewall_reject" : "firewall_drop", 95,
                          "a firewall rule %ss tcp port %ld to %s: %s (table %s %s, chain %s%s)",
                          reject ? "reject" : "drop", ctx->target->port, n ? t[0].text : "?", text, fam, table, chain,
                          handle);
            else
                pt_dr_set(res, PT_DR_FAIL, reject ? "firewall_reject" : "firewall_drop", 90,
                          "a firewall rule %ss tcp port %ld: %s", reject ? "reject" : "drop", ctx->target->port, text);
        } else {
            pt_dr_set(res, PT_DR_INFO, NULL, 0, "a rule looks like it %ss tcp port %ld (%s), yet the connect worked",
                      reject ? "reject" : "drop", ctx->target->port, text);
        }
        if (table && json_is_integer(h)) {
            pt_dr_remedy(res, "See it in context: `sudo nft -a list chain %s %s %s`", fam, table, chain);
            pt_dr_remedy(res, "Remove it (the doctor changes nothing itself): `sudo nft delete rule %s %s %s handle %lld`",
                         fam, table, chain, (long long)json_integer_value(h));
            pt_dr_remedy(res, "Or let loopback through before it: `sudo nft insert rule %s %s %s iif lo accept`", fam,
                         table, chain);
        } else if (table && iptables_nft_chain(fam, table, chain)) {
            /* iptables-nft owns this table: changing it with nft is what iptables then refuses to list */
            pt_dr_remedy(res, "Let loopback through: `sudo %s -I %s -i lo -j ACCEPT` (table %s %s is iptables-nft's)",
                         strcmp(fam, "ip6") == 0 ? "ip6tables" : "iptables", chain, fam, table);
        } else if (table) {
            pt_dr_remedy(res, "Let loopback through: `sudo nft insert rule %s %s %s iif lo accept`", fam, table, chain);
        } else {
            pt_dr_remedy(res, "Remove or narrow the rule: `sudo iptables -S | grep -n -e DROP -e REJECT`, then "
                         "`sudo iptables -D ...` with the same specification");
        }
        return;
    }
    if (json_array_size(maybe) && timed_out(t, n)) {
        json_t *r = json_array_get(maybe, 0);
        pt_dr_set(res, PT_DR_WARN, "firewall_drop", 60, "no rule certainly blocks port %ld, but this one may: %s",
                  ctx->target->port, json_string_value(json_object_get(r, "rule")));
        pt_dr_remedy(res, "Inspect it: `sudo nft -a list ruleset`");
        return;
    }
    if (nrules == 0)
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "no firewall rules (%s ruleset is empty)", source);
    else
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%d rule%s read from %s; none drops or rejects tcp port %ld to %s",
                  nrules, nrules == 1 ? "" : "s", source, ctx->target->port, n ? t[0].text : ctx->target->host);
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    if (!pt_dr_need_port(ctx, res)) return;
    target_addr t[8];
    size_t n = gather_targets(ctx, t, 8);
    long rl = pt_dr_read_long("/proc/sys/net/ipv4/conf/all/route_localnet");
    long ct = pt_dr_read_long("/proc/sys/net/netfilter/nf_conntrack_count");
    long ctmax = pt_dr_read_long("/proc/sys/net/netfilter/nf_conntrack_max");
    json_object_set_new(res->evidence, "route_localnet", rl < 0 ? json_null() : json_integer(rl));
    json_object_set_new(res->evidence, "conntrack_count", ct < 0 ? json_null() : json_integer(ct));
    json_object_set_new(res->evidence, "conntrack_max", ctmax < 0 ? json_null() : json_integer(ctmax));
    if (ct >= 0 && ctmax > 0 && ct * 100 >= ctmax * 95 && timed_out(t, n)) {
        pt_dr_set(res, PT_DR_FAIL, "conntrack_full", 80,
                  "the connection-tracking table is full (%ld of %ld): new connections are dropped", ct, ctmax);
        pt_dr_remedy(res, "Raise it: `sudo sysctl net.netfilter.nf_conntrack_max=%ld`", ctmax * 2);
        return;
    }
    if (!pt_dr_has_cap(12) /* CAP_NET_ADMIN */) {
        infer(ctx, res, t, n, "reading firewall rules needs root (CAP_NET_ADMIN)");
        return;
    }
    json_t *found = json_array(), *maybe = json_array();
    char nft[256];
    unsigned budget = ctx->opts->timeout_ms < 2000 ? 2000 : ctx->opts->timeout_ms;
    bool legacy4 = file_nonempty("/proc/net/ip_tables_names"), legacy6 = file_nonempty("/proc/net/ip6_tables_names");
    int nrules = 0;
    const char *source = NULL;
    if (pt_dr_which("nft", nft, sizeof nft)) {
        char *argv[] = { nft, "-j", "list", "ruleset", NULL };
        pt_dr_cmd out;
        pt_dr_run_cmd(argv, budget, NFT_OUTPUT_CAP, &out);
        json_error_t jerr;
        json_t *doc = out.status == 0 && out.out ? json_loads(out.out, 0, &jerr) : NULL;
        if (doc) {
            for (size_t i = 0; i < n; i++) {
                int r = pt__dr_nft_evaluate(doc, &t[i].pkt, found, maybe);
                if (r > nrules) nrules = r;
            }
            source = "nftables";
            json_decref(doc);
        } else if (out.status == 0 && out.len == 0) {
            source = "nftables"; /* an empty ruleset prints nothing */
        } else {
            json_object_set_new(res->evidence, "nft_error",
                                json_string(out.timed_out ? "timed out" : out.err[0] ? out.err : "unreadable output"));
        }
        free(out.out);
    }
    char ipt[256];
    const char *names[2] = { "iptables-legacy-save", "ip6tables-legacy-save" };
    for (int v = 0; v < 2; v++) {
        if (!(v == 0 ? legacy4 : legacy6)) continue;
        if (!pt_dr_which(names[v], ipt, sizeof ipt) && !pt_dr_which(v == 0 ? "iptables-save" : "ip6tables-save", ipt, sizeof ipt))
            continue;
        char *argv[] = { ipt, NULL };
        pt_dr_cmd out;
        pt_dr_run_cmd(argv, budget, NFT_OUTPUT_CAP, &out);
        for (size_t i = 0; out.out && i < n; i++)
            if ((t[i].pkt.family == AF_INET) == (v == 0)) nrules += pt__dr_iptables_evaluate(out.out, &t[i].pkt, found);
        source = source ? "nftables and iptables-legacy" : "iptables-legacy";
        free(out.out);
    }
    if (!source) {
        infer(ctx, res, t, n, "neither nft nor iptables-save could be run");
    } else {
        report(ctx, res, found, maybe, nrules, source, t, n);
    }
    json_decref(found);
    json_decref(maybe);
}

const pt_dr_check pt_dr_check_firewall = {
    .id = "firewall",
    .title = "Firewall rules",
    .modes = PT_DR_MODE_NET,
    .run = run,
};
