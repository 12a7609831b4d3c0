/* src/keystore/file.c — reading a keystore only when its mode is private, and
 * writing one so that it is never seen half-written or readable by others. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "keystore_internal.h"

int kura_keystore_read_file(uint8_t *out, size_t out_cap, size_t *len, const char *path,
                            kura_error *err)
{
    struct stat st;
    size_t got = 0;
    int fd;
    *len = 0;
    /* O_NONBLOCK: a FIFO planted at the path must not hang the signer in
     * open(); it is then refused below as not a regular file. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return kura_fail(err, KURA_ENOTFOUND, "keystore: %s: no such file", path);
        return kura_fail(err, KURA_KEYSTORE_EIO, "keystore: open %s: %s", path, strerror(e));
    }
    /* The mode is checked on the descriptor we read from, not on the path,
     * so the file cannot be swapped between the check and the read. */
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kura_fail(err, KURA_KEYSTORE_EIO, "keystore: stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kura_fail(err, KURA_KEYSTORE_EPERM, "keystore: %s: not a regular file", path);
    }
    /* A keystore others can read can be copied and attacked offline at
     * leisure; one others can write can be replaced. Either way the operator
     * must know before the passphrase is typed. */
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return kura_fail(err, KURA_KEYSTORE_EPERM,
                         "keystore: %s: mode %04o lets group or others access it (chmod 600)",
                         path, (unsigned)(st.st_mode & 07777));
    }
    while (got < out_cap) {
        ssize_t n = read(fd, out + got, out_cap - got);
        if (n < 0) {
            int e = errno;
            if (e == EINTR) continue;
            close(fd);
            memset(out, 0, out_cap);
            return kura_fail(err, KURA_KEYSTORE_EIO, "keystore: read %s: %s", path, strerror(e));
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return KURA_OK;
}

int kura_keystore_write_file(const char *path, const uint8_t *data, size_t len, int replace,
                             kura_error *err)
{
    static const char hexdig[] = "0123456789abcdef";
    uint8_t rnd[8];
    size_t plen = strlen(path), tlen;
    char *tmp;
    int fd, rc;
    /* A random suffix: a stale temporary from an earlier crash, or one
     * planted by someone, only makes O_EXCL fail; it is never written to. */
    if (!kura_size_add(plen, 1 + 5 + 16 + 1, &tlen) || (tmp = malloc(tlen)) == NULL)
        return kura_fail(err, KURA_ENOMEM, "keystore: out of memory");
    randombytes_buf(rnd, sizeof(rnd));
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-", 5);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        tmp[plen + 5 + 2 * i] = hexdig[rnd[i] >> 4];
        tmp[plen + 5 + 2 * i + 1] = hexdig[rnd[i] & 15];
    }
    tmp[plen + 5 + 16] = '\0';
    /* Mode 0600 from the first instant: a chmod after creation would leave a
     * window in which the file is readable under the process umask. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = kura_fail(err, KURA_KEYSTORE_EIO, "keystore: create %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    if (kura_file_write_all(fd, data, len) != 0) {
        rc = kura_fail(err, KURA_KEYSTORE_EIO, "keystore: write %s: %s", tmp, strerror(errno));
        goto fail_open;
    }
    /* The data must be durable before the name points at it, or a crash
     * could leave a keystore of the right name and no contents. */
    if (fsync(fd) != 0) {
        rc = kura_fail(err, KURA_KEYSTORE_EIO, "keystore: fsync %s: %s", tmp, strerror(errno));
        goto fail_open;
    }
    if (close(fd) != 0) {
        rc = kura_fail(err, KURA_KEYSTORE_EIO, "keystore: close %s: %s", tmp, strerror(errno));
        goto fail_closed;
    }
    if (replace) {
        if (rename(tmp, path) != 0) {
            rc = kura_fail(err, KURA_KEYSTORE_EIO, "keystore: rename to %s: %s", path,
                           strerror(errno));
            goto fail_closed;
        }
    } else if (kura_file_place_new(tmp, path) != 0) {
        if (errno == EEXIST)
            rc = kura_fail(err, KURA_KEYSTORE_EEXIST, "keystore: %s already exists", path);
        else
            rc = kura_fail(err, KURA_KEYSTORE_EIO, "keystore: link to %s: %s", path,
                           strerror(errno));
        goto fail_closed;
    }
    free(tmp);
    if (kura_file_sync_dir(path) != 0)
        return kura_fail(err, KURA_KEYSTORE_EIO, "keystore: fsync directory of %s: %s", path,
                         strerror(errno));
    return KURA_OK;

fail_open:
    close(fd);
fail_closed:
    unlink(tmp);
    free(tmp);
    return rc;
}
