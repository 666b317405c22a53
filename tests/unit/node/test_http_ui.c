/* Unit tests of the web UI's embedded files (node/assets.c and the
 * generated table) and of their routes (node/http_ui.c), without a server:
 * every embedded file is the one in node/ui/, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/assets.h"
#include "node/http_ui.h"

#ifndef AUGUR_UI_DIR
#error "AUGUR_UI_DIR (the source tree's node/ui) must be defined"
#endif

/* The whole of @path, malloc'd, its length in *@len. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void embedded_files_are_the_tree_s(void **state)
{
    static const struct
    {
        const char *asset, *file, *type;
    } want[] = {
        {"ui/index.html", "index.html", "text/html; charset=utf-8"},
        {"ui/app.js", "app.js", "text/javascript; charset=utf-8"},
        {"ui/app.css", "app.css", "text/css; charset=utf-8"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[1024];
        size_t len;
        unsigned char *buf;
        const struct node_asset *a = node_asset_find(want[i].asset);

        assert_non_null(a);
        assert_string_equal(a->path, want[i].asset);
        assert_string_equal(a->content_type, want[i].type);
        snprintf(path, sizeof path, "%s/%s", AUGUR_UI_DIR, want[i].file);
        buf = read_file(path, &len);
        assert_int_equal(a->len, len);
        assert_memory_equal(a->data, buf, len);
        assert_int_equal(a->data[a->len], 0); /* the extra NUL */
        free(buf);
    }
}

static void asset_find_matches_exactly(void **state)
{
    (void)state;
    assert_null(node_asset_find(""));
    assert_null(node_asset_find("ui/"));
    assert_null(node_asset_find("/ui/app.js"));
    assert_null(node_asset_find("ui/app.js "));
    assert_null(node_asset_find("ui/App.js"));
    assert_null(node_asset_find("ui/../ui/app.js"));
    assert_null(node_asset_find("index.html"));
}

/* Route @method @path; the reply in @reply (its body freed by the
 * caller).  Returns whether the UI took the request. */
static bool route(const char *method,
                  const char *path,
                  struct node_http_reply *reply)
{
    struct node_http_request req;

    memset(&req, 0, sizeof req);
    memset(reply, 0, sizeof *reply);
    req.method = method;
    req.path = path;
    return node__http_ui(&req, reply);
}

static void ui_serves_its_files_under_a_csp(void **state)
{
    struct node_http_reply r;
    const struct node_asset *index = node_asset_find("ui/index.html");
    const struct node_asset *js = node_asset_find("ui/app.js");

    (void)state;
    assert_true(route("GET", "/ui/", &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, index->content_type);
    assert_int_equal(r.len, index->len);
    assert_memory_equal(r.body, index->data, r.len);
    assert_non_null(r.csp);
    assert_non_null(strstr(r.csp, "default-src 'self'"));
    assert_non_null(strstr(r.csp, "frame-ancestors 'none'"));
    assert_null(strstr(r.csp, "unsafe"));
    free(r.body);

    assert_true(route("HEAD", "/ui/app.js", &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js->len);
    assert_string_equal(r.content_type, js->content_type);
    free(r.body);
}

static void ui_redirects_root_and_bare_ui(void **state)
{
    struct node_http_reply r;

    (void)state;
    assert_true(route("GET", "/", &r));
    assert_int_equal(r.status, 302);
    assert_string_equal(r.location, "/ui/");
    assert_null(r.body);
    assert_true(route("GET", "/ui", &r));
    assert_int_equal(r.status, 302);
    assert_string_equal(r.location, "/ui/");
}

static void ui_refuses_unknown_files_and_methods(void **state)
{
    struct node_http_reply r;

    (void)state;
    assert_true(route("GET", "/ui/nope.js", &r));
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "ENOTFOUND"));
    free(r.body);
    assert_true(route("GET", "/ui/../v1/status", &r));
    assert_int_equal(r.status, 404);
    free(r.body);
    assert_true(route("GET", "/ui/ui/app.js", &r));
    assert_int_equal(r.status, 404);
    free(r.body);
    assert_true(route("POST", "/ui/", &r));
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    free(r.body);
    assert_true(route("DELETE", "/", &r));
    assert_int_equal(r.status, 405);
    free(r.body);
}

static void ui_leaves_other_paths_alone(void **state)
{
    struct node_http_reply r;
    static const char *const others[] = {"/v1/status", "/healthz", "/metrics",
                                         "/uix",       "/u",       "//ui/"};

    (void)state;
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_false(route("GET", others[i], &r));
        assert_int_equal(r.status, 0);
        assert_null(r.body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedded_files_are_the_tree_s),
        cmocka_unit_test(asset_find_matches_exactly),
        cmocka_unit_test(ui_serves_its_files_under_a_csp),
        cmocka_unit_test(ui_redirects_root_and_bare_ui),
        cmocka_unit_test(ui_refuses_unknown_files_and_methods),
        cmocka_unit_test(ui_leaves_other_paths_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
