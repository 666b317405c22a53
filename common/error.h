/* The project's one error enum and its code-to-string table. */
#ifndef AUGUR_COMMON_ERROR_H
#define AUGUR_COMMON_ERROR_H

/* Every fallible augur function returns 0 or one of these codes.  The
 * numbers travel on the wire (the "status" of an answer), so they are
 * append-only: never renumber, never reuse.  The installed header
 * include/augur.h carries the same enum under the same guard (it may not
 * include this one); api_public_test checks that the two agree. */
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

/* These two are part of libaugur's installed interface as well: exported
 * from the shared library, which hides everything else. */
#define AUGUR_ERROR_EXPORT __attribute__((visibility("default")))

/* Human-readable description of @code; never NULL, static storage. */
AUGUR_ERROR_EXPORT const char *augur_strerror(int code);

/* Stable symbolic name of @code ("ENOTFOUND"), for JSON output and logs;
 * never NULL, static storage. */
AUGUR_ERROR_EXPORT const char *augur_errname(int code);

#endif
