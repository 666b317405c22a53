/* Error code table: one description and one stable name per code. */
#include "common/error.h"

static const struct
{
    const char *name;
    const char *text;
} table[AUGUR_ERR_COUNT] = {
    [AUGUR_OK] = {"OK", "success"},
    [AUGUR_EINVAL] = {"EINVAL", "invalid argument"},
    [AUGUR_ENOTFOUND] = {"ENOTFOUND", "not found"},
    [AUGUR_EEXIST] = {"EEXIST", "already exists"},
    [AUGUR_ECONFLICT] = {"ECONFLICT", "conflict"},
    [AUGUR_ENOCAPACITY] = {"ENOCAPACITY", "no capacity"},
    [AUGUR_EUNAVAILABLE] = {"EUNAVAILABLE", "resource unavailable"},
    [AUGUR_ECYCLE] = {"ECYCLE", "dependency cycle"},
    [AUGUR_EMALFORMED] = {"EMALFORMED", "malformed input"},
    [AUGUR_ETOOBIG] = {"ETOOBIG", "too big"},
    [AUGUR_ENOMEM] = {"ENOMEM", "out of memory"},
    [AUGUR_EIO] = {"EIO", "I/O error"},
    [AUGUR_ENOTLEADER] = {"ENOTLEADER", "not the leader"},
    [AUGUR_ENOLEADER] = {"ENOLEADER", "no leader"},
    [AUGUR_ETIMEOUT] = {"ETIMEOUT", "timed out"},
    [AUGUR_ECONNECT] = {"ECONNECT", "cannot connect"},
    [AUGUR_EINDETERMINATE] = {"EINDETERMINATE", "outcome unknown"},
    [AUGUR_ESHUTDOWN] = {"ESHUTDOWN", "shutting down"},
    [AUGUR_ESESSION] = {"ESESSION", "session sequence too old"},
    [AUGUR_EINTERNAL] = {"EINTERNAL", "internal error"},
    [AUGUR_EBUSY] = {"EBUSY", "busy"},
    [AUGUR_EPROTO] = {"EPROTO", "protocol error"},
    [AUGUR_EAUTH] = {"EAUTH", "authentication failed"},
    [AUGUR_EPERM] = {"EPERM", "permission denied"},
    [AUGUR_ECOMPACTED] = {"ECOMPACTED", "the revision was compacted"},
};

const char *augur_strerror(int code)
{
    if (code < 0 || code >= AUGUR_ERR_COUNT || table[code].text == 0) {
        return "unknown error";
    }
    return table[code].text;
}

const char *augur_errname(int code)
{
    if (code < 0 || code >= AUGUR_ERR_COUNT || table[code].name == 0) {
        return "EUNKNOWN";
    }
    return table[code].name;
}
