/* JSON text to msgpack and back, for the installed interface of libaugur
 * (api/public.c), whose callers speak JSON and whose wire speaks msgpack. */
#ifndef AUGUR_API_MPJSON_H
#define AUGUR_API_MPJSON_H

#include <stddef.h>

#include <msgpack.h>

/* Deepest nesting of arrays and objects either way; msgpack-c's unpacker
 * refuses deeper input than this anyway. */
#define MPJSON_DEPTH_MAX 32

/* Pack @text, one JSON object (RFC 8259) with nothing but white space
 * around it, into @out as one msgpack map: strings as str, integers as
 * unsigned (or signed when negative) 64-bit integers, other numbers as
 * doubles, true/false as bool, null as nil.  Returns 0; AUGUR_EINVAL with a
 * one-line reason in @why (@why_size bytes) when @text is not JSON, not an
 * object, nested deeper than MPJSON_DEPTH_MAX or holds an integer outside
 * [INT64_MIN, UINT64_MAX]; or AUGUR_ENOMEM.  @out may hold part of the
 * packing after a failure; the caller owns it either way. */
int mpjson_parse(const char *text,
                 msgpack_sbuffer *out,
                 char *why,
                 size_t why_size) __attribute__((warn_unused_result));

/* Append @o to @out as JSON text (not NUL-terminated): maps as objects (a
 * key that is not a string becomes its JSON text as a string), str and bin
 * as strings (bytes that are not UTF-8 become U+FFFD), non-finite floats
 * and ext as null.  Returns 0, AUGUR_ENOMEM, or AUGUR_EMALFORMED when @o
 * is nested deeper than MPJSON_DEPTH_MAX. */
int mpjson_print(const msgpack_object *o, msgpack_sbuffer *out)
    __attribute__((warn_unused_result));

#endif
