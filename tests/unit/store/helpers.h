/* Shared fixtures of store/'s unit tests: a store in a temporary directory,
 * command builders, and answer accessors. */
#ifndef AUGUR_TESTS_UNIT_STORE_HELPERS_H
#define AUGUR_TESTS_UNIT_STORE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "store/store.h"

/* A store in its own directory under /tmp, and the last answer. */
struct fx
{
    char dir[64];
    struct store *s;
    msgpack_sbuffer answer; /* bytes of the last answer */
    msgpack_unpacked u;     /* the last answer, unpacked */
    int64_t time_ms;        /* stamped on every write */
};

/* cmocka setup/teardown: *state becomes a struct fx. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Open and close a store of one's own (a second node, say). */
void fx_open(struct fx *f);
void fx_close(struct fx *f);

/* Write one record into the database named @db ("workloads", "claims", ...)
 * below the store: close @f's store, put @key -> @val with LMDB itself, and
 * open the store again on that state.  For states no short sequence of
 * commands reaches (an epoch at its limit); the caller encodes the record as
 * the store does. */
void fx_raw_put(struct fx *f,
                const char *db,
                const void *key,
                size_t klen,
                const void *val,
                size_t vlen);

/* Apply @cmd (stamped with f->time_ms unless it has a time) or read it;
 * the answer is kept in @f.  Returns the answer's status. */
int fx_apply(struct fx *f, struct store_cmd *cmd);
int fx_read(struct fx *f, const struct store_cmd *cmd);
/* Apply raw bytes. */
int fx_apply_raw(struct fx *f, const void *buf, size_t len);

/* The last answer's fields. */
int ans_status(const struct fx *f);
uint64_t ans_rev(const struct fx *f);
const char *ans_error(const struct fx *f); /* static copy, "" if none */
const msgpack_object *ans_result(const struct fx *f); /* NULL if none */

/* Map access; NULL when absent. */
const msgpack_object *obj_get(const msgpack_object *map, const char *key);
uint64_t obj_u64(const msgpack_object *map, const char *key);
bool obj_is_nil(const msgpack_object *map, const char *key);
/* Assert that map[key] is the string @want. */
void assert_obj_str(const msgpack_object *map,
                    const char *key,
                    const char *want);
/* Assert that map[key] is the array's length. */
uint32_t obj_len(const msgpack_object *map, const char *key);

/* Command builders: each zeroes @c first. */
void cmd_resource_add(struct store_cmd *c,
                      const char *id,
                      const char *kind,
                      uint64_t cpu,
                      uint64_t mem);
void cmd_set_state(struct store_cmd *c, const char *id, int state);
void cmd_workload_add(struct store_cmd *c,
                      const char *id,
                      uint64_t cpu,
                      uint64_t mem);
void cmd_edge(struct store_cmd *c,
              enum store_op op,
              const char *from,
              const char *to,
              int kind);
void cmd_acquire(struct store_cmd *c, const char *workload, const char *host);
void cmd_transfer(struct store_cmd *c,
                  const char *workload,
                  const char *to,
                  uint64_t epoch);
void cmd_release(struct store_cmd *c, const char *workload, uint64_t epoch);
void cmd_score(struct store_cmd *c, const char *id, double p);
void cmd_get(struct store_cmd *c, enum store_op op, const char *id);
void cmd_list(struct store_cmd *c,
              enum store_op op,
              const char *after,
              const char *filter,
              unsigned limit);

/* One-line writes: the answer's status. */
int add_resource(struct fx *f,
                 const char *id,
                 const char *kind,
                 uint64_t cpu,
                 uint64_t mem);
int add_host(struct fx *f, const char *id, uint64_t cpu, uint64_t mem);
int add_workload(struct fx *f, const char *id, uint64_t cpu, uint64_t mem);
int set_state(struct fx *f, const char *id, int state);
int set_score(struct fx *f, const char *id, double p);
int add_edge(struct fx *f, const char *from, const char *to);
int acquire(struct fx *f, const char *workload, const char *host);
int transfer(struct fx *f,
             const char *workload,
             const char *to,
             uint64_t epoch);
int release(struct fx *f, const char *workload, uint64_t epoch);

/* Reads of one object: the answer's status; the object is ans_result. */
int get_resource(struct fx *f, const char *id);
int get_claim(struct fx *f, const char *workload);

#endif
