/*
 * programs/kura-approve/sshkeygen.c — `ssh-keygen -Y sign` as a child process.
 *
 * Why ssh-keygen and not our own signing code: approvers keep their keys where
 * OpenSSH keeps them — passphrase-protected files, an ssh-agent, FIDO security
 * keys that only OpenSSH's middleware talks to. kura never sees the private
 * key; it verifies what comes back (main.c) before writing anything.
 *
 * Why a file and not a pipe: with the message on a file, ssh-keygen's standard
 * input remains the approver's terminal, so a passphrase prompt or a PIN
 * prompt reads from the person, never from the message. The file lives in a
 * fresh 0700 directory, so nobody can swap it between our write and
 * ssh-keygen's read, and FILE.sig cannot already exist (ssh-keygen would stop
 * to ask before overwriting).
 */
#include "sshkeygen.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kura/sshsig.h"

extern char **environ;

static void say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || why_len == 0) return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

int approve_read_file(char **out, size_t *len, const char *path, size_t max)
{
    int fd;
    char *buf;
    size_t have = 0, cap;
    *out = NULL;
    *len = 0;
    if (max >= SIZE_MAX - 2) {
        errno = EINVAL;
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    cap = max + 1 < 65536 ? max + 2 : 65536;
    buf = malloc(cap);
    if (buf == NULL) goto fail;
    for (;;) {
        ssize_t got;
        if (have + 1 >= cap) {
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            char *n;
            if (ncap <= cap) break; /* max + 1 bytes read: enough to say "too long" */
            n = realloc(buf, ncap);
            if (n == NULL) goto fail;
            buf = n;
            cap = ncap;
        }
        got = read(fd, buf + have, cap - 1 - have);
        if (got < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        if (got == 0) break;
        have += (size_t)got;
    }
    close(fd);
    buf[have] = '\0';
    *out = buf;
    *len = have;
    return 0;
fail: {
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return -1;
}
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int approve_sshkeygen_sign(char **sig_out, size_t *sig_len, char *why, size_t why_len,
                           const char *keyfile, const char *ns, const uint8_t *message,
                           size_t message_len)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], msg_path[4200], sig_path[4210];
    posix_spawn_file_actions_t actions;
    pid_t pid;
    int fd, status, rc = -1, spawned;
    char *argv[10];

    *sig_out = NULL;
    *sig_len = 0;
    /* An absolute directory, so the file argument can never read as an option. */
    if (tmp == NULL || tmp[0] != '/') tmp = "/tmp";
    if ((size_t)snprintf(dir, sizeof(dir), "%s/kura-approve-XXXXXX", tmp) >= sizeof(dir)) {
        say(why, why_len, "TMPDIR is too long");
        return -1;
    }
    if (mkdtemp(dir) == NULL) {
        say(why, why_len, "cannot make a temporary directory in %s: %s", tmp, strerror(errno));
        return -1;
    }
    snprintf(msg_path, sizeof(msg_path), "%s/intent", dir);
    snprintf(sig_path, sizeof(sig_path), "%s/intent.sig", dir);

    fd = open(msg_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, message, message_len) != 0 || close(fd) != 0) {
        say(why, why_len, "cannot write %s: %s", msg_path, strerror(errno));
        if (fd >= 0) close(fd);
        goto done;
    }

    argv[0] = (char *)"ssh-keygen";
    argv[1] = (char *)"-Y";
    argv[2] = (char *)"sign";
    argv[3] = (char *)"-f";
    argv[4] = (char *)keyfile;
    argv[5] = (char *)"-n";
    argv[6] = (char *)ns;
    argv[7] = msg_path;
    argv[8] = NULL;
    /* ssh-keygen's chatter ("Signing file ...") goes to stderr with its
     * prompts; our standard output stays the approver's reading. */
    if (posix_spawn_file_actions_init(&actions) != 0) {
        say(why, why_len, "cannot start ssh-keygen: out of memory");
        goto done;
    }
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    fflush(NULL);
    spawned = posix_spawnp(&pid, "ssh-keygen", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        say(why, why_len, "cannot run ssh-keygen: %s", strerror(spawned));
        goto done;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            say(why, why_len, "waiting for ssh-keygen: %s", strerror(errno));
            goto done;
        }
    }
    if (WIFSIGNALED(status)) {
        say(why, why_len, "ssh-keygen was killed by signal %d", WTERMSIG(status));
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        say(why, why_len, "ssh-keygen -Y sign failed (exit %d)",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto done;
    }
    if (approve_read_file(sig_out, sig_len, sig_path, KURA_SSHSIG_ARMOR_MAX) != 0) {
        say(why, why_len, "ssh-keygen wrote no signature (%s: %s)", sig_path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    unlink(sig_path);
    unlink(msg_path);
    rmdir(dir);
    return rc;
}
