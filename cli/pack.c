/* Building the msgpack argument map of a request. */
#include <string.h>

#include "cli/cli.h"

void cli_pack_init(struct cli_pack *p)
{
    msgpack_sbuffer_init(&p->buf);
    msgpack_packer_init(&p->pk, &p->buf, msgpack_sbuffer_write);
    p->failed = false;
}

void cli_pack_close(struct cli_pack *p)
{
    msgpack_sbuffer_destroy(&p->buf);
}

/* msgpack_pack_* return 0 or -1, the latter only when the buffer could not
 * grow. */
static void pack_check(struct cli_pack *p, int rv)
{
    if (rv != 0) {
        p->failed = true;
    }
}

void cli_pack_map(struct cli_pack *p, size_t n)
{
    pack_check(p, msgpack_pack_map(&p->pk, n));
}

void cli_pack_str(struct cli_pack *p, const char *s, size_t len)
{
    pack_check(p, msgpack_pack_str_with_body(&p->pk, s, len));
}

void cli_pack_kv_str(struct cli_pack *p, const char *key, const char *value)
{
    cli_pack_str(p, key, strlen(key));
    cli_pack_str(p, value, strlen(value));
}

void cli_pack_kv_u64(struct cli_pack *p, const char *key, uint64_t value)
{
    cli_pack_str(p, key, strlen(key));
    pack_check(p, msgpack_pack_uint64(&p->pk, value));
}

void cli_pack_kv_i64(struct cli_pack *p, const char *key, int64_t value)
{
    cli_pack_str(p, key, strlen(key));
    pack_check(p, msgpack_pack_int64(&p->pk, value));
}

void cli_pack_kv_double(struct cli_pack *p, const char *key, double value)
{
    cli_pack_str(p, key, strlen(key));
    pack_check(p, msgpack_pack_double(&p->pk, value));
}

void cli_pack_kv_capacity(struct cli_pack *p,
                          const char *key,
                          const struct cli_capacity *c)
{
    cli_pack_str(p, key, strlen(key));
    cli_pack_map(p, (size_t)c->has_cpu + (size_t)c->has_mem_mb);
    if (c->has_cpu) {
        cli_pack_kv_u64(p, "cpu", c->cpu);
    }
    if (c->has_mem_mb) {
        cli_pack_kv_u64(p, "mem_mb", c->mem_mb);
    }
}

void cli_pack_kv_json(struct cli_pack *p, const char *key, const json_t *v)
{
    cli_pack_str(p, key, strlen(key));
    if (json_is_string(v)) {
        cli_pack_str(p, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        pack_check(
            p, msgpack_pack_uint64(&p->pk, (uint64_t)json_integer_value(v)));
    } else if (json_is_integer(v)) {
        pack_check(p, msgpack_pack_int64(&p->pk, json_integer_value(v)));
    } else {
        pack_check(p, msgpack_pack_nil(&p->pk));
    }
}
