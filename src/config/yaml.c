/* yaml.c: YAML text -> a tree of nodes with line numbers (see yaml.h). */
#include "config/yaml.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>



typedef struct ybuilder {
    yaml_parser_t parser;
    const char *file;
    pt_buf *err;
    size_t nodes;
    bool failed;
} ybuilder;

void pt_cfg_node_free(pt_cfg_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nitems; i++) pt_cfg_node_free(n->items[i]);
    free(n->items);
    free(n->text);
    free(n);
}

static void yb_fail(ybuilder *b, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void yb_fail(ybuilder *b, unsigned line, const char *fmt, ...)
{
    if (b->failed) return;
    b->failed = true;
    pt_buf_reset(b->err);
    pt_buf_printf(b->err, "%s:%u: ", b->file, line);
    va_list ap;
    va_start(ap, fmt);
    pt_buf_vprintf(b->err, fmt, ap);
    va_end(ap);
}

static bool yb_next(ybuilder *b, yaml_event_t *ev)
{
    if (yaml_parser_parse(&b->parser, ev)) return true;
    yaml_parser_t *p = &b->parser;
    unsigned line = (unsigned)p->problem_mark.line + 1;
    if (p->context)
        yb_fail(b, line, "YAML syntax error: %s (%s, line %u)", p->problem ? p->problem : "invalid",
                p->context, (unsigned)p->context_mark.line + 1);
    else
        yb_fail(b, line, "YAML syntax error: %s", p->problem ? p->problem : "invalid input");
    return false;
}

static pt_cfg_node *yb_new(ybuilder *b, pt_cfg_kind kind, const yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1;
    if (++b->nodes > PT_CFG_MAX_NODES) {
        yb_fail(b, line, "YAML: too many values (more than %u)", PT_CFG_MAX_NODES);
        return NULL;
    }
    pt_cfg_node *n = calloc(1, sizeof *n);
    if (!n) {
        yb_fail(b, line, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    return n;
}

/* Appends child as the count-th item of parent (a map's items alternate key, value). */
static bool yb_push(ybuilder *b, pt_cfg_node *parent, size_t count, pt_cfg_node *child)
{
    if (count == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        pt_cfg_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items) {
            yb_fail(b, child->line, "out of memory");
            return false;
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[count] = child;
    parent->nitems = count + 1;
    parent->n = parent->kind == PT_CFG_MAP ? parent->nitems / 2 : parent->nitems;
    return true;
}

static pt_cfg_node *yb_node(ybuilder *b, yaml_event_t *ev, unsigned depth);

/* Reads children until the matching end event. A map's children alternate key, value. */
static bool yb_children(ybuilder *b, pt_cfg_node *n, unsigned depth)
{
    size_t count = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yb_next(b, &ev)) return false;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        pt_cfg_node *child = yb_node(b, &ev, depth + 1);
        if (!child) return false;
        if (n->kind == PT_CFG_MAP && count % 2 == 0 && child->kind != PT_CFG_SCALAR) {
            yb_fail(b, child->line, "YAML: a mapping key must be a plain string");
            pt_cfg_node_free(child);
            return false;
        }
        if (!yb_push(b, n, count, child)) {
            pt_cfg_node_free(child);
            return false;
        }
        count++;
    }
    return true;
}

/* Builds the node that starts with ev (and deletes ev). NULL on error (reported). */
static pt_cfg_node *yb_node(ybuilder *b, yaml_event_t *ev, unsigned depth)
{
    pt_cfg_node *n = NULL;
    unsigned line = (unsigned)ev->start_mark.line + 1;
    const unsigned char *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: anchor = ev->data.scalar.anchor; tag = ev->data.scalar.tag; break;
    case YAML_SEQUENCE_START_EVENT: anchor = ev->data.sequence_start.anchor; tag = ev->data.sequence_start.tag; break;
    case YAML_MAPPING_START_EVENT: anchor = ev->data.mapping_start.anchor; tag = ev->data.mapping_start.tag; break;
    case YAML_ALIAS_EVENT:
        yb_fail(b, line, "YAML: anchors and aliases are not supported");
        goto out;
    default:
        yb_fail(b, line, "YAML: unexpected event");
        goto out;
    }
    if (anchor) {
        yb_fail(b, line, "YAML: anchors and aliases are not supported");
        goto out;
    }
    bool str_tag = tag && strcmp((const char *)tag, "tag:yaml.org,2002:str") == 0;
    if (tag && !str_tag && strcmp((const char *)tag, "!") != 0 &&
        strcmp((const char *)tag, "tag:yaml.org,2002:seq") != 0 &&
        strcmp((const char *)tag, "tag:yaml.org,2002:map") != 0) {
        yb_fail(b, line, "YAML: tags are not supported (only !!str)");
        goto out;
    }
    if (depth > PT_CFG_MAX_DEPTH) {
        yb_fail(b, line, "YAML: nested more than %u levels deep", PT_CFG_MAX_DEPTH);
        goto out;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        if (ev->data.scalar.length > PT_CFG_MAX_SCALAR) {
            yb_fail(b, line, "YAML: value longer than %u bytes", PT_CFG_MAX_SCALAR);
            goto out;
        }
        n = yb_new(b, PT_CFG_SCALAR, ev);
        if (!n) goto out;
        n->len = ev->data.scalar.length;
        n->text = malloc(n->len + 1);
        if (!n->text) {
            yb_fail(b, line, "out of memory");
            pt_cfg_node_free(n);
            n = NULL;
            goto out;
        }
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->quoted = str_tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        goto out;
    }
    n = yb_new(b, ev->type == YAML_MAPPING_START_EVENT ? PT_CFG_MAP : PT_CFG_SEQ, ev);
    if (!n) goto out;
    yaml_event_delete(ev);
    if (!yb_children(b, n, depth)) {
        pt_cfg_node_free(n);
        return NULL;
    }
    return n;
out:
    yaml_event_delete(ev);
    return n;
}

pt_cfg_node *pt_cfg_yaml_parse(const char *file, const char *text, size_t len, pt_buf *err)
{
    ybuilder b = { .file = file, .err = err };
    pt_cfg_node *root = NULL;
    yaml_event_t ev;
    if (!yaml_parser_initialize(&b.parser)) {
        yb_fail(&b, 0, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    if (!yb_next(&b, &ev)) goto fail; /* STREAM-START */
    yaml_event_delete(&ev);
    if (!yb_next(&b, &ev)) goto fail;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        root = calloc(1, sizeof *root);
        if (!root) goto fail;
        root->kind = PT_CFG_MAP;
        root->line = 1;
        goto done;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (!yb_next(&b, &ev)) goto fail;
    root = yb_node(&b, &ev, 1);
    if (!root) goto fail;
    if (!yb_next(&b, &ev)) goto fail; /* DOCUMENT-END */
    yaml_event_delete(&ev);
    if (!yb_next(&b, &ev)) goto fail;
    if (ev.type != YAML_STREAM_END_EVENT) {
        yb_fail(&b, (unsigned)ev.start_mark.line + 1, "YAML: only one document is allowed");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
done:
    yaml_parser_delete(&b.parser);
    return root;
fail:
    if (!b.failed) yb_fail(&b, 0, "out of memory");
    pt_cfg_node_free(root);
    yaml_parser_delete(&b.parser);
    return NULL;
}

bool pt_cfg_is_null(const pt_cfg_node *n)
{
    if (n->kind != PT_CFG_SCALAR || n->quoted) return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

const char *pt_cfg_kind_name(const pt_cfg_node *n)
{
    if (n->kind == PT_CFG_MAP) return "a mapping";
    if (n->kind == PT_CFG_SEQ) return "a list";
    return pt_cfg_is_null(n) ? "nothing (null)" : "a single value";
}

const pt_cfg_node *pt_cfg_map_get(const pt_cfg_node *n, const char *key)
{
    if (!n || n->kind != PT_CFG_MAP) return NULL;
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->items[2 * i]->text, key) == 0) return n->items[2 * i + 1];
    return NULL;
}
