/* Unit tests for config/node.c: JSON becomes the nodes a YAML file would give (mappings,
 * lists, quoted strings, plain numbers and booleans, null), built scalars are literal
 * (never searched for ${ENV}), and a clone is deep and equal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/node.h"
#include "config/value.h"

static void json_maps_to_the_nodes_yaml_would_give(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"s\":\"x\",\"n\":5,\"r\":1.5,\"t\":true,\"z\":null,\"l\":[1,\"a\"],\"m\":{}}", 0, NULL);
    pt_cfg_node *n = pt_cfg_node_from_json(j);
    json_decref(j);
    assert_non_null(n);
    assert_int_equal(n->kind, PT_CFG_MAP);
    assert_int_equal(n->n, 7);
    const pt_cfg_node *v = pt_cfg_map_get(n, "s");
    assert_true(v->quoted && v->literal);
    assert_string_equal(v->text, "x");
    assert_false(pt_cfg_map_get(n, "n")->quoted);
    assert_string_equal(pt_cfg_map_get(n, "n")->text, "5");
    assert_string_equal(pt_cfg_map_get(n, "r")->text, "1.5");
    assert_string_equal(pt_cfg_map_get(n, "t")->text, "true");
    assert_true(pt_cfg_is_null(pt_cfg_map_get(n, "z")));
    assert_int_equal(pt_cfg_map_get(n, "l")->kind, PT_CFG_SEQ);
    assert_int_equal(pt_cfg_map_get(n, "l")->n, 2);
    assert_int_equal(pt_cfg_map_get(n, "m")->kind, PT_CFG_MAP);
    pt_cfg_node_free(n);
}

static void built_scalars_are_never_expanded(void **state)
{
    (void)state;
    setenv("PT_NODE_SECRET", "leaked", 1);
    pt_cfg_node *n = pt_cfg_node_scalar("a-${PT_NODE_SECRET}", true);
    pt_buf err = PT_BUF_INIT;
    pt_cfg c = { .file = "t", .err = &err };
    char *out = NULL;
    assert_int_equal(pt_cfg_str(&c, n, &out), 0);
    assert_string_equal(out, "a-${PT_NODE_SECRET}");
    free(out);
    out = NULL;
    n->literal = false; /* the same text from a file is expanded */
    assert_int_equal(pt_cfg_str(&c, n, &out), 0);
    assert_string_equal(out, "a-leaked");
    free(out);
    pt_cfg_node_free(n);
    pt_buf_release(&err);
}

static void a_clone_is_deep_and_equal(void **state)
{
    (void)state;
    pt_cfg_node *m = pt_cfg_node_map(), *l = pt_cfg_node_seq();
    assert_int_equal(pt_cfg_node_append(l, pt_cfg_node_scalar("one", false)), 0);
    assert_int_equal(pt_cfg_node_put(m, "list", l), 0);
    assert_int_equal(pt_cfg_node_put(m, "k", pt_cfg_node_scalar("v", true)), 0);
    assert_int_equal(pt_cfg_node_put(m, "bad", NULL), -1); /* a failed build is refused */
    pt_cfg_node *c = pt_cfg_node_clone(m);
    pt_cfg_node_free(m);
    assert_int_equal(c->n, 2);
    assert_string_equal(pt_cfg_map_get(c, "list")->items[0]->text, "one");
    assert_true(pt_cfg_map_get(c, "k")->quoted);
    assert_ptr_equal(pt_cfg_node_get(c, "list"), pt_cfg_map_get(c, "list"));
    pt_cfg_node_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_maps_to_the_nodes_yaml_would_give),
        cmocka_unit_test(built_scalars_are_never_expanded),
        cmocka_unit_test(a_clone_is_deep_and_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
