/* Unit tests for config/schema.c: key tables map every key they know, report every key
 * they do not (with a suggestion), keep going after an error, and map lists entry by
 * entry; and for config/yaml.c: nodes keep their lines, and YAML outside the schema's
 * reach is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/schema.h"

typedef struct thing {
    char *name;
    uint64_t timeout_ms;
    unsigned count;
    bool on;
    const pt_cfg_node *later;
    unsigned items[4];
} thing;

static int item_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    uint64_t v = 0;
    if (pt_cfg_uint(c, it, 1, 9, &v)) return -1;
    ((thing *)obj)->items[i] = (unsigned)v;
    return 0;
}

static const pt_cfg_list items_list = { "a list of numbers", 4, "at least one item", NULL, item_entry };

static int items_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_cfg_map_list(c, v, &items_list, obj); }

static const pt_cfg_field fields[] = {
    CFG_STR("name", thing, name),
    CFG_DUR("timeout", thing, timeout_ms, 1, PT_CFG_DAY_MS),
    CFG_UINT("count", thing, count, 0, 10),
    CFG_BOOL("on", thing, on),
    CFG_NODE("later", thing, later),
    CFG_FUNC("items", items_fn),
    CFG_END,
};

/* Maps yaml through fields; returns the rc, with the messages in err. */
static int map(const char *yaml, thing *t, pt_buf *err, pt_cfg_node **root)
{
    pt_buf_init(err, 0);
    *root = pt_cfg_yaml_parse("s.yaml", yaml, strlen(yaml), err);
    if (!*root) return -2;
    pt_cfg c = { .file = "s.yaml", .err = err };
    memset(t, 0, sizeof *t);
    return pt_cfg_map_fields(&c, *root, fields, t, NULL);
}

static void every_known_key_lands_in_its_member(void **state)
{
    thing t;
    pt_buf err;
    pt_cfg_node *root;
    assert_int_equal(map("name: x\ntimeout: 2s\ncount: 7\non: true\nlater: { a: 1 }\nitems: [1, 2]\n", &t, &err, &root), 0);
    assert_string_equal(t.name, "x");
    assert_int_equal(t.timeout_ms, 2000);
    assert_int_equal(t.count, 7);
    assert_true(t.on);
    assert_non_null(t.later);
    assert_int_equal(t.later->kind, PT_CFG_MAP);
    assert_int_equal(t.later->line, 5);
    assert_int_equal(t.items[0], 1);
    assert_int_equal(t.items[1], 2);
    free(t.name);
    pt_cfg_node_free(root);
    pt_buf_release(&err);
}

static void mapping_goes_on_after_errors(void **state)
{
    thing t;
    pt_buf err;
    pt_cfg_node *root;
    assert_int_equal(map("nmae: x\ntimeout: soon\ncount: 7\nitems: [0, 3, 99]\nzzzzzz: 1\n", &t, &err, &root), -1);
    assert_int_equal(t.count, 7); /* a good key after a bad one is still read */
    assert_int_equal(t.items[1], 3);
    assert_string_equal(err.data,
                        "s.yaml:1: nmae: unknown key (did you mean 'name'?)\n"
                        "s.yaml:2: timeout: expected a duration like 500ms, 10s, 2m or 1h (a plain number is "
                        "milliseconds), got 'soon'\n"
                        "s.yaml:4: items[0]: must be between 1 and 9, got '0'\n"
                        "s.yaml:4: items[2]: must be between 1 and 9, got '99'\n"
                        "s.yaml:5: zzzzzz: unknown key (expected one of: name, timeout, count, on, later, items)");
    pt_cfg_node_free(root);
    pt_buf_release(&err);
}

static void duplicate_keys_and_list_shapes(void **state)
{
    thing t;
    pt_buf err;
    pt_cfg_node *root;
    assert_int_equal(map("count: 1\ncount: 2\n", &t, &err, &root), -1);
    assert_string_equal(err.data, "s.yaml:2: count: duplicate key (first at line 1)");
    pt_cfg_node_free(root);
    pt_buf_release(&err);
    assert_int_equal(map("items: 5\n", &t, &err, &root), 0); /* a single value is a list of one */
    assert_int_equal(t.items[0], 5);
    pt_cfg_node_free(root);
    pt_buf_release(&err);
    assert_int_equal(map("items: []\n", &t, &err, &root), -1);
    assert_string_equal(err.data, "s.yaml:1: items: at least one item");
    pt_cfg_node_free(root);
    pt_buf_release(&err);
    assert_int_equal(map("items: [1, 2, 3, 4, 5]\n", &t, &err, &root), -1);
    assert_string_equal(err.data, "s.yaml:1: items: too many entries (at most 4)");
    pt_cfg_node_free(root);
    pt_buf_release(&err);
}

static void yaml_nodes_keep_lines_and_quoting(void **state)
{
    pt_buf err = PT_BUF_INIT;
    const char *y = "a: ~\nb: \"~\"\nc:\n  - x\n  - 'y'\n";
    pt_cfg_node *root = pt_cfg_yaml_parse("y.yaml", y, strlen(y), &err);
    assert_non_null(root);
    assert_true(pt_cfg_is_null(pt_cfg_map_get(root, "a")));
    assert_false(pt_cfg_is_null(pt_cfg_map_get(root, "b")));
    const pt_cfg_node *c = pt_cfg_map_get(root, "c");
    assert_int_equal(c->kind, PT_CFG_SEQ);
    assert_int_equal(c->items[1]->line, 5);
    assert_true(c->items[1]->quoted);
    assert_string_equal(pt_cfg_kind_name(c), "a list");
    pt_cfg_node_free(root);
    assert_null(pt_cfg_yaml_parse("y.yaml", "a: &x 1\nb: *x\n", 14, &err));
    assert_string_equal(err.data, "y.yaml:1: YAML: anchors and aliases are not supported");
    pt_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_known_key_lands_in_its_member),
        cmocka_unit_test(mapping_goes_on_after_errors),
        cmocka_unit_test(duplicate_keys_and_list_shapes),
        cmocka_unit_test(yaml_nodes_keep_lines_and_quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
