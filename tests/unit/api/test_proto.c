/* Unit tests of api/proto.c (frames, payloads, HELLO/REQUEST/RESPONSE/CLOSE
 * maps, golden frames) and of libaugur's msgpack map helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/augur.h"
#include "wire/proto.h"

/* Helpers. */

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Build a whole frame of @type around @payload in a fresh buffer. */
static void frame_of(msgpack_sbuffer *out,
                     enum proto_frame_type type,
                     const void *payload,
                     size_t len)
{
    msgpack_sbuffer_init(out);
    assert_int_equal(proto_frame_append(out, type, payload, len), 0);
}

/* Parse the single frame in @sb and unpack its payload into @u. */
static void frame_unpack(const msgpack_sbuffer *sb,
                         enum proto_frame_type want_type,
                         msgpack_unpacked *u)
{
    struct proto_frame frame;
    size_t used = 0;

    assert_int_equal(proto_frame_parse((const uint8_t *)sb->data, sb->size,
                                       PROTO_FRAME_MAX, &frame, &used),
                     0);
    assert_int_equal(used, sb->size);
    assert_int_equal(frame.type, want_type);
    msgpack_unpacked_init(u);
    assert_int_equal(proto_payload_unpack(frame.payload, frame.len, u), 0);
}

static void read_file(const char *name, uint8_t **buf, size_t *len)
{
    char path[512];
    FILE *f;
    long n;

    snprintf(path, sizeof path, "%s/%s", AUGUR_GOLDEN_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    *buf = malloc((size_t)n);
    assert_non_null(*buf);
    assert_int_equal(fread(*buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
}

static void assert_bytes_equal(const void *got,
                               size_t got_len,
                               const void *want,
                               size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* Frames. */

static void frame_header_round_trips(void **state)
{
    uint8_t buf[PROTO_HEADER_SIZE + 300];
    struct proto_frame frame;
    size_t used = 0;

    (void)state;
    memset(buf, 0xab, sizeof buf);
    proto_header_write(buf, PROTO_REQUEST, 300);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0);
    assert_int_equal(buf[2], 0x01);
    assert_int_equal(buf[3], 0x2d); /* 301: the type byte counts */
    assert_int_equal(buf[4], PROTO_REQUEST);
    assert_int_equal(
        proto_frame_parse(buf, sizeof buf, PROTO_FRAME_MAX, &frame, &used), 0);
    assert_int_equal(used, sizeof buf);
    assert_int_equal(frame.type, PROTO_REQUEST);
    assert_int_equal(frame.len, 300);
    assert_ptr_equal(frame.payload, buf + PROTO_HEADER_SIZE);
}

static void frame_parse_finds_a_whole_frame(void **state)
{
    static const uint8_t payload[] = {0x81, 0xa1, 'a', 0x01};
    struct proto_frame frame;
    msgpack_sbuffer sb;
    size_t used = 0;

    (void)state;
    frame_of(&sb, PROTO_RESPONSE, payload, sizeof payload);
    assert_int_equal(sb.size, PROTO_HEADER_SIZE + sizeof payload);
    assert_int_equal(proto_frame_parse((const uint8_t *)sb.data, sb.size,
                                       PROTO_FRAME_MAX, &frame, &used),
                     0);
    assert_int_equal(used, sb.size);
    assert_int_equal(frame.type, PROTO_RESPONSE);
    assert_bytes_equal(frame.payload, frame.len, payload, sizeof payload);
    msgpack_sbuffer_destroy(&sb);
}

static void frame_parse_waits_for_every_split_point(void **state)
{
    static const uint8_t payload[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xc3};
    struct proto_frame frame;
    msgpack_sbuffer sb;
    uint8_t *trickle;
    size_t used;

    (void)state;
    frame_of(&sb, PROTO_REQUEST, payload, sizeof payload);
    /* Every prefix is "need more", never an error. */
    for (size_t k = 0; k < sb.size; k++) {
        used = 99;
        assert_int_equal(proto_frame_parse((const uint8_t *)sb.data, k,
                                           PROTO_FRAME_MAX, &frame, &used),
                         0);
        assert_int_equal(used, 0);
    }
    /* Byte by byte into a growing buffer, as a reader sees it. */
    trickle = malloc(sb.size);
    assert_non_null(trickle);
    for (size_t k = 1; k <= sb.size; k++) {
        trickle[k - 1] = (uint8_t)sb.data[k - 1];
        assert_int_equal(
            proto_frame_parse(trickle, k, PROTO_FRAME_MAX, &frame, &used), 0);
        assert_int_equal(used, k == sb.size ? sb.size : 0);
    }
    assert_int_equal(frame.type, PROTO_REQUEST);
    assert_bytes_equal(frame.payload, frame.len, payload, sizeof payload);
    free(trickle);
    msgpack_sbuffer_destroy(&sb);
}

static void frame_parse_separates_frames_back_to_back(void **state)
{
    static const uint8_t first[] = {0x80};
    static const uint8_t second[] = {0x81, 0xa1, 'x', 0x07};
    struct proto_frame frame;
    msgpack_sbuffer sb;
    size_t used = 0;
    size_t off;

    (void)state;
    frame_of(&sb, PROTO_WELCOME, first, sizeof first);
    assert_int_equal(
        proto_frame_append(&sb, PROTO_RESPONSE, second, sizeof second), 0);
    assert_int_equal(proto_frame_parse((const uint8_t *)sb.data, sb.size,
                                       PROTO_FRAME_MAX, &frame, &used),
                     0);
    assert_int_equal(used, PROTO_HEADER_SIZE + sizeof first);
    assert_int_equal(frame.type, PROTO_WELCOME);
    assert_bytes_equal(frame.payload, frame.len, first, sizeof first);
    off = used;
    assert_int_equal(
        proto_frame_parse((const uint8_t *)sb.data + off, sb.size - off,
                          PROTO_FRAME_MAX, &frame, &used),
        0);
    assert_int_equal(off + used, sb.size);
    assert_int_equal(frame.type, PROTO_RESPONSE);
    assert_bytes_equal(frame.payload, frame.len, second, sizeof second);
    msgpack_sbuffer_destroy(&sb);
}

static void frame_parse_refuses_zero_length(void **state)
{
    static const uint8_t buf[] = {0, 0, 0, 0};
    struct proto_frame frame;
    size_t used = 99;

    (void)state;
    assert_int_equal(
        proto_frame_parse(buf, sizeof buf, PROTO_FRAME_MAX, &frame, &used),
        AUGUR_EMALFORMED);
    assert_int_equal(used, 0);
}

static void frame_parse_refuses_unknown_type(void **state)
{
    uint8_t buf[] = {0, 0, 0, 2, 0, 0x80};
    struct proto_frame frame;
    size_t used;

    (void)state;
    assert_int_equal(
        proto_frame_parse(buf, sizeof buf, PROTO_FRAME_MAX, &frame, &used),
        AUGUR_EMALFORMED);
    buf[4] = PROTO_SEALED + 1;
    assert_int_equal(
        proto_frame_parse(buf, sizeof buf, PROTO_FRAME_MAX, &frame, &used),
        AUGUR_EMALFORMED);
    /* The type is judged as soon as it is in, before the payload. */
    assert_int_equal(proto_frame_parse(buf, 5, PROTO_FRAME_MAX, &frame, &used),
                     AUGUR_EMALFORMED);
}

static void frame_parse_refuses_oversized_after_four_bytes(void **state)
{
    uint8_t buf[4];
    struct proto_frame frame;
    size_t used = 99;

    (void)state;
    /* max + 1 announced: refused with only the length in hand. */
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 0x04;
    buf[3] = 0x01; /* 1025 */
    assert_int_equal(proto_frame_parse(buf, 3, 1024, &frame, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(proto_frame_parse(buf, 4, 1024, &frame, &used),
                     AUGUR_ETOOBIG);
    /* Above the hard limit, whatever @max says. */
    buf[0] = 0x7f;
    assert_int_equal(proto_frame_parse(buf, 4, SIZE_MAX, &frame, &used),
                     AUGUR_ETOOBIG);
}

static void frame_parse_accepts_exactly_max(void **state)
{
    const size_t max = PROTO_FRAME_MAX;
    struct proto_frame frame;
    msgpack_sbuffer sb;
    uint8_t *payload;
    size_t used = 0;

    (void)state;
    payload = calloc(1, max - 1);
    assert_non_null(payload);
    frame_of(&sb, PROTO_RESPONSE, payload, max - 1);
    assert_int_equal(sb.size, max + 4);
    assert_int_equal(proto_frame_parse((const uint8_t *)sb.data, sb.size, max,
                                       &frame, &used),
                     0);
    assert_int_equal(used, max + 4);
    assert_int_equal(frame.len, max - 1);
    /* One byte less of limit and the same frame is refused. */
    assert_int_equal(
        proto_frame_parse((const uint8_t *)sb.data, 4, max - 1, &frame, &used),
        AUGUR_ETOOBIG);
    msgpack_sbuffer_destroy(&sb);
    free(payload);
}

static void frame_append_refuses_oversized_and_leaves_buffer(void **state)
{
    uint8_t *payload;
    msgpack_sbuffer sb;

    (void)state;
    payload = calloc(1, PROTO_FRAME_MAX);
    assert_non_null(payload);
    msgpack_sbuffer_init(&sb);
    assert_int_equal(
        proto_frame_append(&sb, PROTO_RESPONSE, payload, PROTO_FRAME_MAX),
        AUGUR_ETOOBIG);
    assert_int_equal(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
    free(payload);
}

/* Payloads. */

static void payload_unpack_accepts_one_map(void **state)
{
    static const uint8_t map[] = {0x81, 0xa1, 'k', 0xa2, 'v', 'w'};
    msgpack_unpacked u;

    (void)state;
    msgpack_unpacked_init(&u);
    assert_int_equal(proto_payload_unpack(map, sizeof map, &u), 0);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(u.data.via.map.size, 1);
    msgpack_unpacked_destroy(&u);
}

static void payload_unpack_refuses_non_map(void **state)
{
    static const uint8_t array[] = {0x91, 0x01};
    static const uint8_t integer[] = {0x05};
    static const uint8_t str[] = {0xa1, 'x'};
    msgpack_unpacked u;

    (void)state;
    msgpack_unpacked_init(&u);
    assert_int_equal(proto_payload_unpack(array, sizeof array, &u),
                     AUGUR_EMALFORMED);
    assert_int_equal(proto_payload_unpack(integer, sizeof integer, &u),
                     AUGUR_EMALFORMED);
    assert_int_equal(proto_payload_unpack(str, sizeof str, &u),
                     AUGUR_EMALFORMED);
    assert_null(u.zone);
    msgpack_unpacked_destroy(&u);
}

static void payload_unpack_refuses_trailing_bytes(void **state)
{
    static const uint8_t two_maps[] = {0x80, 0x80};
    static const uint8_t map_and_byte[] = {0x81, 0xa1, 'k', 0x01, 0x00};
    msgpack_unpacked u;

    (void)state;
    msgpack_unpacked_init(&u);
    assert_int_equal(proto_payload_unpack(two_maps, sizeof two_maps, &u),
                     AUGUR_EMALFORMED);
    assert_int_equal(
        proto_payload_unpack(map_and_byte, sizeof map_and_byte, &u),
        AUGUR_EMALFORMED);
    msgpack_unpacked_destroy(&u);
}

static void payload_unpack_refuses_truncated_map(void **state)
{
    /* A map of two pairs with one and a half present. */
    static const uint8_t map[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b'};
    /* A string announcing more bytes than follow. */
    static const uint8_t str[] = {0x81, 0xa1, 'a', 0xa5, 'x'};
    msgpack_unpacked u;

    (void)state;
    msgpack_unpacked_init(&u);
    for (size_t k = 0; k < sizeof map; k++) {
        assert_int_equal(proto_payload_unpack(map, k, &u), AUGUR_EMALFORMED);
    }
    assert_int_equal(proto_payload_unpack(str, sizeof str, &u),
                     AUGUR_EMALFORMED);
    msgpack_unpacked_destroy(&u);
}

static void payload_unpack_refuses_counts_beyond_the_payload(void **state)
{
    /* map32 claiming 2^32-1 pairs in six bytes: refused without msgpack-c
     * reserving room for four billion entries. */
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0};
    /* A nested array32 in an otherwise fine map. */
    static const uint8_t nested[] = {0x81, 0xa1, 'a',  0xdd,
                                     0x7f, 0xff, 0xff, 0xff};
    msgpack_unpacked u;

    (void)state;
    msgpack_unpacked_init(&u);
    assert_int_equal(proto_payload_unpack(map32, sizeof map32, &u),
                     AUGUR_EMALFORMED);
    assert_int_equal(proto_payload_unpack(nested, sizeof nested, &u),
                     AUGUR_EMALFORMED);
    msgpack_unpacked_destroy(&u);
}

/* A map of @pairs integer pairs, packed into @sb. */
static void pack_int_map(msgpack_sbuffer *sb, uint32_t pairs)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_map(&pk, pairs), 0);
    for (uint32_t i = 0; i < pairs; i++) {
        assert_int_equal(msgpack_pack_uint32(&pk, i & 0x7f), 0);
        assert_int_equal(msgpack_pack_uint32(&pk, 0), 0);
    }
}

static void payload_unpack_refuses_too_many_objects(void **state)
{
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    size_t objects = 0;

    (void)state;
    msgpack_unpacked_init(&u);
    /* One object short of the bound: the map itself and its keys and
     * values. */
    pack_int_map(&sb, (PROTO_OBJECTS_MAX - 1) / 2);
    assert_int_equal(proto_payload_unpack_max((const uint8_t *)sb.data, sb.size,
                                              PROTO_OBJECTS_MAX, &u, &objects),
                     0);
    assert_int_equal(objects, 1 + 2 * ((PROTO_OBJECTS_MAX - 1) / 2));
    msgpack_sbuffer_destroy(&sb);
    /* ~200 KiB of tiny entries: over the bound, refused from the map's
     * header before msgpack-c allocates anything. */
    pack_int_map(&sb, PROTO_OBJECTS_MAX);
    assert_true(sb.size < PROTO_FRAME_MAX);
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)sb.data, sb.size, &u),
        AUGUR_ETOOBIG);
    /* A client decoding an answer allows more. */
    assert_int_equal(
        proto_payload_unpack_max((const uint8_t *)sb.data, sb.size,
                                 PROTO_ANSWER_OBJECTS_MAX, &u, NULL),
        0);
    msgpack_sbuffer_destroy(&sb);
    /* Nested: many small arrays add up. */
    {
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        assert_int_equal(msgpack_pack_map(&pk, 1), 0);
        assert_int_equal(msgpack_pack_uint32(&pk, 1), 0);
        assert_int_equal(msgpack_pack_array(&pk, 1000), 0);
        for (int i = 0; i < 1000; i++) {
            assert_int_equal(msgpack_pack_array(&pk, 15), 0);
            for (int j = 0; j < 15; j++) {
                assert_int_equal(msgpack_pack_nil(&pk), 0);
            }
        }
        assert_int_equal(proto_payload_unpack_max((const uint8_t *)sb.data,
                                                  sb.size, 10000, &u, NULL),
                         AUGUR_ETOOBIG);
        assert_int_equal(proto_payload_unpack_max((const uint8_t *)sb.data,
                                                  sb.size, 20000, &u, NULL),
                         0);
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_unpacked_destroy(&u);
}

static void preauth_length_over_limit_is_refused_from_the_header(void **state)
{
    uint8_t hdr[4];
    struct proto_frame f;
    size_t used = 99;
    uint32_t n = PROTO_PREAUTH_FRAME_MAX + 1;

    (void)state;
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
    /* The four length bytes alone decide: no type byte, no payload. */
    assert_int_equal(
        proto_frame_parse(hdr, sizeof hdr, PROTO_PREAUTH_FRAME_MAX, &f, &used),
        AUGUR_ETOOBIG);
    assert_int_equal(used, 0);
    n = PROTO_PREAUTH_FRAME_MAX;
    hdr[3] = (uint8_t)n;
    hdr[2] = (uint8_t)(n >> 8);
    assert_int_equal(
        proto_frame_parse(hdr, sizeof hdr, PROTO_PREAUTH_FRAME_MAX, &f, &used),
        0);
    assert_int_equal(used, 0); /* more bytes needed */
}

static void payload_unpack_reads_every_scalar_type(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "all");
    msgpack_pack_array(&pk, 16);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_uint8(&pk, 200);
    msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_uint32(&pk, 4000000000u);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int8(&pk, -100);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_bin_with_body(&pk, "bin", 3);
    msgpack_pack_ext_with_body(&pk, "e", 1, 1);
    msgpack_pack_ext_with_body(&pk, "seven!!", 7, 2);
    pack_cstr(&pk, "a string longer than thirty-one bytes, str8");
    msgpack_pack_map(&pk, 0);
    msgpack_pack_array(&pk, 0);
    msgpack_unpacked_init(&u);
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)sb.data, sb.size, &u), 0);
    assert_int_equal(u.data.via.map.ptr[0].val.via.array.size, 16);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* HELLO, REQUEST, RESPONSE, CLOSE. */

static void hello_round_trips(void **state)
{
    struct proto_hello in = {.version = PROTO_VERSION, .client = 0xfeedface};
    struct proto_hello out;
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    char errmsg[256];

    (void)state;
    snprintf(in.auth, sizeof in.auth, "none");
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_hello_encode(&sb, &in), 0);
    frame_unpack(&sb, PROTO_HELLO, &u);
    assert_int_equal(proto_hello_decode(&u.data, &out, errmsg), 0);
    assert_int_equal(out.version, PROTO_VERSION);
    assert_int_equal(out.client, 0xfeedface);
    assert_string_equal(out.auth, "none");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void hello_decode_refuses_missing_or_mistyped_fields(void **state)
{
    struct proto_hello h;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char errmsg[256];

    (void)state;
    /* No "auth". */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_cstr(&pk, "v");
    msgpack_pack_uint32(&pk, 1);
    pack_cstr(&pk, "client");
    msgpack_pack_uint64(&pk, 9);
    msgpack_unpacked_init(&u);
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)sb.data, sb.size, &u), 0);
    errmsg[0] = '\0';
    assert_int_equal(proto_hello_decode(&u.data, &h, errmsg), AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "auth"));
    /* Client id 0 is not a session. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    pack_cstr(&pk, "v");
    msgpack_pack_uint32(&pk, 1);
    pack_cstr(&pk, "client");
    msgpack_pack_uint64(&pk, 0);
    pack_cstr(&pk, "auth");
    pack_cstr(&pk, "none");
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)sb.data, sb.size, &u), 0);
    assert_int_equal(proto_hello_decode(&u.data, &h, errmsg), AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "client"));
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void request_round_trips_with_every_field(void **state)
{
    struct proto_request in;
    struct proto_request out;
    const msgpack_object *w;
    msgpack_sbuffer args;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char errmsg[256];

    (void)state;
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "workload");
    pack_cstr(&pk, "w1");
    memset(&in, 0, sizeof in);
    in.id = 1ull << 40;
    in.op = "claim.get";
    in.op_len = strlen(in.op);
    in.seq = 12;
    in.ack = 10;
    in.stale = 1;
    in.wait_ms = 2500;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_request_append(&sb, &in, args.data, args.size), 0);
    frame_unpack(&sb, PROTO_REQUEST, &u);
    assert_int_equal(proto_request_decode(&u.data, &out, errmsg), 0);
    assert_int_equal(out.id, 1ull << 40);
    assert_int_equal(out.op_len, strlen("claim.get"));
    assert_memory_equal(out.op, "claim.get", out.op_len);
    assert_int_equal(out.seq, 12);
    assert_int_equal(out.ack, 10);
    assert_int_equal(out.stale, 1);
    assert_int_equal(out.wait_ms, 2500);
    assert_non_null(out.args);
    w = augur_map_get(out.args, "workload");
    assert_non_null(w);
    assert_int_equal(w->via.str.size, 2);
    assert_memory_equal(w->via.str.ptr, "w1", 2);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&args);
}

static void request_round_trips_with_only_id_and_op(void **state)
{
    struct proto_request in = {.id = 3, .op = "status", .op_len = 6};
    struct proto_request out;
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    char errmsg[256];

    (void)state;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_request_append(&sb, &in, NULL, 0), 0);
    frame_unpack(&sb, PROTO_REQUEST, &u);
    assert_int_equal(u.data.via.map.size, 2);
    assert_int_equal(proto_request_decode(&u.data, &out, errmsg), 0);
    assert_int_equal(out.id, 3);
    assert_null(out.args);
    assert_int_equal(out.seq, 0);
    assert_int_equal(out.ack, 0);
    assert_int_equal(out.stale, 0);
    assert_int_equal(out.wait_ms, 0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* Decode a request map built by @build; return the decoder's answer. */
static int decode_built(void (*build)(msgpack_packer *pk), char *errmsg)
{
    struct proto_request req;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    int err;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    build(&pk);
    msgpack_unpacked_init(&u);
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)sb.data, sb.size, &u), 0);
    errmsg[0] = '\0';
    err = proto_request_decode(&u.data, &req, errmsg);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return err;
}

static void build_missing_id(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, "status");
}

static void build_zero_id(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 0);
    pack_cstr(pk, "op");
    pack_cstr(pk, "status");
}

static void build_op_not_a_string(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    msgpack_pack_uint64(pk, 7);
}

static void build_missing_op(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
}

static void build_args_not_a_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, "claim.get");
    pack_cstr(pk, "args");
    msgpack_pack_array(pk, 1);
    pack_cstr(pk, "w1");
}

static void build_op_too_long(msgpack_packer *pk)
{
    char op[PROTO_OP_MAX + 2];

    memset(op, 'x', sizeof op - 1);
    op[sizeof op - 1] = '\0';
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, op);
}

static void build_op_empty(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, "");
}

static void build_negative_seq(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, "claim.release");
    pack_cstr(pk, "seq");
    msgpack_pack_int64(pk, -1);
}

static void build_stale_not_bool(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, "claim.get");
    pack_cstr(pk, "stale");
    msgpack_pack_uint64(pk, 1);
}

static void build_wait_ms_over_u32(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 1);
    pack_cstr(pk, "op");
    pack_cstr(pk, "events");
    pack_cstr(pk, "wait_ms");
    msgpack_pack_uint64(pk, (uint64_t)UINT32_MAX + 1);
}

static void build_unknown_keys(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    pack_cstr(pk, "trace");
    pack_cstr(pk, "abc");
    pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, 5);
    msgpack_pack_uint64(pk, 99); /* a non-string key */
    msgpack_pack_nil(pk);
    pack_cstr(pk, "op");
    pack_cstr(pk, "status");
}

static void request_decode_refuses_bad_fields(void **state)
{
    static const struct
    {
        void (*build)(msgpack_packer *pk);
        const char *field;
    } cases[] = {
        {build_missing_id, "id"},        {build_zero_id, "id"},
        {build_op_not_a_string, "op"},   {build_missing_op, "op"},
        {build_args_not_a_map, "args"},  {build_op_too_long, "op"},
        {build_op_empty, "op"},          {build_negative_seq, "seq"},
        {build_stale_not_bool, "stale"}, {build_wait_ms_over_u32, "wait_ms"},
    };
    char errmsg[256];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(decode_built(cases[i].build, errmsg),
                         AUGUR_EMALFORMED);
        /* The reason names the field. */
        assert_non_null(strstr(errmsg, cases[i].field));
    }
}

static void request_decode_ignores_unknown_keys(void **state)
{
    char errmsg[256];

    (void)state;
    assert_int_equal(decode_built(build_unknown_keys, errmsg), 0);
}

static void request_decode_refuses_non_map(void **state)
{
    struct proto_request req;
    msgpack_object o;
    char errmsg[256];

    (void)state;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    assert_int_equal(proto_request_decode(&o, &req, errmsg), AUGUR_EMALFORMED);
}

static void response_round_trips_an_answer(void **state)
{
    msgpack_sbuffer answer;
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    const msgpack_object *a;
    char text[64];
    uint64_t v;

    (void)state;
    msgpack_sbuffer_init(&answer);
    assert_int_equal(proto_answer_error(&answer, AUGUR_ENOTLEADER,
                                        "not the leader", "10.0.0.2:7001"),
                     0);
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_response_append(&sb, 77, answer.data, answer.size),
                     0);
    frame_unpack(&sb, PROTO_RESPONSE, &u);
    assert_int_equal(augur_map_u64(&u.data, "id", &v), 0);
    assert_int_equal(v, 77);
    a = augur_map_get(&u.data, "answer");
    assert_non_null(a);
    assert_int_equal(a->via.map.size, 3);
    assert_int_equal(augur_map_u64(a, "status", &v), 0);
    assert_int_equal(v, AUGUR_ENOTLEADER);
    assert_int_equal(augur_map_str(a, "error", text, sizeof text), 0);
    assert_string_equal(text, "not the leader");
    assert_int_equal(augur_map_str(a, "leader", text, sizeof text), 0);
    assert_string_equal(text, "10.0.0.2:7001");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&answer);
}

static void answer_error_without_hint_has_no_leader(void **state)
{
    msgpack_sbuffer answer;
    msgpack_unpacked u;
    char text[64];

    (void)state;
    msgpack_sbuffer_init(&answer);
    assert_int_equal(proto_answer_error(&answer, AUGUR_ENOLEADER, NULL, NULL),
                     0);
    msgpack_unpacked_init(&u);
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)answer.data, answer.size, &u), 0);
    assert_int_equal(u.data.via.map.size, 2);
    assert_null(augur_map_get(&u.data, "leader"));
    /* A NULL message becomes the code's description. */
    assert_int_equal(augur_map_str(&u.data, "error", text, sizeof text), 0);
    assert_string_equal(text, augur_strerror(AUGUR_ENOLEADER));
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&answer);
}

/* The status of an answer, read from its first key without decoding the
 * rest; anything else is refused. */
static void answer_status_is_read_from_the_first_key(void **state)
{
    msgpack_sbuffer answer;
    msgpack_packer pk;
    int status = -99;
    static const int values[] = {
        0, AUGUR_ECOMPACTED, 127, 128, 300, 70000, -1, -33, -200, -40000};

    (void)state;
    msgpack_sbuffer_init(&answer);
    assert_int_equal(proto_answer_error(&answer, AUGUR_ECONFLICT, "x", "h"), 0);
    assert_int_equal(proto_answer_status(answer.data, answer.size, &status), 0);
    assert_int_equal(status, AUGUR_ECONFLICT);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        answer.size = 0;
        msgpack_packer_init(&pk, &answer, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "status", 6);
        msgpack_pack_int(&pk, values[i]);
        msgpack_pack_str_with_body(&pk, "result", 6);
        msgpack_pack_nil(&pk);
        assert_int_equal(proto_answer_status(answer.data, answer.size, &status),
                         0);
        assert_int_equal(status, values[i]);
        /* Cut anywhere inside the status: refused, never read past. */
        for (size_t cut = 0; cut < answer.size - 8; cut++) {
            if (proto_answer_status(answer.data, cut, &status) == 0) {
                fail_msg("a cut at %zu bytes was read", cut);
            }
        }
    }
    /* Empty, not a map, another first key, a status that is not an
     * integer, a status over 32 bits. */
    static const struct
    {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"", 0},
        {"\x91\x00", 2},
        {"\x81\xa6result\x00", 9},
        {"\x81\xa6status\xa2ok", 10},
        {"\x81\xa6status\xcf\0\0\0\0\0\0\0\0", 17},
        {"\x81\xa6status\xce\x80\0\0\0", 13},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(proto_answer_status(bad[i].bytes, bad[i].len, &status),
                         AUGUR_EMALFORMED);
    }
    msgpack_sbuffer_destroy(&answer);
}

static void close_round_trips(void **state)
{
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    char text[64];
    uint64_t status;

    (void)state;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_close_append(&sb, AUGUR_EPROTO, "expected HELLO"),
                     0);
    frame_unpack(&sb, PROTO_CLOSE, &u);
    assert_int_equal(augur_map_u64(&u.data, "status", &status), 0);
    assert_int_equal(status, AUGUR_EPROTO);
    assert_int_equal(augur_map_str(&u.data, "error", text, sizeof text), 0);
    assert_string_equal(text, "expected HELLO");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* Golden frames: the wire format must not drift. */

static void golden_hello_frame_matches_file(void **state)
{
    struct proto_hello h = {.version = 1, .client = 0x0102030405060708ull};
    msgpack_sbuffer sb;
    uint8_t *want;
    size_t want_len;

    (void)state;
    snprintf(h.auth, sizeof h.auth, "none");
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_hello_encode(&sb, &h), 0);
    read_file("hello.bin", &want, &want_len);
    assert_bytes_equal(sb.data, sb.size, want, want_len);
    free(want);
    msgpack_sbuffer_destroy(&sb);
}

static void golden_request_frame_matches_file(void **state)
{
    struct proto_request req = {
        .id = 7, .op = "claim.transfer", .op_len = 14, .seq = 5, .ack = 4};
    msgpack_sbuffer args;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint8_t *want;
    size_t want_len;

    (void)state;
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_cstr(&pk, "workload");
    pack_cstr(&pk, "w1");
    pack_cstr(&pk, "to");
    pack_cstr(&pk, "h2");
    pack_cstr(&pk, "epoch");
    msgpack_pack_uint64(&pk, 3);
    msgpack_sbuffer_init(&sb);
    assert_int_equal(proto_request_append(&sb, &req, args.data, args.size), 0);
    read_file("request_claim_transfer.bin", &want, &want_len);
    assert_bytes_equal(sb.data, sb.size, want, want_len);
    free(want);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&args);
}

/* libaugur's map helpers. */

static void map_helpers_read_fields(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char small[3];
    char text[16];
    uint64_t v = 0;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "host");
    pack_cstr(&pk, "h2");
    pack_cstr(&pk, "epoch");
    msgpack_pack_uint64(&pk, 3);
    pack_cstr(&pk, "delta");
    msgpack_pack_int64(&pk, -4);
    pack_cstr(&pk, "long");
    pack_cstr(&pk, "abcdef");
    msgpack_unpacked_init(&u);
    assert_int_equal(
        proto_payload_unpack((const uint8_t *)sb.data, sb.size, &u), 0);

    assert_non_null(augur_map_get(&u.data, "host"));
    assert_null(augur_map_get(&u.data, "hos"));
    assert_null(augur_map_get(&u.data, "hostname"));
    assert_null(augur_map_get(&u.data.via.map.ptr[0].val, "host"));
    assert_null(augur_map_get(NULL, "host"));

    assert_int_equal(augur_map_str(&u.data, "host", text, sizeof text), 0);
    assert_string_equal(text, "h2");
    assert_int_equal(augur_map_str(&u.data, "epoch", text, sizeof text),
                     AUGUR_ENOTFOUND);
    assert_int_equal(augur_map_str(&u.data, "none", text, sizeof text),
                     AUGUR_ENOTFOUND);
    /* Too long for the buffer: refused, never cut short. */
    assert_int_equal(augur_map_str(&u.data, "long", small, sizeof small),
                     AUGUR_ETOOBIG);
    assert_string_equal(small, "");

    assert_int_equal(augur_map_u64(&u.data, "epoch", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(augur_map_u64(&u.data, "delta", &v), AUGUR_ENOTFOUND);
    assert_int_equal(augur_map_u64(&u.data, "host", &v), AUGUR_ENOTFOUND);
    assert_int_equal(v, 3);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_header_round_trips),
        cmocka_unit_test(frame_parse_finds_a_whole_frame),
        cmocka_unit_test(frame_parse_waits_for_every_split_point),
        cmocka_unit_test(frame_parse_separates_frames_back_to_back),
        cmocka_unit_test(frame_parse_refuses_zero_length),
        cmocka_unit_test(frame_parse_refuses_unknown_type),
        cmocka_unit_test(frame_parse_refuses_oversized_after_four_bytes),
        cmocka_unit_test(frame_parse_accepts_exactly_max),
        cmocka_unit_test(frame_append_refuses_oversized_and_leaves_buffer),
        cmocka_unit_test(payload_unpack_accepts_one_map),
        cmocka_unit_test(payload_unpack_refuses_non_map),
        cmocka_unit_test(payload_unpack_refuses_trailing_bytes),
        cmocka_unit_test(payload_unpack_refuses_truncated_map),
        cmocka_unit_test(payload_unpack_refuses_counts_beyond_the_payload),
        cmocka_unit_test(payload_unpack_reads_every_scalar_type),
        cmocka_unit_test(hello_round_trips),
        cmocka_unit_test(hello_decode_refuses_missing_or_mistyped_fields),
        cmocka_unit_test(request_round_trips_with_every_field),
        cmocka_unit_test(request_round_trips_with_only_id_and_op),
        cmocka_unit_test(request_decode_refuses_bad_fields),
        cmocka_unit_test(request_decode_ignores_unknown_keys),
        cmocka_unit_test(request_decode_refuses_non_map),
        cmocka_unit_test(response_round_trips_an_answer),
        cmocka_unit_test(answer_error_without_hint_has_no_leader),
        cmocka_unit_test(answer_status_is_read_from_the_first_key),
        cmocka_unit_test(close_round_trips),
        cmocka_unit_test(golden_hello_frame_matches_file),
        cmocka_unit_test(golden_request_frame_matches_file),
        cmocka_unit_test(map_helpers_read_fields),
        cmocka_unit_test(payload_unpack_refuses_too_many_objects),
        cmocka_unit_test(preauth_length_over_limit_is_refused_from_the_header),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
