/*
 * kura-approve — the approver's tool (docs/kura-approve.md).
 *
 *   kura-approve show INTENT [--policy POLICY]
 *   kura-approve approve INTENT --key KEYFILE [-o OUT] [--policy POLICY] [--yes] [--force]
 *   kura-approve verify INTENT APPROVAL... --policy POLICY
 *   kura-approve policy verify NEW SIG... --policy CURRENT
 *
 * `show` renders an intent exactly as the signer will read it; `approve` shows
 * it, asks, signs it with the approver's own OpenSSH key (ssh-keygen -Y sign,
 * namespace kura-intent-v1) and verifies the signature natively before
 * writing it; `verify` checks approvals against a policy with the signer's own
 * kura_check_approvals.
 *
 * Errors go to stderr as "kura-approve: <command>: <reason>"; a refusal
 * names the check's reason code ("kura-approve: verify:
 * KURA_REFUSE_APPROVALS_INSUFFICIENT: ..."). Exit codes:
 *   0  done: shown, approval written, quorum met
 *   1  refused: the intent is not canonical, the approver declined, the
 *      signature would not count, the approvals do not meet the quorum
 *   2  could not run: usage, an unreadable file or policy, ssh-keygen failed
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kura/check.h"
#include "kura/intent.h"
#include "kura/policy.h"
#include "kura/sshsig.h"
#include "known.h"
#include "server.h"
#include "sshkeygen.h"

#define EXIT_REFUSED 1
#define EXIT_CANNOT 2
#define APPROVAL_NAMESPACE "kura-intent-v1"
/* An approval file bigger than this is not read whole: no SSHSIG is that long,
 * and the check refuses the first KURA_SSHSIG_ARMOR_MAX + 1 bytes anyway. */
#define APPROVAL_FILE_MAX KURA_SSHSIG_ARMOR_MAX
#define PUBKEY_FILE_MAX 16384u

static const char *command = "kura-approve";

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kura-approve: %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static int usage(void)
{
    fputs("usage: kura-approve show INTENT [--policy POLICY]\n"
          "       kura-approve approve INTENT --key KEYFILE [-o OUT] [--policy POLICY]\n"
          "                            [--yes] [--force]\n"
          "       kura-approve verify INTENT APPROVAL... --policy POLICY\n"
          "       kura-approve policy verify NEW SIG... --policy CURRENT\n"
          "With a coordinator, instead of INTENT (show and approve):\n"
          "       --server URL --transfer ID [--api-key-file FILE] [--ca-file FILE]\n"
          "       [--intent-out FILE]\n"
          "KEYFILE is an OpenSSH private key, a security-key handle, or a .pub file\n"
          "whose key ssh-agent holds. OUT defaults to INTENT.approval. The fetched\n"
          "intent is kept in FILE (default ID.intent); the API key comes from FILE\n"
          "or $KURA_API_KEY.\n",
          stderr);
    return EXIT_CANNOT;
}

/* ---- loading ---- */

/* The intent file, parsed. On failure prints the reason and returns the exit
 * code: 1 for a text the parser refuses (with the parser's message), 2 for a
 * file that cannot be read. */
static int load_intent(kura_intent **intent, char **text, size_t *text_len, const char *path)
{
    kura_error err;
    *intent = NULL;
    if (approve_read_file(text, text_len, path, KURA_INTENT_TEXT_MAX) != 0)
        return die(EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    if (kura_intent_parse(intent, (const uint8_t *)*text, *text_len, &err) != KURA_OK) {
        free(*text);
        *text = NULL;
        return die(EXIT_REFUSED, "%s: %s: %s", kura_refusal_name(KURA_REFUSE_INTENT_MALFORMED),
                   path, err.message);
    }
    return 0;
}

/* The approver's (or verifier's) own policy file. Its owner put it there, so
 * a policy that does not parse means "cannot run", not "refused". */
static int load_policy(kura_policy **policy, const char *path)
{
    kura_error err;
    char *text;
    size_t len;
    int rc;
    *policy = NULL;
    if (approve_read_file(&text, &len, path, KURA_POLICY_TEXT_MAX) != 0)
        return die(EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    rc = kura_policy_parse(policy, (const uint8_t *)text, len, &err);
    free(text);
    if (rc != KURA_OK) return die(EXIT_CANNOT, "%s: %s", path, err.message);
    return 0;
}

/* The approver's policy file against what they verified before: a file
 * older than the newest version remembered for its wallet is refused (the
 * coordinator may be showing an old policy while it withholds the new one
 * from the signer); a newer one is remembered. Returns 0 or an exit code. */
static int remember_policy(const kura_policy *policy, const char *path)
{
    uint64_t known = 0;
    if (known_get(&known, policy->wallet.name, policy->wallet.checksum, policy->chain) != 0)
        return die(EXIT_CANNOT, "cannot read the remembered policy versions: %s",
                   strerror(errno));
    if (known > policy->version)
        return die(EXIT_REFUSED,
                   "%s is policy version %" PRIu64 " of %s #%s, but you have verified version "
                   "%" PRIu64 ": use the newest policy",
                   path, policy->version, policy->wallet.name, policy->wallet.checksum, known);
    if (known_put(policy->wallet.name, policy->wallet.checksum, policy->chain, policy->version) !=
        0)
        return die(EXIT_CANNOT, "cannot remember policy version %" PRIu64 ": %s",
                   policy->version, strerror(errno));
    return 0;
}

static void hex32(char out[65], const uint8_t h[32])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[64] = '\0';
}

static void print_btc(FILE *f, uint64_t sats)
{
    fprintf(f, "%" PRIu64 ".%08" PRIu64 " BTC (%" PRIu64 " sat)", sats / 100000000u,
            sats % 100000000u, sats);
}

/* The policy member holding `key`: returns the approver index, or -1; sets
 * *admin when the key is an administrator's instead. */
static long find_approver(const kura_policy *policy, const kura_sshkey *key, const char **admin)
{
    *admin = NULL;
    for (size_t i = 0; i < policy->approver_count; i++)
        if (kura_sshkey_equal(&policy->approvers[i].key, key)) return (long)i;
    for (size_t i = 0; i < policy->admin_count; i++)
        if (kura_sshkey_same_point(&policy->admins[i].key, key)) *admin = policy->admins[i].name;
    return -1;
}

static void describe_key(char *out, size_t out_len, const kura_sshkey *key)
{
    char fp[KURA_SSHKEY_FINGERPRINT_SIZE];
    if (kura_sshkey_fingerprint(fp, key) != KURA_OK) snprintf(fp, sizeof(fp), "?");
    snprintf(out, out_len, "%s %s", kura_sshkey_type_name(key->type), fp);
}

/* ---- showing ---- */

/* Prints what the signer will see, and what a careful approver should know
 * before signing: every destination not on the allowlist, a policy for
 * another wallet, limits the transfer would break. Warnings do not stop
 * anything; the signer enforces the policy whatever the approver signs. */
static int render(const kura_intent *intent, const char *text, size_t text_len,
                  const kura_policy *policy)
{
    kura_error err;
    char *shown = NULL;
    size_t shown_len = 0, off_list = 0;
    uint64_t total = kura_intent_total(intent);
    int64_t now = (int64_t)time(NULL);
    uint8_t hash[32];
    char hex[65];

    if (kura_intent_render(&shown, &shown_len, intent,
                           policy != NULL ? kura_policy_allowlist_lookup : NULL, (void *)policy,
                           &err) != KURA_OK)
        return die(EXIT_REFUSED, "%s: %s", kura_refusal_name(KURA_REFUSE_INTENT_MALFORMED),
                   err.message);
    fwrite(shown, 1, shown_len, stdout);
    /* The renderer hashes its own canonical spelling, which for a text the
     * parser accepted is the file byte for byte: the "Intent hash" shown is
     * the hash of what will be signed. Say so loudly if that ever breaks. */
    kura_intent_hash(hash, (const uint8_t *)text, text_len);
    hex32(hex, hash);
    if (strstr(shown, hex) == NULL)
        printf("WARNING: the file's SHA-256 is %s, not the hash shown above\n", hex);
    free(shown);

    if (policy == NULL) {
        printf("\nWARNING: no policy given (--policy): destinations are not checked against "
               "the allowlist\n");
    } else {
        unsigned need = 0;
        printf("\nPolicy:      version %" PRIu64 " of %s #%s (%s), %s\n", policy->version,
               policy->wallet.name, policy->wallet.checksum,
               kura_intent_chain_name(policy->chain),
               policy->mode == KURA_POLICY_HOT ? "hot" : "cold");
        if (kura_policy_tier_required(&need, policy, total) == KURA_OK)
            printf("Approvals:   %u needed for this amount%s\n", need,
                   policy->initiator_may_approve ? ""
                                                 : " (the initiator's own does not count)");
        if (policy->chain != intent->chain)
            printf("WARNING: the intent is for %s, the policy for %s: the signer will refuse it\n",
                   kura_intent_chain_name(intent->chain), kura_intent_chain_name(policy->chain));
        if (strcmp(policy->wallet.name, intent->wallet.name) != 0 ||
            strcmp(policy->wallet.checksum, intent->wallet.checksum) != 0)
            printf("WARNING: the intent names wallet %s #%s, the policy %s #%s: the signer will "
                   "refuse it\n",
                   intent->wallet.name, intent->wallet.checksum, policy->wallet.name,
                   policy->wallet.checksum);
        for (size_t i = 0; i < intent->output_count; i++) {
            const kura_intent_output *o = &intent->outputs[i];
            const char *label;
            if (kura_policy_allowlist_lookup((void *)policy, o->script, o->script_len, &label))
                continue;
            off_list++;
            printf("WARNING: output %zu pays %s, which is NOT ON THE ALLOWLIST%s\n", i + 1,
                   o->address,
                   policy->allowlist_required ? " (the policy requires it: the signer will refuse)"
                                              : "");
        }
        if (total > policy->max_per_transfer) {
            printf("WARNING: the total is over the policy's per-transfer cap of ");
            print_btc(stdout, policy->max_per_transfer);
            printf(": the signer will refuse it\n");
        }
        if (intent->expires - intent->created > (int64_t)policy->max_lifetime)
            printf("WARNING: the intent lives longer than the policy's %" PRIu64
                   " seconds: the signer will refuse it\n",
                   policy->max_lifetime);
        if (intent->max_fee > policy->max_fee) {
            printf("Note: the policy caps the fee lower, at ");
            print_btc(stdout, policy->max_fee);
            printf("\n");
        }
    }
    if (intent->expires <= now)
        printf("WARNING: this intent has expired: the signer will refuse it\n");
    if (policy != NULL && off_list == 0)
        printf("Every destination is on the allowlist.\n");
    return 0;
}

/* ---- a coordinator as the courier ---- */

/* --server and friends, as show and approve take them. */
typedef struct server_opts {
    const char *url, *transfer, *key_file, *ca_file, *intent_out;
} server_opts;

/* Takes argv[*i] (and its value) when it is a server option: 1 taken, 0 not
 * one of them, -1 missing value. */
static int server_opt(server_opts *o, int argc, char **argv, int *i)
{
    static const char *const names[] = {"--server", "--transfer", "--api-key-file", "--ca-file",
                                        "--intent-out"};
    const char **slots[] = {&o->url, &o->transfer, &o->key_file, &o->ca_file, &o->intent_out};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strcmp(argv[*i], names[k]) != 0) continue;
        if (*i + 1 >= argc) return -1;
        *slots[k] = argv[++*i];
        return 1;
    }
    return 0;
}

static int write_out(const char *path, const char *data, size_t len, int force, char *why,
                     size_t why_len);

/* Fetches the transfer's intent from the coordinator and keeps its exact
 * bytes in a local file, which is then read like any intent file: what is
 * shown, signed and verified is what the file holds, whatever the server
 * says next. An existing file with the same bytes is kept; with other bytes
 * it is refused unless `force`. *path_out points at the file name (owned by
 * *owned when made here). Returns 0 or an exit code after saying why. */
static int fetch_intent(const server_opts *o, int force, const char **path_out, char **owned)
{
    approve_server srv = {o->url, NULL, o->ca_file};
    char *key = NULL, *text = NULL, *old = NULL, why[512];
    size_t len = 0, old_len = 0;
    const char *path = o->intent_out;
    int rc = 0;
    *owned = NULL;
    if (o->transfer == NULL) return die(EXIT_CANNOT, "--server needs --transfer ID");
    if (approve_server_load_key(&key, o->key_file, why, sizeof why) != 0)
        return die(EXIT_CANNOT, "%s", why);
    srv.api_key = key;
    if (approve_server_fetch_intent(&text, &len, &srv, o->transfer, why, sizeof why) != 0) {
        rc = die(EXIT_CANNOT, "cannot fetch the intent of transfer %s: %s", o->transfer, why);
        goto done;
    }
    if (path == NULL) {
        size_t n = strlen(o->transfer) + sizeof(".intent");
        *owned = malloc(n);
        if (*owned == NULL) {
            rc = die(EXIT_CANNOT, "out of memory");
            goto done;
        }
        snprintf(*owned, n, "%s.intent", o->transfer);
        path = *owned;
    }
    if (approve_read_file(&old, &old_len, path, KURA_INTENT_TEXT_MAX) == 0) {
        int same = old_len == len && memcmp(old, text, len) == 0;
        free(old);
        if (same) goto kept;
        if (!force) {
            rc = die(EXIT_CANNOT, "%s exists with other bytes than the server's intent "
                                  "(--force replaces it)", path);
            goto done;
        }
    }
    if (write_out(path, text, len, force, why, sizeof why) != 0) {
        rc = die(EXIT_CANNOT, "%s", why);
        goto done;
    }
kept:
    printf("Intent of transfer %s fetched from %s into %s\n", o->transfer, o->url, path);
    *path_out = path;
done:
    if (rc != 0) {
        free(*owned);
        *owned = NULL;
    }
    if (key != NULL) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
    free(text);
    return rc;
}

/* Posts the approval the approver just made and verified locally. */
static int post_approval(const server_opts *o, const char *sig, size_t sig_len)
{
    approve_server srv = {o->url, NULL, o->ca_file};
    char *key = NULL, why[512], state[64];
    int rc = 0;
    if (approve_server_load_key(&key, o->key_file, why, sizeof why) != 0)
        return die(EXIT_CANNOT, "%s", why);
    srv.api_key = key;
    if (approve_server_post_approval(&srv, o->transfer, sig, sig_len, state, sizeof state, why,
                                     sizeof why) != 0)
        rc = die(EXIT_CANNOT, "the approval is written but not posted: %s", why);
    else
        printf("Approval posted to %s: transfer %s is %s\n", o->url, o->transfer,
               state[0] ? state : "updated");
    sodium_memzero(key, strlen(key));
    free(key);
    return rc;
}

static int cmd_show(int argc, char **argv)
{
    const char *intent_path = NULL, *policy_path = NULL;
    kura_intent *intent = NULL;
    kura_policy *policy = NULL;
    char *text = NULL, *fetched = NULL;
    size_t text_len;
    server_opts srv = {0};
    int rc, force = 0;
    for (int i = 0; i < argc; i++) {
        int taken = server_opt(&srv, argc, argv, &i);
        if (taken < 0) return usage();
        if (taken) continue;
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) policy_path = argv[++i];
        else if (strcmp(argv[i], "--force") == 0) force = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return usage();
        else if (intent_path == NULL) intent_path = argv[i];
        else return usage();
    }
    if ((intent_path == NULL) == (srv.url == NULL)) return usage();
    if (policy_path != NULL && (rc = load_policy(&policy, policy_path)) != 0) return rc;
    if (policy != NULL && (rc = remember_policy(policy, policy_path)) != 0) {
        kura_policy_free(policy);
        return rc;
    }
    if (srv.url != NULL && (rc = fetch_intent(&srv, force, &intent_path, &fetched)) != 0) {
        kura_policy_free(policy);
        return rc;
    }
    rc = load_intent(&intent, &text, &text_len, intent_path);
    if (rc == 0) rc = render(intent, text, text_len, policy);
    kura_intent_free(intent);
    kura_policy_free(policy);
    free(text);
    free(fetched);
    return rc;
}

/* ---- approving ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The public key of KEYFILE when it can be known without the private key:
 * KEYFILE itself when it is a .pub, else KEYFILE.pub beside it. Returns 1 when
 * found, 0 when there is none, or an exit code (>= 2) after printing why. */
static int expected_key(kura_sshkey *key, const char *keyfile)
{
    char path[4096];
    char *line;
    size_t len;
    kura_error err;
    int rc;
    if (ends_with(keyfile, ".pub")) snprintf(path, sizeof(path), "%s", keyfile);
    else if ((size_t)snprintf(path, sizeof(path), "%s.pub", keyfile) >= sizeof(path))
        return die(EXIT_CANNOT, "key file name too long");
    if (approve_read_file(&line, &len, path, PUBKEY_FILE_MAX) != 0) {
        if (errno == ENOENT && strcmp(path, keyfile) != 0) return 0;
        return die(EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    }
    rc = kura_sshkey_parse(key, line, len, &err);
    free(line);
    if (rc != KURA_OK) return die(EXIT_CANNOT, "%s: %s", path, err.message);
    return 1;
}

/* Says who the key is under the policy, and warns when the signer would not
 * count its approval. */
static void describe_approver(const kura_sshkey *key, const kura_intent *intent,
                              const kura_policy *policy)
{
    char desc[KURA_SSHKEY_STRING_MAX];
    const char *admin;
    long who;
    describe_key(desc, sizeof(desc), key);
    if (policy == NULL) {
        printf("Signing key: %s\n", desc);
        return;
    }
    who = find_approver(policy, key, &admin);
    if (who < 0) {
        printf("Signing key: %s\n", desc);
        if (admin != NULL)
            printf("WARNING: this is administrator %s's key, not an approver's: the signer will "
                   "not count it\n",
                   admin);
        else
            printf("WARNING: this key is not an approver of policy version %" PRIu64
                   ": the signer will not count it\n",
                   policy->version);
        return;
    }
    printf("Signing as:  %s (%s)\n", policy->approvers[who].name, desc);
    if (!policy->initiator_may_approve &&
        strcmp(policy->approvers[who].name, intent->initiator) == 0)
        printf("WARNING: you are this intent's initiator: the signer will not count your "
               "approval\n");
}

/* Asks, and reads one line from stdin byte by byte (stdio would read ahead
 * and swallow what comes after the answer, which ssh-keygen, inheriting
 * stdin, may need). Returns 1 if the line is exactly "yes" (or "y"). */
static int confirmed(void)
{
    char answer[64];
    size_t n = 0;
    int too_long = 0;
    printf("\nApprove this transfer? Type \"yes\" to sign: ");
    fflush(stdout);
    for (;;) {
        char c;
        ssize_t got = read(STDIN_FILENO, &c, 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            printf("\n");
            if (n == 0) return 0;
            break;
        }
        if (c == '\n') break;
        if (n + 1 < sizeof(answer)) answer[n++] = c;
        else too_long = 1;
    }
    if (n > 0 && answer[n - 1] == '\r') n--;
    answer[n] = '\0';
    return !too_long && (strcmp(answer, "yes") == 0 || strcmp(answer, "y") == 0);
}

/* Writes data to `path` whole or not at all: a temporary file beside it,
 * synced, then linked into place (or renamed over an old file when `force`),
 * so a reader never sees half an approval. */
static int write_out(const char *path, const char *data, size_t len, int force, char *why,
                     size_t why_len)
{
    char tmp[4200];
    int fd;
    size_t off = 0;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp)) {
        snprintf(why, why_len, "output file name too long");
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, why_len, "cannot create a file beside %s: %s", path, strerror(errno));
        return -1;
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto fail;
        off += (size_t)n;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) goto fail;
    if (!force) unlink(tmp);
    return 0;
fail:
    snprintf(why, why_len, "cannot write %s: %s%s", path, strerror(errno),
             errno == EEXIST ? " (--force replaces it)" : "");
    if (fd >= 0) close(fd);
    unlink(tmp);
    return -1;
}

static int cmd_approve(int argc, char **argv)
{
    const char *intent_path = NULL, *policy_path = NULL, *keyfile = NULL, *out_path = NULL;
    int yes = 0, force = 0, have_key, rc;
    kura_intent *intent = NULL;
    kura_policy *policy = NULL;
    char *text = NULL, *sig_text = NULL, *default_out = NULL, *fetched = NULL, why[512];
    size_t text_len = 0, sig_len = 0;
    kura_sshkey key, signer;
    kura_sshsig sig;
    kura_error err;
    server_opts srv = {0};

    for (int i = 0; i < argc; i++) {
        int taken = server_opt(&srv, argc, argv, &i);
        if (taken < 0) return usage();
        if (taken) continue;
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) keyfile = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out_path = argv[++i];
        else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) policy_path = argv[++i];
        else if (strcmp(argv[i], "--yes") == 0) yes = 1;
        else if (strcmp(argv[i], "--force") == 0) force = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return usage();
        else if (intent_path == NULL) intent_path = argv[i];
        else return usage();
    }
    if ((intent_path == NULL) == (srv.url == NULL) || keyfile == NULL) return usage();
    if (srv.url != NULL && (rc = fetch_intent(&srv, force, &intent_path, &fetched)) != 0)
        return rc;
    if (out_path == NULL) {
        size_t n = strlen(intent_path) + sizeof(".approval");
        default_out = malloc(n);
        if (default_out == NULL) return die(EXIT_CANNOT, "out of memory");
        snprintf(default_out, n, "%s.approval", intent_path);
        out_path = default_out;
    }
    if (policy_path != NULL && (rc = load_policy(&policy, policy_path)) != 0) goto done;
    if (policy != NULL && (rc = remember_policy(policy, policy_path)) != 0) goto done;
    if ((rc = load_intent(&intent, &text, &text_len, intent_path)) != 0) goto done;
    /* An intent naming a policy version older than one this approver has
     * verified: the coordinator is showing approvers old rules, perhaps
     * while it withholds a revocation from the signer. Not approved. */
    {
        uint64_t known = 0;
        if (known_get(&known, intent->wallet.name, intent->wallet.checksum, intent->chain) != 0) {
            rc = die(EXIT_CANNOT, "cannot read the remembered policy versions: %s",
                     strerror(errno));
            goto done;
        }
        if (intent->policy_version < known) {
            rc = die(EXIT_REFUSED,
                     "the intent names policy version %" PRIu64 ", but you have verified version "
                     "%" PRIu64 " of %s #%s: refusing to approve under older rules (the "
                     "coordinator may be withholding the newer policy from the signer)",
                     intent->policy_version, known, intent->wallet.name,
                     intent->wallet.checksum);
            goto done;
        }
        if (policy != NULL && intent->policy_version > policy->version)
            printf("WARNING: the intent names policy version %" PRIu64 ", newer than your "
                   "policy file (version %" PRIu64 "): verify the newer policy first\n",
                   intent->policy_version, policy->version);
    }
    have_key = expected_key(&key, keyfile);
    if (have_key > 1) {
        rc = have_key;
        goto done;
    }
    if ((rc = render(intent, text, text_len, policy)) != 0) goto done;
    if (have_key) describe_approver(&key, intent, policy);
    if (!yes && !confirmed()) {
        rc = die(EXIT_REFUSED, "declined: nothing signed");
        goto done;
    }

    if (approve_sshkeygen_sign(&sig_text, &sig_len, why, sizeof(why), keyfile,
                               APPROVAL_NAMESPACE, (const uint8_t *)text, text_len) != 0) {
        rc = die(EXIT_CANNOT, "%s", why);
        goto done;
    }
    /* Check what ssh-keygen returned with the verifier the signer uses, before
     * anything is written: the right bytes, the right namespace, the expected
     * key, and for a security key the touch. An approval the signer would not
     * count is never handed out. */
    if (kura_sshsig_parse(&sig, sig_text, sig_len, &err) != KURA_OK ||
        kura_sshsig_verify(&sig, (const uint8_t *)text, text_len, APPROVAL_NAMESPACE,
                           have_key ? &key : NULL, 0, &signer, &err) != KURA_OK) {
        rc = die(EXIT_REFUSED, "the signature ssh-keygen made does not verify (%s): nothing "
                               "written",
                 err.message);
        goto done;
    }
    if (!have_key) describe_approver(&signer, intent, policy);
    if (write_out(out_path, sig_text, sig_len, force, why, sizeof(why)) != 0) {
        rc = die(EXIT_CANNOT, "%s", why);
        goto done;
    }
    {
        char desc[KURA_SSHKEY_STRING_MAX];
        describe_key(desc, sizeof(desc), &signer);
        printf("Approval by %s written to %s\n", desc, out_path);
    }
    rc = srv.url != NULL ? post_approval(&srv, sig_text, sig_len) : 0;
done:
    kura_intent_free(intent);
    kura_policy_free(policy);
    free(text);
    free(sig_text);
    free(default_out);
    free(fetched);
    return rc;
}

/* ---- verifying ---- */

/* One line per approval: who signed it and whether it can count. This is for
 * the person reading; the decision is kura_check_approvals', the signer's. */
static void explain_approval(size_t n, const char *path, const char *sig_text, size_t sig_len,
                             const kura_intent *intent, const char *text, size_t text_len,
                             const kura_policy *policy, unsigned char *seen)
{
    kura_sshsig sig;
    kura_sshkey signer;
    kura_error err;
    char desc[KURA_SSHKEY_STRING_MAX];
    const char *admin;
    long who;
    printf("approval %zu (%s): ", n, path);
    if (kura_sshsig_parse(&sig, sig_text, sig_len, &err) != KURA_OK) {
        printf("not counted: not an SSH signature (%s)\n", err.message);
        return;
    }
    if (kura_sshsig_verify(&sig, (const uint8_t *)text, text_len, APPROVAL_NAMESPACE, NULL, 0,
                           &signer, &err) != KURA_OK) {
        printf("not counted: %s\n", err.message);
        return;
    }
    describe_key(desc, sizeof(desc), &signer);
    who = find_approver(policy, &signer, &admin);
    if (who < 0) {
        if (admin != NULL)
            printf("not counted: signed by administrator %s (%s), not an approver\n", admin, desc);
        else
            printf("not counted: signed by %s, not an approver of policy version %" PRIu64 "\n",
                   desc, policy->version);
    } else if (seen[who]) {
        printf("not counted: %s signed before (%s)\n", policy->approvers[who].name, desc);
    } else if (!policy->initiator_may_approve &&
               strcmp(policy->approvers[who].name, intent->initiator) == 0) {
        seen[who] = 1;
        printf("not counted: %s is the initiator (%s)\n", policy->approvers[who].name, desc);
    } else {
        seen[who] = 1;
        printf("%s (%s)\n", policy->approvers[who].name, desc);
    }
}

static int cmd_verify(int argc, char **argv)
{
    const char *intent_path = NULL, *policy_path = NULL;
    const char *approval_paths[KURA_PACKAGE_APPROVALS_MAX];
    char *sigs[KURA_PACKAGE_APPROVALS_MAX];
    size_t sig_lens[KURA_PACKAGE_APPROVALS_MAX], count = 0, loaded = 0, text_len = 0;
    kura_intent *intent = NULL;
    kura_policy *policy = NULL;
    kura_check_result result;
    unsigned char *seen = NULL;
    char *text = NULL, hex[65];
    uint8_t hash[32];
    int rc;

    memset(&result, 0, sizeof(result));
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) policy_path = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return usage();
        else if (intent_path == NULL) intent_path = argv[i];
        else if (count < KURA_PACKAGE_APPROVALS_MAX) approval_paths[count++] = argv[i];
        else return die(EXIT_CANNOT, "more than %d approvals", KURA_PACKAGE_APPROVALS_MAX);
    }
    if (intent_path == NULL || policy_path == NULL || count == 0) return usage();
    if ((rc = load_policy(&policy, policy_path)) != 0) goto done;
    if ((rc = load_intent(&intent, &text, &text_len, intent_path)) != 0) goto done;
    for (loaded = 0; loaded < count; loaded++)
        if (approve_read_file(&sigs[loaded], &sig_lens[loaded], approval_paths[loaded],
                              APPROVAL_FILE_MAX) != 0) {
            rc = die(EXIT_CANNOT, "cannot read %s: %s", approval_paths[loaded], strerror(errno));
            goto done;
        }

    kura_intent_hash(hash, (const uint8_t *)text, text_len);
    hex32(hex, hash);
    printf("intent %s (sha256 %s): ", intent->id, hex);
    print_btc(stdout, kura_intent_total(intent));
    printf(" to %zu output%s, initiated by %s\n", intent->output_count,
           intent->output_count == 1 ? "" : "s", intent->initiator);
    printf("policy version %" PRIu64 " of %s #%s (%s)\n", policy->version, policy->wallet.name,
           policy->wallet.checksum, kura_intent_chain_name(policy->chain));
    /* The signer refuses these before it looks at approvals (DESIGN "What the
     * signer checks", steps 1 and 3); an approval of an intent the policy does
     * not govern counts for nothing. */
    if (intent->chain != policy->chain) {
        rc = die(EXIT_REFUSED, "%s: the intent is for %s, the policy for %s",
                 kura_refusal_name(KURA_REFUSE_NETWORK_MISMATCH),
                 kura_intent_chain_name(intent->chain), kura_intent_chain_name(policy->chain));
        goto done;
    }
    if (strcmp(intent->wallet.name, policy->wallet.name) != 0 ||
        strcmp(intent->wallet.checksum, policy->wallet.checksum) != 0) {
        rc = die(EXIT_REFUSED, "%s: the intent names wallet %s #%s, the policy %s #%s",
                 kura_refusal_name(KURA_REFUSE_INTENT_WALLET), intent->wallet.name,
                 intent->wallet.checksum, policy->wallet.name, policy->wallet.checksum);
        goto done;
    }

    seen = calloc(policy->approver_count + 1, 1);
    if (seen == NULL) {
        rc = die(EXIT_CANNOT, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++)
        explain_approval(i + 1, approval_paths[i], sigs[i], sig_lens[i], intent, text, text_len,
                         policy, seen);

    rc = kura_check_approvals(&result, policy, intent, (const uint8_t *)text, text_len,
                              (const uint8_t *const *)sigs, sig_lens, count);
    /* The signer refuses a package with any approval that does not count,
     * however many others do (a forged or misplaced approval is a sign of
     * tampering, not noise), so such a set never "meets" the quorum. */
    if (rc == KURA_OK || result.reason == KURA_REFUSE_APPROVALS_INSUFFICIENT)
        printf("quorum: %zu of %u required approval%s: %s\n", result.approval_count,
               result.approvals_required, result.approvals_required == 1 ? "" : "s",
               rc == KURA_OK ? "met" : "NOT MET");
    else
        printf("quorum: NOT MET: the signer refuses this set of approvals\n");
    if (rc == KURA_OK && result.reason == KURA_REFUSE_NONE) {
        rc = 0;
    } else if (rc == KURA_EDATA || rc == KURA_OK) {
        rc = die(EXIT_REFUSED, "%s: %s",
                 kura_refusal_name(result.reason != KURA_REFUSE_NONE
                                       ? result.reason
                                       : KURA_REFUSE_APPROVALS_INSUFFICIENT),
                 result.message);
    } else {
        rc = die(EXIT_CANNOT, "the check could not run (%s)", kura_status_name(rc));
    }
done:
    kura_check_result_clear(&result);
    for (size_t i = 0; i < loaded; i++) free(sigs[i]);
    free(seen);
    kura_intent_free(intent);
    kura_policy_free(policy);
    free(text);
    return rc;
}

/* ---- policy verify ---- */

/* kura-approve policy verify NEW SIG... --policy CURRENT: checks that NEW may
 * follow CURRENT (newer version, same wallet and chain) and that a quorum of
 * CURRENT's administrators signed it (kura_policy_verify_signatures, as the
 * signer does), says what NEW loosens, and remembers NEW's version: from then
 * on this approver refuses intents naming an older version. */
static int cmd_policy_verify(int argc, char **argv)
{
    const char *new_path = NULL, *cur_path = NULL;
    const char *sig_paths[KURA_PACKAGE_POLICY_SIGNATURES_MAX];
    char *sigs[KURA_PACKAGE_POLICY_SIGNATURES_MAX];
    size_t sig_lens[KURA_PACKAGE_POLICY_SIGNATURES_MAX], count = 0, loaded = 0, len = 0, valid = 0;
    kura_policy *cur = NULL, *next = NULL;
    char *text = NULL, why[512];
    kura_error err;
    int rc;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) cur_path = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return usage();
        else if (new_path == NULL) new_path = argv[i];
        else if (count < KURA_PACKAGE_POLICY_SIGNATURES_MAX) sig_paths[count++] = argv[i];
        else return die(EXIT_CANNOT, "too many signatures");
    }
    if (new_path == NULL || cur_path == NULL || count == 0) return usage();
    if ((rc = load_policy(&cur, cur_path)) != 0) goto done;
    if ((rc = remember_policy(cur, cur_path)) != 0) goto done;
    if (approve_read_file(&text, &len, new_path, KURA_POLICY_TEXT_MAX) != 0) {
        rc = die(EXIT_CANNOT, "cannot read %s: %s", new_path, strerror(errno));
        goto done;
    }
    if (kura_policy_parse(&next, (const uint8_t *)text, len, &err) != KURA_OK) {
        rc = die(EXIT_REFUSED, "%s: %s", new_path, err.message);
        goto done;
    }
    if (kura_policy_check_successor(cur, next, &err) != KURA_OK) {
        rc = die(EXIT_REFUSED, "%s", err.message);
        goto done;
    }
    for (loaded = 0; loaded < count; loaded++)
        if (approve_read_file(&sigs[loaded], &sig_lens[loaded], sig_paths[loaded],
                              KURA_SSHSIG_ARMOR_MAX) != 0) {
            rc = die(EXIT_CANNOT, "cannot read %s: %s", sig_paths[loaded], strerror(errno));
            goto done;
        }
    rc = kura_policy_verify_signatures(NULL, &valid, cur, (const uint8_t *)text, len,
                                       (const char *const *)sigs, sig_lens, count, &err);
    if (rc != KURA_OK) {
        rc = die(rc == KURA_POLICY_EQUORUM ? EXIT_REFUSED : EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    if (known_put(next->wallet.name, next->wallet.checksum, next->chain, next->version) != 0) {
        rc = die(EXIT_CANNOT, "cannot remember policy version %" PRIu64 ": %s", next->version,
                 strerror(errno));
        goto done;
    }
    printf("policy version %" PRIu64 " of %s #%s: signed by %zu of %u administrators of version "
           "%" PRIu64 "; remembered\n",
           next->version, next->wallet.name, next->wallet.checksum, valid, cur->admin_quorum,
           cur->version);
    if (kura_policy_loosenings(why, sizeof(why), cur, next) > 0)
        printf("it loosens: %s (the signer applies these only after version %" PRIu64
               "'s waiting period of %" PRIu64 " s)\n",
               why, cur->version, cur->allowlist_delay);
    rc = 0;
done:
    for (size_t i = 0; i < loaded; i++) free(sigs[i]);
    kura_policy_free(cur);
    kura_policy_free(next);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    command = argv[1];
    if (strcmp(argv[1], "show") == 0) return cmd_show(argc - 2, argv + 2);
    if (strcmp(argv[1], "approve") == 0) return cmd_approve(argc - 2, argv + 2);
    if (strcmp(argv[1], "verify") == 0) return cmd_verify(argc - 2, argv + 2);
    if (strcmp(argv[1], "policy") == 0 && argc >= 3 && strcmp(argv[2], "verify") == 0) {
        command = "policy verify";
        return cmd_policy_verify(argc - 3, argv + 3);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage();
        return 0;
    }
    return usage();
}
