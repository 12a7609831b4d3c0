/* src/util/file.c — the few durable-file steps the keystore and the journal
 * share. Each returns 0, or -1 with errno set, so the caller can name the
 * file in its own error report. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int kura_file_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int kura_file_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, rc = 0, saved;
    if (slash == NULL) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir != NULL) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (dir == NULL) {
        errno = ENOMEM;
        return -1;
    }
    /* POSIX leaves a directory entry to the directory's own sync: without
     * this a crash can forget a new name even though the file was synced. */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) rc = -1;
    saved = errno;
    if (fd >= 0) close(fd);
    free(dir);
    errno = saved;
    return rc;
}

int kura_file_place_new(const char *tmp, const char *path)
{
    struct stat st;
    /* link() fails with EEXIST atomically, where a check followed by
     * rename() would let a file created in between be silently replaced. */
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return 0;
    }
    /* Filesystems without hard links (FAT on a removable stick) get the
     * check-then-rename fallback, racy only against a concurrent creator. */
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOSYS &&
        errno != EMLINK)
        return -1;
    if (lstat(path, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    if (errno != ENOENT) return -1;
    return rename(tmp, path);
}
