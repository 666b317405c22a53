/* A stand-in for libFuzzer's main, for builds without clang: replays every
 * file of the corpus and regression directories given, then runs a fixed
 * number of deterministic mutations of them (byte flips, insertions,
 * deletions, splices) through LLVMFuzzerTestOneInput.  With clang,
 * tests/fuzz/run links the same targets with -fsanitize=fuzzer instead.
 *
 *   fuzz_TARGET [--runs N] DIR...      (default 10000 runs) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 65536
#define SEEDS_MAX 4096

struct seed
{
    uint8_t *data;
    size_t len;
};

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int load_dir(const char *dir, struct seed *seeds, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL) {
        return 0; /* an absent directory holds no seeds */
    }
    while ((e = readdir(d)) != NULL && *n < SEEDS_MAX) {
        char path[4096];
        FILE *f;
        uint8_t *buf;
        size_t len;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }
        buf = malloc(INPUT_MAX);
        if (buf == NULL) {
            fclose(f);
            closedir(d);
            return -1;
        }
        len = fread(buf, 1, INPUT_MAX, f);
        fclose(f);
        seeds[*n].data = buf;
        seeds[*n].len = len;
        (*n)++;
        /* Every seed and regression input runs as it is first. */
        LLVMFuzzerTestOneInput(buf, len);
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    static struct seed seeds[SEEDS_MAX];
    static uint8_t buf[INPUT_MAX];
    unsigned long runs = 10000;
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    size_t n = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = strtoul(argv[++i], NULL, 10);
        } else if (load_dir(argv[i], seeds, &n) != 0) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
    }
    if (n == 0) {
        seeds[0].data = calloc(1, 16);
        seeds[0].len = 16;
        n = 1;
    }
    for (unsigned long r = 0; r < runs; r++) {
        const struct seed *s = &seeds[rnd(&state) % n];
        size_t len = s->len < INPUT_MAX ? s->len : INPUT_MAX;
        unsigned edits = 1 + (unsigned)(rnd(&state) % 8);

        memcpy(buf, s->data, len);
        for (unsigned k = 0; k < edits; k++) {
            size_t pos = len > 0 ? rnd(&state) % len : 0;
            switch (rnd(&state) % 5) {
                case 0: /* flip a bit */
                    if (len > 0) {
                        buf[pos] ^= (uint8_t)(1u << (rnd(&state) % 8));
                    }
                    break;
                case 1: /* set a byte to an interesting value */
                    if (len > 0) {
                        static const uint8_t v[] = {
                            0, 1, 0x7f, 0x80, 0xff, 0xc0, 0xdc, 0xdf, 0xc4};
                        buf[pos] = v[rnd(&state) % sizeof v];
                    }
                    break;
                case 2: /* insert a byte */
                    if (len < INPUT_MAX) {
                        memmove(buf + pos + 1, buf + pos, len - pos);
                        buf[pos] = (uint8_t)rnd(&state);
                        len++;
                    }
                    break;
                case 3: /* delete a byte */
                    if (len > 0) {
                        memmove(buf + pos, buf + pos + 1, len - pos - 1);
                        len--;
                    }
                    break;
                default: /* truncate */
                    len = pos;
                    break;
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("%lu runs over %zu seeds: no crash\n", runs, n);
    for (size_t i = 0; i < n; i++) {
        free(seeds[i].data);
    }
    return 0;
}
