/* augur.h: libaugur, the C client library of an augur cluster (installed
 * interface).
 *
 * It needs nothing but the C library: the handles are opaque, arguments go
 * in as JSON text, and an answer is read through accessors, as JSON text or
 * field by field.  Build with
 *
 *     cc prog.c $(pkg-config --cflags --libs augur)
 *
 * A client holds one TCP connection at a time to one node of the cluster.
 * It hides the cluster's topology: a follower's redirect to the leader is
 * followed, a dropped connection or a node without a leader is retried on
 * the next endpoint with backoff (20 ms doubling to 50 ms; a node that has
 * just refused the client or hung up on a call is passed by for a second,
 * and so are redirects naming it: after a leader dies, its followers name
 * it until they time out), and every write carries this client's
 * (client id, sequence) so that a retry is applied at most once.  The
 * connection is authenticated and encrypted: the client proves its key,
 * and each server proves it holds the cluster's key.
 *
 * A minimal program:
 *
 *     struct augur_client *c;
 *     struct augur_answer *a;
 *     char err[256];
 *
 *     if (augur_client_new("10.0.0.1:7001,10.0.0.2:7001", "me.key",
 *                          "cluster.key.pub", &c, err, sizeof err) != 0) {
 *         fprintf(stderr, "%s\n", err);
 *         return 1;
 *     }
 *     augur_call_json(c, "claim.get", "{\"workload\": \"billing\"}", 0,
 *                     &a);
 *     if (augur_answer_status(a) == 0) {
 *         printf("%s\n", augur_answer_json(a));
 *     } else {
 *         fprintf(stderr, "%s\n", augur_client_errmsg(c));
 *     }
 *     augur_answer_free(a);
 *     augur_client_close(c);
 *
 * Operations, their arguments and their results: docs/ARCHITECTURE.md of
 * the augur sources ("Operations").
 *
 * Threads: a client is not thread-safe; use one client per thread.
 * Different clients may be used from different threads at once. */
#ifndef AUGUR_H
#define AUGUR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define AUGUR_EXPORT __attribute__((visibility("default")))
#define AUGUR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define AUGUR_EXPORT
#define AUGUR_WARN_UNUSED
#endif

/* Errors.  Every function that can fail returns 0 or one of these codes;
 * the numbers travel on the wire as an answer's status, so they never
 * change.  A newer cluster may answer a code above AUGUR_ERR_COUNT - 1:
 * augur_errname names it "EUNKNOWN". */
#ifndef AUGUR_ERR_ENUM_DEFINED
#define AUGUR_ERR_ENUM_DEFINED
enum augur_err
{
    AUGUR_OK = 0,
    AUGUR_EINVAL = 1,       /* invalid argument or request */
    AUGUR_ENOTFOUND = 2,    /* no such resource, workload, claim, edge */
    AUGUR_EEXIST = 3,       /* already exists */
    AUGUR_ECONFLICT = 4,    /* compare-and-set refused: wrong epoch, held */
    AUGUR_ENOCAPACITY = 5,  /* no host has room for the demand */
    AUGUR_EUNAVAILABLE = 6, /* resource not in a state that may be granted */
    AUGUR_ECYCLE = 7,       /* edge would close a dependency cycle */
    AUGUR_EMALFORMED = 8,   /* undecodable frame, command or file */
    AUGUR_ETOOBIG = 9,      /* frame or field over its hard limit */
    AUGUR_ENOMEM = 10,      /* out of memory */
    AUGUR_EIO = 11,         /* disk or storage error */
    AUGUR_ENOTLEADER = 12,  /* this node is not the leader (see hint) */
    AUGUR_ENOLEADER = 13,   /* no leader is known right now */
    AUGUR_ETIMEOUT = 14,    /* gave up waiting; a write's outcome is unknown */
    AUGUR_ECONNECT = 15,    /* could not reach any endpoint */
    AUGUR_EINDETERMINATE = 16, /* the write may or may not have applied */
    AUGUR_ESHUTDOWN = 17,      /* the node is shutting down */
    AUGUR_ESESSION = 18,       /* sequence below the session's floor */
    AUGUR_EINTERNAL = 19,      /* a bug or an unexpected failure below */
    AUGUR_EBUSY = 20,      /* another change of the same kind is under way */
    AUGUR_EPROTO = 21,     /* the peer broke the protocol */
    AUGUR_EAUTH = 22,      /* unknown key, bad signature, or no key given */
    AUGUR_EPERM = 23,      /* the principal's role does not allow the op */
    AUGUR_ECOMPACTED = 24, /* the revision asked for was trimmed away */
    AUGUR_ERR_COUNT
};
#endif

/* A description of @code ("not found"); never NULL, static. */
AUGUR_EXPORT const char *augur_strerror(int code);

/* The symbolic name of @code ("ENOTFOUND"); never NULL, static. */
AUGUR_EXPORT const char *augur_errname(int code);

/* This library's version, "MAJOR.MINOR.PATCH"; static. */
AUGUR_EXPORT const char *augur_version(void);

/* Logging.  The library logs nothing unless asked.  augur_log_set routes
 * its messages of @level and more severe to @fn (one line, no newline, valid
 * during the call), with @data; a NULL @fn turns logging off again.  The
 * setting is process-wide: make it before opening clients, and not while
 * another thread uses one. */
#define AUGUR_LOG_ERROR 0
#define AUGUR_LOG_WARN 1
#define AUGUR_LOG_INFO 2
#define AUGUR_LOG_DEBUG 3 /* connections made and dropped, redirects */
#define AUGUR_LOG_TRACE 4 /* every move of the connection's state */
typedef void (*augur_log_fn)(void *data, int level, const char *msg);
AUGUR_EXPORT void augur_log_set(int level, augur_log_fn fn, void *data);

/* A client of one cluster; opaque. */
struct augur_client;

/* Create a client for @endpoints, a comma-separated "host:port,..." list of
 * the cluster's client addresses (any subset: the leader is found from
 * there).  @key_file is this client's private key (augur keygen; mode
 * 0600) and @cluster_key_file the cluster's public key (cluster.key.pub),
 * which every server must prove it holds; NULL takes them from the
 * environment variables AUGUR_KEY and AUGUR_CLUSTER_KEY.  With one and not
 * the other this refuses; with neither the client offers no credentials,
 * which augurd refuses (AUGUR_EAUTH from the first call).  The files are
 * read here, once.
 * Does not connect: the first call does.  Calls time out after 30 s and a
 * connection attempt after 1 s (see augur_client_set_timeout).
 *
 * Returns 0 and the client in *@out, which the caller frees with
 * augur_client_close; or AUGUR_EINVAL (no or a bad endpoint list, a key
 * without the cluster key), AUGUR_EAUTH (a key file readable by others),
 * AUGUR_EIO (a key file that cannot be read), AUGUR_EMALFORMED (a file that
 * is not a key) or AUGUR_ENOMEM, with *@out NULL and a one-line message in
 * @errmsg (@errmsg_size bytes, cut to fit; @errmsg may be NULL). */
AUGUR_EXPORT int augur_client_new(const char *endpoints,
                                  const char *key_file,
                                  const char *cluster_key_file,
                                  struct augur_client **out,
                                  char *errmsg,
                                  size_t errmsg_size) AUGUR_WARN_UNUSED;

/* How long one call may take, retries included (@timeout_ms, default
 * 30000), and one connection attempt up to the server's welcome
 * (@connect_timeout_ms, default 1000); 0 keeps the current value.  Applies
 * to calls made afterwards.  Returns 0, or AUGUR_EINVAL for a negative
 * value (nothing changed). */
AUGUR_EXPORT int augur_client_set_timeout(struct augur_client *c,
                                          int timeout_ms,
                                          int connect_timeout_ms);

/* Close the connection and free @c (NULL is ignored). */
AUGUR_EXPORT void augur_client_close(struct augur_client *c);

/* The message of the last failed call ("ENAME: why"), "" if none; owned by
 * @c, valid until its next call. */
AUGUR_EXPORT const char *augur_client_errmsg(const struct augur_client *c);

/* The "host:port" the client is connected to now, or ""; owned by @c. */
AUGUR_EXPORT const char *augur_client_endpoint(const struct augur_client *c);

/* An answer of the cluster; opaque, read through the accessors below. */
struct augur_answer;

/* Call flags. */
#define AUGUR_STALE 1u /* serve a read from the connected node, no barrier */

/* Call @op (a wire name: "resource.add", "claim.get", "status"...) with the
 * arguments @args_json, a JSON object (NULL or "" for none), and wait for
 * the answer: at most the call timeout.  Reads are linearizable unless
 * @flags has AUGUR_STALE.
 *
 * Returns the answer's status: 0; the cluster's refusal (AUGUR_ENOTFOUND,
 * AUGUR_ECONFLICT, AUGUR_EPERM, ...); AUGUR_EINVAL for @args_json that is
 * not a JSON object or an @op that is empty or too long; or a transport
 * outcome: AUGUR_ECONNECT (no endpoint listens), AUGUR_EAUTH (the cluster
 * refused the key, or a server could not prove the cluster key),
 * AUGUR_ETIMEOUT (a read, or a write never sent: not applied), or
 * AUGUR_EINDETERMINATE (a write sent but not answered in time: it may have
 * applied, and only a read tells; calling again is a new write).  Within
 * one call the library retries a write after a lost connection or a leader
 * change as the same (client id, sequence), which the cluster applies at
 * most once.
 *
 * *@out is the answer, which the caller frees with augur_answer_free.  It
 * is NULL only when there was no memory for the answer itself; the
 * accessors read a NULL answer as status AUGUR_ENOMEM.  Not to be called
 * with a NULL @c or @out. */
AUGUR_EXPORT int augur_call_json(struct augur_client *c,
                                 const char *op,
                                 const char *args_json,
                                 unsigned flags,
                                 struct augur_answer **out);

/* The change log from revision @from (1: the first kept), at most @limit
 * events (0: the cluster's default), as augur_call_json of "events" but waiting
 * on the server up to @wait_ms for a revision >= @from when there is none
 * yet (a long poll; 0 answers at once).  The result is {"events": [...],
 * "rev", "next"}: ask again from "next".  AUGUR_ECOMPACTED when @from was
 * trimmed (result {"oldest", "rev"}). */
AUGUR_EXPORT int augur_events_json(struct augur_client *c,
                                   uint64_t from,
                                   unsigned limit,
                                   unsigned wait_ms,
                                   unsigned flags,
                                   struct augur_answer **out);

/* Free @a (NULL is ignored); what the accessors returned goes with it. */
AUGUR_EXPORT void augur_answer_free(struct augur_answer *a);

/* The status: 0 or an AUGUR_E* code (what augur_call_json returned). */
AUGUR_EXPORT int augur_answer_status(const struct augur_answer *a);

/* Why it failed, one line ("" on success); owned by @a. */
AUGUR_EXPORT const char *augur_answer_error(const struct augur_answer *a);

/* The cluster's revision after a write, or the one a read saw; 0 when the
 * answer has none (a refusal, a transport failure). */
AUGUR_EXPORT uint64_t augur_answer_rev(const struct augur_answer *a);

/* The result as JSON text, NUL-terminated ("null" when the answer has
 * none), owned by @a; NULL only if memory ran out converting it. */
AUGUR_EXPORT const char *augur_answer_json(const struct augur_answer *a);

/* Typed getters.  @pointer is a JSON Pointer (RFC 6901) into the result:
 * "" is the result itself, "/host" a field, "/items/0/capacity/cpu" a
 * field of the first item of a list ("~1" stands for "/" in a key, "~0"
 * for "~").  Each returns 0 with the value in *@out, AUGUR_ENOTFOUND when
 * @pointer names nothing or a null, or AUGUR_EINVAL when it names a value
 * of another type or is not a JSON Pointer (*@out untouched). */

/* A string, copied into @out (@size bytes, NUL-terminated); AUGUR_ETOOBIG
 * (and "" in @out) when it does not fit. */
AUGUR_EXPORT int augur_answer_str(const struct augur_answer *a,
                                  const char *pointer,
                                  char *out,
                                  size_t size);
/* A non-negative integer. */
AUGUR_EXPORT int augur_answer_u64(const struct augur_answer *a,
                                  const char *pointer,
                                  uint64_t *out);
/* An integer from INT64_MIN to INT64_MAX. */
AUGUR_EXPORT int augur_answer_i64(const struct augur_answer *a,
                                  const char *pointer,
                                  int64_t *out);
/* A number (an integer is converted). */
AUGUR_EXPORT int augur_answer_double(const struct augur_answer *a,
                                     const char *pointer,
                                     double *out);
/* true or false, as 1 or 0. */
AUGUR_EXPORT int augur_answer_bool(const struct augur_answer *a,
                                   const char *pointer,
                                   int *out);
/* The number of items of an array or of fields of an object. */
AUGUR_EXPORT int augur_answer_count(const struct augur_answer *a,
                                    const char *pointer,
                                    size_t *out);

#ifdef __cplusplus
}
#endif

#endif
