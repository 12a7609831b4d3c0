/*
 * tests/e2e/cold-memscan.c — searches a stopped kura-cold's memory for its
 * secrets.
 *
 *   cold-memscan [--expect-found] WORDS-FILE -- PROGRAM ARGS...
 *
 * Computes, from the BIP39 words in WORDS-FILE (empty BIP39 passphrase), the
 * entropy, the seed, the master private key and chain code; runs PROGRAM as
 * its child (so that the kernel lets it read the child's memory even under
 * Yama's ptrace_scope=1); waits until the child stops itself (kura-cold's
 * test hook KURA_COLD_TEST_STOP raises SIGSTOP); reads every readable
 * mapping of /proc/PID/maps through /proc/PID/mem and searches for each
 * secret; then continues the child and waits for it.
 *
 * Exit 0 when none of the secrets is found (or, with --expect-found, when
 * the entropy, the seed, the master private key and its chain code all are:
 * the control run that proves the scan can see them) and the child exited 0;
 * 1 otherwise; 2 when the scan could not run.
 *
 * Mappings larger than 4 GiB are skipped: no process here maps that much
 * real memory; they are AddressSanitizer's shadow and allocator reservations
 * (terabytes of address space). The control run shows that the memory the
 * secrets live in is scanned.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "kura/keys.h"

#define CHUNK (1u << 20)
#define HUGE_MAPPING (4ull << 30)

typedef struct needle {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    int required; /* must be found by the control run */
    size_t found;
} needle;

static const uint8_t *find(const uint8_t *h, size_t hn, const uint8_t *n, size_t nn)
{
    const uint8_t *p = h, *end;
    if (nn == 0 || hn < nn) return NULL;
    end = h + hn - nn + 1;
    while (p < end) {
        p = memchr(p, n[0], (size_t)(end - p));
        if (p == NULL) return NULL;
        if (memcmp(p, n, nn) == 0) return p;
        p++;
    }
    return NULL;
}

/* Searches the region [start, end) of mem for every needle. buf holds
 * CHUNK + maxlen bytes: the last maxlen - 1 bytes of the previous chunk
 * (`keep`), then the new chunk, so that a secret across two chunks is found;
 * a match lying wholly in the kept bytes was counted the round before. */
static void scan_region(int mem, uint64_t start, uint64_t end, const char *name, needle *nd,
                        size_t nn, size_t maxlen, uint8_t *buf)
{
    size_t keep = 0;
    for (uint64_t at = start; at < end;) {
        size_t want = end - at < CHUNK ? (size_t)(end - at) : CHUNK, have;
        ssize_t got = pread(mem, buf + keep, want, (off_t)at);
        if (got <= 0) {
            /* An unreadable page (a guard page, a device mapping): skip it. */
            at += 4096;
            keep = 0;
            continue;
        }
        have = keep + (size_t)got;
        for (size_t k = 0; k < nn; k++) {
            const uint8_t *p = buf, *stop = buf + have;
            while ((p = find(p, (size_t)(stop - p), nd[k].bytes, nd[k].len)) != NULL) {
                if ((size_t)(p - buf) + nd[k].len > keep && nd[k].found++ < 3)
                    printf("found: %s at 0x%" PRIx64 " in %s\n", nd[k].name,
                           at - keep + (uint64_t)(p - buf), name[0] != '\0' ? name : "[anonymous]");
                p++;
            }
        }
        at += (uint64_t)got;
        keep = have < maxlen - 1 ? have : maxlen - 1;
        memmove(buf, buf + have - keep, keep);
    }
}

static int scan(pid_t pid, needle *nd, size_t nn)
{
    char path[64], line[1024];
    FILE *maps;
    int mem;
    size_t maxlen = 0, regions = 0, skipped = 0;
    uint64_t bytes = 0;
    uint8_t *buf;
    for (size_t k = 0; k < nn; k++)
        if (nd[k].len > maxlen) maxlen = nd[k].len;
    buf = malloc(CHUNK + maxlen);
    if (buf == NULL) return -1;
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    maps = fopen(path, "r");
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    mem = open(path, O_RDONLY);
    if (maps == NULL || mem < 0) {
        fprintf(stderr, "cold-memscan: cannot open /proc/%d: %s\n", (int)pid, strerror(errno));
        if (maps != NULL) fclose(maps);
        if (mem >= 0) close(mem);
        free(buf);
        return -1;
    }
    while (fgets(line, sizeof(line), maps) != NULL) {
        unsigned long long start, end;
        char perms[8] = "", name[512] = "";
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %511[^\n]", &start, &end, perms, name) < 3)
            continue;
        if (perms[0] != 'r' || strcmp(name, "[vvar]") == 0 || strcmp(name, "[vsyscall]") == 0 ||
            strcmp(name, "[vvar_vclock]") == 0)
            continue;
        if (end - start > HUGE_MAPPING) {
            skipped++;
            continue;
        }
        regions++;
        bytes += end - start;
        scan_region(mem, start, end, name, nd, nn, maxlen, buf);
    }
    fclose(maps);
    close(mem);
    free(buf);
    printf("scanned %zu mappings, %" PRIu64 " bytes (%zu huge reservations skipped)\n", regions,
           bytes, skipped);
    return 0;
}

int main(int argc, char **argv)
{
    int expect_found = 0, a = 1, status, rc = 0;
    char words[1024];
    uint8_t entropy[32], seed[64];
    size_t entropy_len = 0, wl;
    kura_bip32_key master;
    kura_ctx *ctx;
    kura_error err;
    FILE *f;
    pid_t pid;
    if (a < argc && strcmp(argv[a], "--expect-found") == 0) {
        expect_found = 1;
        a++;
    }
    if (argc - a < 3 || strcmp(argv[a + 1], "--") != 0) {
        fprintf(stderr, "usage: cold-memscan [--expect-found] WORDS-FILE -- PROGRAM ARGS...\n");
        return 2;
    }
    f = fopen(argv[a], "r");
    if (f == NULL || fgets(words, sizeof(words), f) == NULL) {
        fprintf(stderr, "cold-memscan: cannot read %s\n", argv[a]);
        return 2;
    }
    fclose(f);
    wl = strcspn(words, "\r\n");
    words[wl] = '\0';
    ctx = kura_ctx_new();
    if (ctx == NULL ||
        kura_bip39_to_entropy(entropy, sizeof(entropy), &entropy_len, words, &err) != KURA_OK ||
        kura_bip39_to_seed(seed, words, NULL, &err) != KURA_OK ||
        kura_bip32_from_seed(ctx, &master, seed, sizeof(seed), KURA_NETWORK_MAINNET) != KURA_OK) {
        fprintf(stderr, "cold-memscan: bad words\n");
        return 2;
    }
    needle nd[] = {
        {"BIP39 entropy", entropy, entropy_len, 1, 0},
        {"BIP39 seed", seed, sizeof(seed), 1, 0},
        {"master private key", master.priv, 32, 1, 0},
        {"master chain code", master.chain_code, 32, 1, 0},
        {"mnemonic words", (const uint8_t *)words, wl, 0, 0},
    };
    size_t nn = sizeof(nd) / sizeof(nd[0]);

    fflush(stdout);
    pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        execvp(argv[a + 2], argv + a + 2);
        _exit(127);
    }
    if (waitpid(pid, &status, WUNTRACED) != pid) return 2;
    if (!WIFSTOPPED(status)) {
        fprintf(stderr, "cold-memscan: %s ended without stopping (status %d): no test hook?\n",
                argv[a + 2], status);
        return 2;
    }
    if (scan(pid, nd, nn) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return 2;
    }
    kill(pid, SIGCONT);
    if (waitpid(pid, &status, 0) != pid) return 2;
    printf("program exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    for (size_t k = 0; k < nn; k++) {
        printf("%s: %s\n", nd[k].name, nd[k].found > 0 ? "FOUND" : "not found");
        if (expect_found && nd[k].required && nd[k].found == 0) rc = 1;
        if (!expect_found && nd[k].found > 0) rc = 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
    sodium_memzero(entropy, sizeof(entropy));
    sodium_memzero(seed, sizeof(seed));
    kura_bip32_wipe(&master);
    sodium_memzero(words, sizeof(words));
    kura_ctx_free(ctx);
    return rc;
}
