/* raft/prealloc.c: libraft's segment preallocation leaves the range written
 * (no unwritten extents, so appends into it are overwrites) and all zeros,
 * at the size asked. */
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "raft/prealloc.h"

#define SEGMENT ((off_t)(8 << 20) + 4096 * 3) /* not a whole chunk */

/* The extents of @fd: how many, and how many of them are unwritten.
 * Returns -1 where the file system has no FIEMAP. */
static int extents(int fd, unsigned *n, unsigned *unwritten)
{
    size_t size = sizeof(struct fiemap) + 256 * sizeof(struct fiemap_extent);
    struct fiemap *fm = calloc(1, size);

    assert_non_null(fm);
    fm->fm_length = FIEMAP_MAX_OFFSET;
    fm->fm_flags = FIEMAP_FLAG_SYNC;
    fm->fm_extent_count = 256;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
        free(fm);
        return -1;
    }
    *n = fm->fm_mapped_extents;
    *unwritten = 0;
    for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
        if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) {
            (*unwritten)++;
        }
    }
    free(fm);
    return 0;
}

/* The test's file, in the build tree (not /tmp, which may be tmpfs). */
static int open_new(char *path, size_t size, int flags)
{
    int fd;

    snprintf(path, size, "prealloc-test-%ld.seg", (long)getpid());
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | flags, 0600);
    assert_true(fd >= 0);
    return fd;
}

static void range_is_written_and_zero(void **state)
{
    char path[64];
    unsigned n = 0, unwritten = 0;
    struct stat st;
    unsigned char *buf;
    int fd = open_new(path, sizeof path, O_DSYNC);

    (void)state;
    assert_int_equal(augur__raft_posix_fallocate(fd, 0, SEGMENT), 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, SEGMENT);
    assert_true((off_t)st.st_blocks * 512 >= SEGMENT);
    if (extents(fd, &n, &unwritten) == 0) {
        /* posix_fallocate alone leaves every extent unwritten on ext4 and
         * xfs; here none is. */
        assert_true(n > 0);
        assert_int_equal(unwritten, 0);
    }
    close(fd);

    buf = malloc((size_t)SEGMENT);
    assert_non_null(buf);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, (size_t)SEGMENT), SEGMENT);
    for (off_t i = 0; i < SEGMENT; i++) {
        if (buf[i] != 0) {
            fail_msg("byte %lld is %u, not 0", (long long)i, buf[i]);
        }
    }
    close(fd);
    free(buf);
    unlink(path);
}

static void an_offset_range_leaves_the_rest_alone(void **state)
{
    char path[64];
    unsigned char head[4096];
    unsigned char back[4096];
    struct stat st;
    int fd = open_new(path, sizeof path, 0);

    (void)state;
    memset(head, 0xab, sizeof head);
    assert_int_equal(pwrite(fd, head, sizeof head, 0), (ssize_t)sizeof head);
    assert_int_equal(augur__raft_posix_fallocate(fd, 4096, 1 << 20), 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 4096 + (1 << 20));
    close(fd);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, back, sizeof back, 0), (ssize_t)sizeof back);
    assert_memory_equal(back, head, sizeof head);
    close(fd);
    unlink(path);
}

static void a_bad_descriptor_is_an_error(void **state)
{
    (void)state;
    assert_int_not_equal(augur__raft_posix_fallocate(-1, 0, 4096), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_is_written_and_zero),
        cmocka_unit_test(an_offset_range_leaves_the_rest_alone),
        cmocka_unit_test(a_bad_descriptor_is_an_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
