/*
 * programs/kura-approve/known.c — the newest policy version this approver
 * has verified, per wallet (docs/kura-approve.md, "What it remembers").
 *
 * A coordinator that withholds a policy update from the signer (the one that
 * revokes a stolen approver key, say) must also show approvers intents that
 * name the old version, or the signer, behind the version the intent names,
 * refuses. So kura-approve remembers the newest version its holder has seen
 * verified and refuses to approve an intent naming an older one, and refuses
 * a policy file older than it.
 *
 * The file ($KURA_APPROVE_STATE, else $HOME/.kura-approve/known-policies) has
 * one line per wallet: "<chain> <wallet-name> #<checksum> <version>". It is
 * the approver's own file, like their key; it is rewritten whole (temporary
 * file, fsync, rename).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "known.h"
#include "sshkeygen.h"

#define KNOWN_FILE_MAX (1024u * 1024u)

static int known_path(char *out, size_t len, int make_dir)
{
    const char *env = getenv("KURA_APPROVE_STATE"), *home;
    char dir[PATH_MAX];
    if (env != NULL && env[0] != '\0') {
        if ((size_t)snprintf(out, len, "%s", env) >= len) return -1;
        return 0;
    }
    home = getenv("HOME");
    if (home == NULL || home[0] == '\0') return -1;
    if ((size_t)snprintf(dir, sizeof(dir), "%s/.kura-approve", home) >= sizeof(dir)) return -1;
    if (make_dir && mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
    if ((size_t)snprintf(out, len, "%s/known-policies", dir) >= len) return -1;
    return 0;
}

/* The key a line starts with for this wallet: "<chain> <name> #<checksum> ". */
static void line_key(char *out, size_t len, const char *name, const char *checksum,
                     kura_intent_chain chain)
{
    const char *c = kura_intent_chain_name(chain);
    snprintf(out, len, "%s %s #%s ", c != NULL ? c : "?", name, checksum);
}

int known_get(uint64_t *version, const char *name, const char *checksum, kura_intent_chain chain)
{
    char path[PATH_MAX], key[128];
    char *text = NULL, *p;
    size_t len = 0, klen;
    *version = 0;
    if (known_path(path, sizeof(path), 0) != 0) return -1;
    if (approve_read_file(&text, &len, path, KNOWN_FILE_MAX) != 0) return errno == ENOENT ? 0 : -1;
    line_key(key, sizeof(key), name, checksum, chain);
    klen = strlen(key);
    for (p = text; p != NULL && *p != '\0';) {
        char *lf = strchr(p, '\n');
        if (strncmp(p, key, klen) == 0) {
            char *end = NULL;
            unsigned long long v;
            errno = 0;
            v = strtoull(p + klen, &end, 10);
            if (errno == 0 && end != p + klen && (*end == '\n' || *end == '\0') &&
                v > *version)
                *version = (uint64_t)v;
        }
        p = lf != NULL ? lf + 1 : NULL;
    }
    free(text);
    return 0;
}

int known_put(const char *name, const char *checksum, kura_intent_chain chain, uint64_t version)
{
    char path[PATH_MAX], tmp[PATH_MAX + 16], key[128], line[160];
    char *text = NULL, *p;
    size_t len = 0, klen;
    uint64_t have = 0;
    FILE *f;
    int fd;
    if (known_get(&have, name, checksum, chain) != 0) return -1;
    if (have >= version) return 0;
    if (known_path(path, sizeof(path), 1) != 0) return -1;
    if (approve_read_file(&text, &len, path, KNOWN_FILE_MAX) != 0 && errno != ENOENT) return -1;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp)) {
        free(text);
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0) close(fd);
        free(text);
        return -1;
    }
    line_key(key, sizeof(key), name, checksum, chain);
    klen = strlen(key);
    /* Every other wallet's line as it was; this wallet's, once, raised. */
    for (p = text; p != NULL && *p != '\0';) {
        char *lf = strchr(p, '\n');
        size_t n = lf != NULL ? (size_t)(lf - p) : strlen(p);
        if (strncmp(p, key, klen) != 0 && n > 0) fprintf(f, "%.*s\n", (int)n, p);
        p = lf != NULL ? lf + 1 : NULL;
    }
    snprintf(line, sizeof(line), "%s%" PRIu64 "\n", key, version);
    fputs(line, f);
    free(text);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
