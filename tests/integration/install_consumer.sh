#!/usr/bin/env bash
# install_consumer: libaugur as installed works for a program outside the
# tree.  cmake --install of this build into a temporary prefix; the shared
# library exports only augur_ names and has its SONAME; a C program written
# here, including only <augur.h> and built with nothing but
# `cc $(pkg-config --cflags --libs augur)`, talks to a real 3-node cluster
# (a write, a read, refusals) and prints what it got; then the same program
# linked with the static library, which needs no libaugur.so at run time.
set -euo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

BUILD_DIR=${AUGUR_BUILD_DIR:?AUGUR_BUILD_DIR: the build directory to install}
CMAKE=${AUGUR_CMAKE:-cmake}
CC=${CC:-cc}
VERSION=${AUGUR_PROJECT_VERSION:?AUGUR_PROJECT_VERSION: the project version}
# Flags the consumer needs to load a library built with sanitizers.
read -r -a CONSUMER_CFLAGS <<<"${AUGUR_CONSUMER_CFLAGS:-}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/augur-install-consumer.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# ---- install ----------------------------------------------------------------
PREFIX=$WORK/prefix
log "cmake --install $BUILD_DIR --prefix $PREFIX"
"$CMAKE" --install "$BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log" ||
    { cat "$WORK/install.log" >&2; fail "cmake --install failed"; }
for f in bin/augurd bin/augur include/augur.h; do
    [ -e "$PREFIX/$f" ] || fail "not installed: $f"
done
PC=$(find "$PREFIX" -name augur.pc -path '*/pkgconfig/*')
[ -n "$PC" ] || fail "augur.pc not installed"
export PKG_CONFIG_PATH=$(dirname "$PC")
LIBDIR=$(pkg-config --variable=libdir augur)
[ "$(cd "$LIBDIR" && pwd)" = "$(cd "$(dirname "$PC")/.." && pwd)" ] ||
    fail "augur.pc's libdir $LIBDIR is not the directory above it"
for f in libaugur.so libaugur.a "libaugur.so.$VERSION"; do
    [ -e "$LIBDIR/$f" ] || fail "not installed: $LIBDIR/$f"
done
"$PREFIX/bin/augurd" --help >/dev/null || fail "installed augurd --help failed"
"$PREFIX/bin/augur" --help >/dev/null || fail "installed augur --help failed"

# The SONAME carries the major version; only augur_ names are exported.
soname=$(readelf -d "$LIBDIR/libaugur.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libaugur.so.${VERSION%%.*}" ] || fail "SONAME is '$soname'"
exports=$(nm -D --defined-only "$LIBDIR/libaugur.so" | awk '{print $3}')
log "exported: $(tr '\n' ' ' <<<"$exports")"
others=$(grep -v '^augur_' <<<"$exports" || true)
[ -z "$others" ] || fail "libaugur.so exports names outside augur_: $others"
grep -qx augur_version <<<"$exports" || fail "augur_version is not exported"
# The static archive defines no global name outside augur_ either.
others=$(nm -g --defined-only "$LIBDIR/libaugur.a" |
    awk 'NF == 3 {print $3}' | grep -v '^augur_' || true)
[ -z "$others" ] || fail "libaugur.a defines names outside augur_: $others"

# The header needs nothing but the C library.
includes=$(sed -n 's/^#include *//p' "$PREFIX/include/augur.h" | sort -u | tr '\n' ' ')
[ "$includes" = "<stddef.h> <stdint.h> " ] || fail "augur.h includes $includes"
printf '#include <augur.h>\n' >"$WORK/alone.c"
"$CC" -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags augur) \
    -c "$WORK/alone.c" -o "$WORK/alone.o" || fail "augur.h alone does not compile"

# The .pc holds for a prefix moved elsewhere too: every path is relative.
cp -a "$PREFIX" "$WORK/moved"
moved_pc_dir=$WORK/moved/$(dirname "${PC#"$PREFIX"/}")
moved=$(PKG_CONFIG_PATH=$moved_pc_dir pkg-config --variable=includedir augur)
moved=${moved%/}
[ -f "$moved/augur.h" ] && [[ $moved == "$WORK/moved/"* ]] ||
    fail "augur.pc of a moved prefix points at $moved"

# ---- the consumer -----------------------------------------------------------
cat >"$WORK/consumer.c" <<'EOF'
/* A program of libaugur's users: its installed header only. */
#include <augur.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int logged;

static void on_log(void *data, int level, const char *msg)
{
    (void)data;
    (void)level;
    (void)msg;
    logged++;
}

/* usage: consumer ENDPOINTS RESOURCE KEY CLUSTER_KEY */
int main(int argc, char **argv)
{
    struct augur_client *c;
    struct augur_answer *a;
    char err[256];
    char add[512];
    char get[256];
    char id[128];
    char kind[32];
    char rack[32];
    uint64_t cpu = 0;
    uint64_t rev = 0;
    int st;

    if (argc != 5) {
        fprintf(stderr, "usage: consumer ENDPOINTS RESOURCE KEY CLUSTER_KEY\n");
        return 2;
    }
    printf("version %s\n", augur_version());
    if (augur_client_new(argv[1], argv[3], argv[4], &c, err, sizeof err) != 0) {
        fprintf(stderr, "augur_client_new: %s\n", err);
        return 1;
    }
    snprintf(add, sizeof add,
             "{\"id\": \"%s\", \"kind\": \"host\", \"capacity\": "
             "{\"cpu\": 16, \"mem_mb\": 65536}, \"labels\": {\"rack\": \"r2\"}}",
             argv[2]);
    snprintf(get, sizeof get, "{\"id\": \"%s\"}", argv[2]);

    st = augur_call_json(c, "resource.add", add, 0, &a);
    if (st != 0) {
        fprintf(stderr, "resource.add: %s\n", augur_client_errmsg(c));
        augur_answer_free(a);
        augur_client_close(c);
        return 1;
    }
    rev = augur_answer_rev(a);
    printf("add %s rev>0=%d\n", augur_errname(st), rev > 0);
    augur_answer_free(a);

    st = augur_call_json(c, "resource.get", get, 0, &a);
    if (st != 0 || augur_answer_str(a, "/id", id, sizeof id) != 0 ||
        augur_answer_str(a, "/kind", kind, sizeof kind) != 0 ||
        augur_answer_str(a, "/labels/rack", rack, sizeof rack) != 0 ||
        augur_answer_u64(a, "/capacity/cpu", &cpu) != 0) {
        fprintf(stderr, "resource.get: %s / %s\n", augur_client_errmsg(c),
                augur_answer_json(a));
        augur_answer_free(a);
        augur_client_close(c);
        return 1;
    }
    printf("get %s %s cpu=%" PRIu64 " rack=%s seen_rev>=add_rev=%d\n", id,
           kind, cpu, rack, augur_answer_rev(a) >= rev);
    printf("json %s\n", augur_answer_json(a));
    augur_answer_free(a);

    /* Refusals come back as a status and a message. */
    st = augur_call_json(c, "resource.add", add, 0, &a);
    printf("again %s %d\n", augur_errname(st), augur_answer_error(a)[0] != 0);
    augur_answer_free(a);
    st = augur_call_json(c, "resource.get", "{\"id\": \"no-such-host\"}", 0, &a);
    printf("missing %s\n", augur_errname(st));
    augur_answer_free(a);
    st = augur_call_json(c, "resource.get", "{\"id\": ", 0, &a);
    printf("bad args %s\n", augur_errname(st));
    augur_answer_free(a);
    augur_client_close(c);

    /* Silent so far; with a callback, the library's messages come to it. */
    augur_log_set(AUGUR_LOG_DEBUG, on_log, NULL);
    if (augur_client_new(argv[1], argv[3], argv[4], &c, err, sizeof err) != 0) {
        fprintf(stderr, "augur_client_new: %s\n", err);
        return 1;
    }
    st = augur_call_json(c, "status", NULL, AUGUR_STALE, &a);
    printf("status %s logged=%d\n", augur_errname(st), logged > 0);
    augur_answer_free(a);
    augur_client_close(c);
    augur_log_set(AUGUR_LOG_ERROR, NULL, NULL);
    return 0;
}
EOF
log "building the consumer: $CC $(pkg-config --cflags --libs augur)"
"$CC" -std=c11 -Wall -Wextra -Werror "${CONSUMER_CFLAGS[@]}" \
    -o "$WORK/consumer" "$WORK/consumer.c" $(pkg-config --cflags --libs augur) ||
    fail "the consumer does not build against the installed libaugur"
readelf -d "$WORK/consumer" | grep -q "NEEDED.*\[libaugur.so.${VERSION%%.*}\]" ||
    fail "the consumer does not link libaugur.so"

# The same program against libaugur.a: -laugur gives way to the archive, and
# pkg-config --static adds what it needs.
static_libs=()
for tok in $(pkg-config --static --libs augur); do
    [ "$tok" = -laugur ] || static_libs+=("$tok")
done
log "building the static consumer: $LIBDIR/libaugur.a ${static_libs[*]}"
"$CC" -std=c11 -Wall -Wextra -Werror "${CONSUMER_CFLAGS[@]}" \
    -o "$WORK/consumer_static" "$WORK/consumer.c" $(pkg-config --cflags augur) \
    "$LIBDIR/libaugur.a" "${static_libs[@]}" ||
    fail "the consumer does not build against libaugur.a"
if readelf -d "$WORK/consumer_static" | grep -q 'NEEDED.*libaugur'; then
    fail "the static consumer still needs libaugur.so"
fi

# ---- against a cluster ------------------------------------------------------
cluster_start 3
trap 'rc=$?; cleanup; (exit $rc); on_exit' EXIT
ALL=$(eps)
KEY=$AUGUR_KEY
CLUSTER_KEY=$AUGUR_CLUSTER_KEY

# run_consumer BINARY RESOURCE [ENV ARGS...]: run the consumer (with env(1)
# arguments) and check what it printed.
run_consumer()
{
    local bin=$1 res=$2 out json
    shift 2
    # The keys are passed as arguments, not through the environment.
    out=$(env -u AUGUR_KEY -u AUGUR_CLUSTER_KEY "$@" \
        timeout 60 "$bin" "$ALL" "$res" "$KEY" "$CLUSTER_KEY" \
        2>"$WORK/$res.stderr") ||
        { cat "$WORK/$res.stderr" >&2; fail "$bin failed: $out"; }
    log "$bin:"
    echo "$out"
    [ ! -s "$WORK/$res.stderr" ] ||
        { cat "$WORK/$res.stderr" >&2; fail "$bin wrote to stderr"; }
    expect() { grep -qxF -- "$1" <<<"$out" || fail "$bin: no line '$1' in: $out"; }
    expect "version $VERSION"
    expect "add OK rev>0=1"
    expect "get $res host cpu=16 rack=r2 seen_rev>=add_rev=1"
    expect "again EEXIST 1"
    expect "missing ENOTFOUND"
    expect "bad args EINVAL"
    expect "status OK logged=1"
    json=$(sed -n 's/^json //p' <<<"$out")
    json_eq "$json" '.id' "$res"
    json_eq "$json" '.capacity.mem_mb' 65536
    json_eq "$json" '.labels.rack' r2
    # The write is the cluster's: the CLI reads it back.
    json_eq "$(aug "$ALL" resource get "$res" -o json)" '.kind' host
}

run_consumer "$WORK/consumer" h-shared LD_LIBRARY_PATH="$LIBDIR"
run_consumer "$WORK/consumer_static" h-static -u LD_LIBRARY_PATH
