/* Tests of libaugur's installed interface (include/augur.h) against
 * scripted servers: JSON arguments packed as msgpack, answers read as JSON
 * text and through JSON Pointers, refusals, the log callback, and the
 * error codes of the installed header agreeing with common/error.c. */
/* First, so that the enum of the installed header is the one compiled. */
#include "include/augur.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/mpjson.h"
#include "fake_server.h"

#define SHORT_TIMEOUT_MS 300

/* A packed result for script_result to answer every request with. */
struct canned
{
    msgpack_sbuffer result;
};

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Answer every request with status 0, revision 7 and the canned result. */
static void script_result(struct fake_server *s, int fd, unsigned conn)
{
    const struct canned *canned = s->data;
    struct fake_request *r;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        if (fake_answer(fd, r->id, 0, NULL, 7, NULL, canned->result.data,
                        canned->result.size) != 0) {
            return;
        }
    }
}

/* Answer every request with ECONFLICT and no result. */
static void script_conflict(struct fake_server *s, int fd, unsigned conn)
{
    struct fake_request *r;

    if (fake_handshake(s, fd) != 0) {
        return;
    }
    while (fake_read_request(s, fd, conn, &r) == 0) {
        if (fake_answer(fd, r->id, AUGUR_ECONFLICT, "held by h2 at epoch 3", 0,
                        NULL, NULL, 0) != 0) {
            return;
        }
    }
}

static struct augur_client *new_client(const char *endpoints)
{
    struct augur_client *c = NULL;
    char errmsg[256];

    assert_int_equal(
        augur_client_new(endpoints, NULL, NULL, &c, errmsg, sizeof errmsg), 0);
    assert_string_equal(errmsg, "");
    assert_non_null(c);
    assert_int_equal(augur_client_set_timeout(c, SHORT_TIMEOUT_MS * 10, 0), 0);
    return c;
}

static void assert_no_surprises(const struct fake_server *s)
{
    if (s->surprises != 0) {
        fail_msg("server saw: %s", s->surprise);
    }
}

/* {"workload": "w1", "host": "h2", "epoch": 3, "labels": {"a/b": "x",
 *  "m~n": "y"}, "items": [{"id": "h1", "p": 0.25}], "neg": -5,
 *  "ok": true, "none": nil} */
static void canned_claim(struct canned *canned)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(&canned->result);
    msgpack_packer_init(&pk, &canned->result, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    pack_cstr(&pk, "workload");
    pack_cstr(&pk, "w1");
    pack_cstr(&pk, "host");
    pack_cstr(&pk, "h2");
    pack_cstr(&pk, "epoch");
    msgpack_pack_uint64(&pk, 3);
    pack_cstr(&pk, "labels");
    msgpack_pack_map(&pk, 2);
    pack_cstr(&pk, "a/b");
    pack_cstr(&pk, "x");
    pack_cstr(&pk, "m~n");
    pack_cstr(&pk, "y");
    pack_cstr(&pk, "items");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    pack_cstr(&pk, "id");
    pack_cstr(&pk, "h1");
    pack_cstr(&pk, "p");
    msgpack_pack_double(&pk, 0.25);
    pack_cstr(&pk, "neg");
    msgpack_pack_int64(&pk, -5);
    pack_cstr(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_cstr(&pk, "none");
    msgpack_pack_nil(&pk);
}

static void call_json_sends_args_and_reads_the_answer(void **state)
{
    struct fake_server s;
    struct canned canned;
    struct augur_client *c;
    struct augur_answer *a = NULL;

    (void)state;
    canned_claim(&canned);
    assert_int_equal(fake_server_start(&s, script_result, &canned), 0);
    c = new_client(s.addr);
    assert_int_equal(augur_call_json(c, "claim.acquire",
                                     " {\"workload\": \"w1\", \"host\": "
                                     "\"h\\u00e9\", \"n\": [1, -2, 0.5]} ",
                                     0, &a),
                     0);
    assert_int_equal(augur_answer_status(a), 0);
    assert_string_equal(augur_answer_error(a), "");
    assert_int_equal(augur_answer_rev(a), 7);
    assert_string_equal(augur_answer_json(a),
                        "{\"workload\":\"w1\",\"host\":\"h2\",\"epoch\":3,"
                        "\"labels\":{\"a/b\":\"x\",\"m~n\":\"y\"},"
                        "\"items\":[{\"id\":\"h1\",\"p\":0.25}],\"neg\":-5,"
                        "\"ok\":true,\"none\":null}");
    augur_answer_free(a);

    /* A read: no sequence number; stale when asked. */
    assert_int_equal(augur_call_json(c, "claim.get", "{\"workload\":\"w2\"}",
                                     AUGUR_STALE, &a),
                     0);
    augur_answer_free(a);
    assert_int_equal(augur_call_json(c, "status", NULL, 0, &a), 0);
    augur_answer_free(a);
    augur_client_close(c);
    fake_server_stop(&s);
    msgpack_sbuffer_destroy(&canned.result);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 3);
    assert_string_equal(s.requests[0].op, "claim.acquire");
    assert_string_equal(s.requests[0].workload, "w1");
    assert_int_equal(s.requests[0].seq, 1);
    assert_string_equal(s.requests[1].op, "claim.get");
    assert_string_equal(s.requests[1].workload, "w2");
    assert_int_equal(s.requests[1].seq, 0);
    assert_int_equal(s.requests[1].stale, 1);
    assert_string_equal(s.requests[2].op, "status");
    assert_int_equal(s.requests[2].has_args, 0);
}

static void typed_getters_follow_json_pointers(void **state)
{
    struct fake_server s;
    struct canned canned;
    struct augur_client *c;
    struct augur_answer *a = NULL;
    char str[8];
    char tiny[2] = "z";
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    int b = -1;
    size_t n = 0;

    (void)state;
    canned_claim(&canned);
    assert_int_equal(fake_server_start(&s, script_result, &canned), 0);
    c = new_client(s.addr);
    assert_int_equal(
        augur_call_json(c, "claim.get", "{\"workload\":\"w1\"}", 0, &a), 0);

    assert_int_equal(augur_answer_str(a, "/host", str, sizeof str), 0);
    assert_string_equal(str, "h2");
    assert_int_equal(augur_answer_u64(a, "/epoch", &u), 0);
    assert_int_equal(u, 3);
    assert_int_equal(augur_answer_str(a, "/labels/a~1b", str, sizeof str), 0);
    assert_string_equal(str, "x");
    assert_int_equal(augur_answer_str(a, "/labels/m~0n", str, sizeof str), 0);
    assert_string_equal(str, "y");
    assert_int_equal(augur_answer_str(a, "/items/0/id", str, sizeof str), 0);
    assert_string_equal(str, "h1");
    assert_int_equal(augur_answer_double(a, "/items/0/p", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(augur_answer_double(a, "/epoch", &d), 0);
    assert_true(d == 3.0);
    assert_int_equal(augur_answer_i64(a, "/neg", &i), 0);
    assert_int_equal(i, -5);
    assert_int_equal(augur_answer_i64(a, "/epoch", &i), 0);
    assert_int_equal(i, 3);
    assert_int_equal(augur_answer_bool(a, "/ok", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(augur_answer_count(a, "", &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(augur_answer_count(a, "/items", &n), 0);
    assert_int_equal(n, 1);

    /* Nothing there, or a null. */
    assert_int_equal(augur_answer_str(a, "/items/1/id", str, sizeof str),
                     AUGUR_ENOTFOUND);
    assert_int_equal(augur_answer_str(a, "/items/00/id", str, sizeof str),
                     AUGUR_ENOTFOUND);
    assert_int_equal(augur_answer_u64(a, "/missing", &u), AUGUR_ENOTFOUND);
    assert_int_equal(augur_answer_u64(a, "/none", &u), AUGUR_ENOTFOUND);
    assert_int_equal(augur_answer_u64(a, "/host/deeper", &u), AUGUR_ENOTFOUND);
    /* Another type, or not a pointer. */
    assert_int_equal(augur_answer_u64(a, "/neg", &u), AUGUR_EINVAL);
    assert_int_equal(augur_answer_u64(a, "/host", &u), AUGUR_EINVAL);
    assert_int_equal(augur_answer_bool(a, "/epoch", &b), AUGUR_EINVAL);
    assert_int_equal(augur_answer_count(a, "/host", &n), AUGUR_EINVAL);
    assert_int_equal(augur_answer_str(a, "/epoch", str, sizeof str),
                     AUGUR_EINVAL);
    assert_int_equal(augur_answer_u64(a, "epoch", &u), AUGUR_EINVAL);
    assert_int_equal(augur_answer_u64(a, "/labels/bad~2", &u), AUGUR_EINVAL);
    assert_int_equal(augur_answer_u64(a, NULL, &u), AUGUR_EINVAL);
    assert_int_equal(u, 3); /* untouched by the failures */
    /* Too long for the buffer: "" and ETOOBIG. */
    assert_int_equal(augur_answer_str(a, "/host", tiny, sizeof tiny),
                     AUGUR_ETOOBIG);
    assert_string_equal(tiny, "");
    augur_answer_free(a);
    augur_client_close(c);
    fake_server_stop(&s);
    msgpack_sbuffer_destroy(&canned.result);
    assert_no_surprises(&s);
}

static void refusal_reads_as_status_and_message(void **state)
{
    struct fake_server s;
    struct augur_client *c;
    struct augur_answer *a = NULL;
    uint64_t u = 0;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_conflict, NULL), 0);
    c = new_client(s.addr);
    assert_int_equal(augur_call_json(c, "claim.transfer",
                                     "{\"workload\":\"w1\",\"to\":\"h3\","
                                     "\"epoch\":1}",
                                     0, &a),
                     AUGUR_ECONFLICT);
    assert_int_equal(augur_answer_status(a), AUGUR_ECONFLICT);
    assert_string_equal(augur_answer_error(a), "held by h2 at epoch 3");
    assert_string_equal(augur_answer_json(a), "null");
    assert_int_equal(augur_answer_u64(a, "/epoch", &u), AUGUR_ENOTFOUND);
    assert_int_equal(augur_answer_rev(a), 0);
    assert_non_null(strstr(augur_client_errmsg(c), "ECONFLICT: held by h2"));
    augur_answer_free(a);
    augur_client_close(c);
    fake_server_stop(&s);
    assert_no_surprises(&s);
}

static void bad_json_args_are_refused_before_sending(void **state)
{
    static const char *const bad[] = {
        "[1]",
        "{",
        "{\"a\":1} x",
        "{\"a\":1,}",
        "{a:1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":18446744073709551616}",
        "{\"a\":-9223372036854775809}",
        "{\"a\":1e999}",
        "{\"a\":tru}",
        "17",
    };
    struct fake_server s;
    struct augur_client *c;
    struct augur_answer *a = NULL;

    (void)state;
    assert_int_equal(fake_server_start(&s, script_conflict, NULL), 0);
    c = new_client(s.addr);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(augur_call_json(c, "resource.add", bad[k], 0, &a),
                         AUGUR_EINVAL);
        assert_int_equal(augur_answer_status(a), AUGUR_EINVAL);
        if (strstr(augur_answer_error(a), "resource.add: args: ") == NULL) {
            fail_msg("%s: %s", bad[k], augur_answer_error(a));
        }
        assert_string_equal(augur_answer_json(a), "null");
        augur_answer_free(a);
    }
    /* An op out of bounds is refused as well. */
    assert_int_equal(augur_call_json(c, "", NULL, 0, &a), AUGUR_EINVAL);
    augur_answer_free(a);
    augur_client_close(c);
    fake_server_stop(&s);
    assert_int_equal(s.n_requests, 0);
}

static void events_json_sends_from_limit_and_wait(void **state)
{
    struct fake_server s;
    struct canned canned;
    struct augur_client *c;
    struct augur_answer *a = NULL;

    (void)state;
    canned_claim(&canned);
    assert_int_equal(fake_server_start(&s, script_result, &canned), 0);
    c = new_client(s.addr);
    assert_int_equal(augur_events_json(c, 5, 10, 20, AUGUR_STALE, &a), 0);
    assert_int_equal(augur_answer_rev(a), 7);
    augur_answer_free(a);
    augur_client_close(c);
    fake_server_stop(&s);
    msgpack_sbuffer_destroy(&canned.result);

    assert_no_surprises(&s);
    assert_int_equal(s.n_requests, 1);
    assert_string_equal(s.requests[0].op, "events");
    assert_int_equal(s.requests[0].from, 5);
    assert_int_equal(s.requests[0].limit, 10);
    assert_int_equal(s.requests[0].wait_ms, 20);
    assert_int_equal(s.requests[0].stale, 1);
    assert_int_equal(s.requests[0].seq, 0);
}

static void client_new_refuses_with_a_message(void **state)
{
    struct augur_client *c = (struct augur_client *)&c;
    char errmsg[256];
    char tiny[8];

    (void)state;
    assert_int_equal(
        augur_client_new("host", NULL, NULL, &c, errmsg, sizeof errmsg),
        AUGUR_EINVAL);
    assert_null(c);
    assert_non_null(strstr(errmsg, "has no port"));
    assert_int_equal(augur_client_new(NULL, NULL, NULL, &c, tiny, sizeof tiny),
                     AUGUR_EINVAL);
    assert_int_equal(strlen(tiny), sizeof tiny - 1); /* cut to fit */
    assert_int_equal(
        augur_client_new("127.0.0.1:1", "/nonexistent.key", NULL, &c, NULL, 0),
        AUGUR_EINVAL); /* a key without the cluster key */
    assert_null(c);
    assert_int_equal(augur_client_new("127.0.0.1:1", NULL, NULL, NULL, errmsg,
                                      sizeof errmsg),
                     AUGUR_EINVAL);

    c = new_client("127.0.0.1:1");
    assert_int_equal(augur_client_set_timeout(c, -1, 0), AUGUR_EINVAL);
    assert_non_null(strstr(augur_client_errmsg(c), "EINVAL"));
    assert_string_equal(augur_client_endpoint(c), "");
    augur_client_close(c);
    augur_client_close(NULL);
}

static void null_answer_reads_as_out_of_memory(void **state)
{
    uint64_t u = 0;

    (void)state;
    assert_int_equal(augur_answer_status(NULL), AUGUR_ENOMEM);
    assert_non_null(strstr(augur_answer_error(NULL), "memory"));
    assert_int_equal(augur_answer_rev(NULL), 0);
    assert_null(augur_answer_json(NULL));
    assert_int_equal(augur_answer_u64(NULL, "/x", &u), AUGUR_ENOTFOUND);
    augur_answer_free(NULL);
}

struct log_count
{
    int messages;
    int bad_level;
};

static void count_log(void *data, int level, const char *msg)
{
    struct log_count *n = data;

    n->messages++;
    if (level < AUGUR_LOG_ERROR || level > AUGUR_LOG_DEBUG || msg == NULL) {
        n->bad_level++;
    }
}

static void log_callback_gets_messages_until_turned_off(void **state)
{
    struct log_count n = {0, 0};
    struct augur_client *c;
    struct augur_answer *a = NULL;
    uint16_t port;
    char ep[32];
    int sock = fake_refusing_port(&port);

    (void)state;
    assert_true(sock >= 0);
    snprintf(ep, sizeof ep, "127.0.0.1:%u", (unsigned)port);
    augur_log_set(AUGUR_LOG_DEBUG, count_log, &n);
    c = new_client(ep);
    /* Every endpoint refuses: ECONNECT at once, with a DEBUG line on the
     * way ("connect to ...: Connection refused"). */
    assert_int_equal(augur_call_json(c, "status", NULL, 0, &a), AUGUR_ECONNECT);
    augur_answer_free(a);
    assert_true(n.messages > 0);
    assert_int_equal(n.bad_level, 0);

    augur_log_set(AUGUR_LOG_TRACE, NULL, NULL);
    n.messages = 0;
    assert_int_equal(augur_call_json(c, "status", NULL, 0, &a), AUGUR_ECONNECT);
    augur_answer_free(a);
    assert_int_equal(n.messages, 0);
    augur_client_close(c);
    close(sock);
}

/* The installed header's enum is a copy of common/error.h's (it may not
 * include it): every code must name the same entry of the table. */
static void error_codes_agree_with_the_table(void **state)
{
#define CODE(name)          \
    {                       \
        AUGUR_##name, #name \
    }
    static const struct
    {
        int code;
        const char *name;
    } codes[] = {
        CODE(EINVAL),         CODE(ENOTFOUND),   CODE(EEXIST),
        CODE(ECONFLICT),      CODE(ENOCAPACITY), CODE(EUNAVAILABLE),
        CODE(ECYCLE),         CODE(EMALFORMED),  CODE(ETOOBIG),
        CODE(ENOMEM),         CODE(EIO),         CODE(ENOTLEADER),
        CODE(ENOLEADER),      CODE(ETIMEOUT),    CODE(ECONNECT),
        CODE(EINDETERMINATE), CODE(ESHUTDOWN),   CODE(ESESSION),
        CODE(EINTERNAL),      CODE(EBUSY),       CODE(EPROTO),
        CODE(EAUTH),          CODE(EPERM),       CODE(ECOMPACTED),
    };
#undef CODE

    (void)state;
    assert_int_equal(AUGUR_OK, 0);
    assert_string_equal(augur_errname(AUGUR_OK), "OK");
    assert_int_equal(sizeof codes / sizeof codes[0], AUGUR_ERR_COUNT - 1);
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        assert_int_equal(codes[k].code, (int)k + 1);
        assert_string_equal(augur_errname(codes[k].code), codes[k].name);
        assert_string_not_equal(augur_strerror(codes[k].code), "unknown error");
    }
    assert_string_equal(augur_errname(AUGUR_ERR_COUNT), "EUNKNOWN");
    assert_string_equal(augur_version(), AUGUR_VERSION);
}

/* JSON text -> msgpack -> JSON text. */
static void assert_json_round_trip(const char *in, const char *want)
{
    msgpack_sbuffer packed;
    msgpack_sbuffer text;
    msgpack_unpacked u;
    char why[128] = "";

    msgpack_sbuffer_init(&packed);
    msgpack_sbuffer_init(&text);
    msgpack_unpacked_init(&u);
    if (mpjson_parse(in, &packed, why, sizeof why) != 0) {
        fail_msg("%s: %s", in, why);
    }
    assert_int_equal(msgpack_unpack_next(&u, packed.data, packed.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(mpjson_print(&u.data, &text), 0);
    assert_int_equal(msgpack_sbuffer_write(&text, "", 1), 0);
    assert_string_equal(text.data, want);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&text);
    msgpack_sbuffer_destroy(&packed);
}

/* {"a": [[...]]} with @depth levels in all. */
static void nested(char *out, int depth)
{
    size_t k = 0;

    memcpy(out + k, "{\"a\":", 5);
    k += 5;
    for (int i = 1; i < depth; i++) {
        out[k++] = '[';
    }
    for (int i = 1; i < depth; i++) {
        out[k++] = ']';
    }
    out[k++] = '}';
    out[k] = '\0';
}

static void json_round_trips_through_msgpack(void **state)
{
    char deep[2 * 40 + 16];
    msgpack_sbuffer packed;
    char why[128];

    (void)state;
    assert_json_round_trip("{}", "{}");
    assert_json_round_trip(" {\"a\" : [ ] , \"b\":{}}\n",
                           "{\"a\":[],\"b\":{}}");
    assert_json_round_trip(
        "{\"u\":18446744073709551615,\"i\":-9223372036854775808,\"z\":-0}",
        "{\"u\":18446744073709551615,\"i\":-9223372036854775808,\"z\":0}");
    assert_json_round_trip("{\"d\":0.5,\"e\":1e2,\"f\":-2.5E-1}",
                           "{\"d\":0.5,\"e\":100.0,\"f\":-0.25}");
    assert_json_round_trip("{\"t\":true,\"f\":false,\"n\":null}",
                           "{\"t\":true,\"f\":false,\"n\":null}");
    /* Escapes come back as UTF-8 or as the escapes JSON needs. */
    assert_json_round_trip(
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\"}",
        "{\"s\":\"\\\"\\\\/\\u0008\\u000c\\n\\r\\t\\u0001\"}");
    assert_json_round_trip("{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}",
                           "{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}");
    assert_json_round_trip("{\"s\":\"\xc3\xa9 raw\"}",
                           "{\"s\":\"\xc3\xa9 raw\"}");

    /* 32 levels parse; 33 do not. */
    nested(deep, 32);
    msgpack_sbuffer_init(&packed);
    assert_int_equal(mpjson_parse(deep, &packed, why, sizeof why), 0);
    msgpack_sbuffer_destroy(&packed);
    nested(deep, 33);
    msgpack_sbuffer_init(&packed);
    assert_int_equal(mpjson_parse(deep, &packed, why, sizeof why),
                     AUGUR_EINVAL);
    assert_non_null(strstr(why, "nested deeper"));
    msgpack_sbuffer_destroy(&packed);
}

static void printing_replaces_bytes_that_are_not_utf8(void **state)
{
    static const char bad[] =
        "a\xff"
        "b\xc3("
        "\xed\xa0\x80"
        "\x7f";
    msgpack_object o;
    msgpack_sbuffer text;

    (void)state;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = bad;
    o.via.str.size = sizeof bad - 1;
    msgpack_sbuffer_init(&text);
    assert_int_equal(mpjson_print(&o, &text), 0);
    assert_int_equal(msgpack_sbuffer_write(&text, "", 1), 0);
    assert_string_equal(text.data,
                        "\"a\\ufffdb\\ufffd(\\ufffd\\ufffd\\ufffd\x7f\"");
    msgpack_sbuffer_destroy(&text);
}

int main(void)
{
    /* The scripted servers speak the unauthenticated protocol. */
    unsetenv("AUGUR_KEY");
    unsetenv("AUGUR_CLUSTER_KEY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_json_sends_args_and_reads_the_answer),
        cmocka_unit_test(typed_getters_follow_json_pointers),
        cmocka_unit_test(refusal_reads_as_status_and_message),
        cmocka_unit_test(bad_json_args_are_refused_before_sending),
        cmocka_unit_test(events_json_sends_from_limit_and_wait),
        cmocka_unit_test(client_new_refuses_with_a_message),
        cmocka_unit_test(null_answer_reads_as_out_of_memory),
        cmocka_unit_test(log_callback_gets_messages_until_turned_off),
        cmocka_unit_test(error_codes_agree_with_the_table),
        cmocka_unit_test(json_round_trips_through_msgpack),
        cmocka_unit_test(printing_replaces_bytes_that_are_not_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
