/*
 * kura-cold — the offline signer (docs/kura-cold.md; DESIGN "Parts").
 *
 * It keeps one wallet's key in an encrypted keystore, holds the wallet's
 * descriptor and the policy in force, and signs a signing package only when
 * libkura's check (kura/check.h) finds the transaction equal to an intent
 * that a quorum approved under that policy, and after the journal has
 * durably recorded the signature. It has no network code at all (a test
 * checks the binary's imports).
 *
 * Errors go to stderr as "kura-cold: <command>: <reason>"; refusals as
 * "kura-cold: sign: refused: KURA_REFUSE_<X>: <reason>". Exit codes: 0 done,
 * 1 refused (by the check, the operator, or the signer's own rules), 2 could
 * not run (usage, unreadable or corrupt files, wrong passphrase).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <unistd.h>

#include <sodium.h>

#include "cold.h"
#include "kura/bsms.h"

#define COLD_VERSION "0.1.0"

static const struct {
    const char *name;
    enum cold_opt opt;
    int has_value;
} options[] = {
    {"--dir", OPT_DIR, 1},
    {"--passphrase-file", OPT_PASSPHRASE_FILE, 1},
    {"--now", OPT_NOW, 1},
    {"--path", OPT_PATH, 1},
    {"--descriptor", OPT_DESCRIPTOR, 1},
    {"--descriptor-file", OPT_DESCRIPTOR_FILE, 1},
    {"--wallet", OPT_WALLET, 1},
    {"--policy", OPT_POLICY, 1},
    {"-o", OPT_OUTPUT, 1},
    {"--output", OPT_OUTPUT, 1},
    {"--words", OPT_WORDS, 1},
    {"--network", OPT_NETWORK, 1},
    {"--unattended", OPT_UNATTENDED, 0},
    {"--yes", OPT_UNATTENDED, 0},
    {"--extra-entropy", OPT_EXTRA_ENTROPY, 0},
    {"--raw", OPT_RAW, 0},
    {"--bsms", OPT_BSMS, 1},
    {"--qr", OPT_QR, 0},
    {"--qr-text", OPT_QR_TEXT, 0},
    {"--bbqr-in", OPT_BBQR_IN, 0},
    {"--spool", OPT_SPOOL, 1},
    {"--once", OPT_ONCE, 0},
    {"--poll-ms", OPT_POLL_MS, 1},
};

#define BIT(o) (1u << (o))
#define GLOBAL_OPTS (BIT(OPT_DIR) | BIT(OPT_PASSPHRASE_FILE) | BIT(OPT_NOW))

static const struct {
    const char *word1, *word2; /* the command: one or two words */
    const char *name;          /* as messages name it */
    int (*run)(const cold_env *env);
    unsigned opts;             /* options it takes besides the global ones */
    size_t npos;               /* positional arguments it takes */
    int secrets;               /* handles the passphrase, seed or keys */
} commands[] = {
    {"init", NULL, "init", cold_cmd_init,
     BIT(OPT_WORDS) | BIT(OPT_NETWORK) | BIT(OPT_EXTRA_ENTROPY), 0, 1},
    {"restore", NULL, "restore", cold_cmd_restore, BIT(OPT_NETWORK), 0, 1},
    {"xpub", NULL, "xpub", cold_cmd_xpub, BIT(OPT_PATH), 0, 1},
    {"ceremony", NULL, "ceremony", cold_cmd_ceremony,
     BIT(OPT_DESCRIPTOR) | BIT(OPT_DESCRIPTOR_FILE) | BIT(OPT_WALLET) | BIT(OPT_POLICY) |
         BIT(OPT_BSMS),
     KURA_BSMS_SIGNERS_MAX, 1},
    {"bsms", "key", "bsms key", cold_cmd_bsms_key, BIT(OPT_PATH) | BIT(OPT_OUTPUT), 0, 1},
    {"export", NULL, "export", cold_cmd_export, 0, 0, 0},
    {"sign", NULL, "sign", cold_cmd_sign,
     BIT(OPT_OUTPUT) | BIT(OPT_UNATTENDED) | BIT(OPT_QR) | BIT(OPT_QR_TEXT) | BIT(OPT_BBQR_IN), 1, 1},
    {"policy", "show", "policy show", cold_cmd_policy_show, 0, 0, 0},
    {"policy", "apply", "policy apply", cold_cmd_policy_apply, 0, COLD_POSITIONAL_MAX, 0},
    {"journal", "show", "journal show", cold_cmd_journal_show, BIT(OPT_RAW), 0, 0},
    {"journal", "verify", "journal verify", cold_cmd_journal_verify, 0, 0, 0},
    {"qr", "show", "qr show", cold_cmd_qr_show, BIT(OPT_QR_TEXT), 1, 0},
    {"serve", NULL, "serve", cold_cmd_serve, BIT(OPT_SPOOL) | BIT(OPT_ONCE) | BIT(OPT_POLL_MS), 0,
     1},
};

static void usage(FILE *f)
{
    fputs("usage: kura-cold [--dir DIR] [--passphrase-file FILE] COMMAND ...\n"
          "\n"
          "  init [--words 24] [--network CHAIN] [--extra-entropy]\n"
          "                       new seed; shows the words once and asks for three back\n"
          "  restore [--network CHAIN]\n"
          "                       keystore from the words typed on stdin\n"
          "  xpub [--path m/48h/0h/0h/2h]\n"
          "                       [fingerprint/path]xpub for the wallet descriptor\n"
          "  ceremony --descriptor DESC | --descriptor-file FILE --policy FILE [--wallet NAME]\n"
          "                       the wallet and its first policy, confirmed by typing yes\n"
          "  ceremony --bsms WALLET.bsms --policy FILE [--wallet NAME] KEYRECORD.bsms...\n"
          "                       the same, the wallet from a BIP129 descriptor record checked\n"
          "                       against every device's signed key record\n"
          "  bsms key [--path m/48h/0h/0h/2h] -o OUT\n"
          "                       this device's BIP129 key record, signed by its key\n"
          "  export               the watch-only descriptor for the coordinator\n"
          "  sign PACKAGE -o OUT [--unattended] [--qr [--qr-text]]\n"
          "  sign --bbqr-in -o OUT [--unattended] [--qr [--qr-text]]\n"
          "                       check, confirm, journal, sign (--unattended: hot policy only);\n"
          "                       PACKAGE may be BBQr parts, one a line; --bbqr-in reads them\n"
          "                       from stdin as typed or scanned; --qr shows OUT as a BBQr QR\n"
          "  serve --spool DIR [--once] [--poll-ms 1000]\n"
          "                       the hot wallet's unattended signer: packages from DIR/inbox,\n"
          "                       signed PSBTs to DIR/outbox, refusals to DIR/refused (hot\n"
          "                       policy only; the passphrase from --passphrase-file)\n"
          "  qr show FILE [--qr-text]\n"
          "                       a PSBT file as an animated BBQr QR code\n"
          "  policy show          the policy in force\n"
          "  policy apply FILE SIG...\n"
          "                       a newer policy signed by the administrators in force,\n"
          "                       directly (not inside a package); confirmed by typing yes\n"
          "  journal show [--raw] every entry\n"
          "  journal verify       the hash chain, and the policy files against it\n"
          "\n"
          "CHAIN: bitcoin, testnet, testnet4, signet, regtest. DIR defaults to ~/.kura-cold;\n"
          "the passphrase file may also be given as $KURA_PASSPHRASE_FILE.\n"
          "Exit codes: 0 done, 1 refused, 2 could not run.\n",
          f);
}

/* Parses argv: options anywhere ("--opt VALUE" or "--opt=VALUE"), the
 * command's word(s), positional arguments. Returns the command's index, or
 * -1 having printed why. */
static int parse_args(cold_args *a, int argc, char **argv)
{
    const char *words[2 + COLD_POSITIONAL_MAX];
    size_t nwords = 0;
    unsigned seen = 0;
    int cmd = -1;
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq;
        size_t k, nlen;
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (nwords == sizeof(words) / sizeof(words[0])) {
                cold_fail(COLD_EXIT_CANNOT, "too many arguments");
                return -1;
            }
            words[nwords++] = arg;
            continue;
        }
        eq = strchr(arg, '=');
        nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        for (k = 0; k < sizeof(options) / sizeof(options[0]); k++)
            if (strlen(options[k].name) == nlen && strncmp(options[k].name, arg, nlen) == 0) break;
        if (k == sizeof(options) / sizeof(options[0])) {
            cold_fail(COLD_EXIT_CANNOT, "unknown option %s (kura-cold --help)", arg);
            return -1;
        }
        if (options[k].has_value) {
            const char *v = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (v == NULL) {
                cold_fail(COLD_EXIT_CANNOT, "%s needs a value", options[k].name);
                return -1;
            }
            a->value[options[k].opt] = v;
        } else {
            if (eq != NULL) {
                cold_fail(COLD_EXIT_CANNOT, "%s takes no value", options[k].name);
                return -1;
            }
            a->value[options[k].opt] = "";
        }
        seen |= BIT(options[k].opt);
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        size_t used = commands[c].word2 != NULL ? 2 : 1;
        if (nwords < used || strcmp(words[0], commands[c].word1) != 0 ||
            (commands[c].word2 != NULL && strcmp(words[1], commands[c].word2) != 0))
            continue;
        cmd = (int)c;
        cold_command = commands[c].name;
        if (nwords - used > commands[c].npos) {
            cold_fail(COLD_EXIT_CANNOT, "unexpected argument '%s'", words[used + commands[c].npos]);
            return -1;
        }
        for (size_t p = used; p < nwords; p++) a->pos[a->npos++] = words[p];
        if ((seen & ~(GLOBAL_OPTS | commands[c].opts)) != 0) {
            for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++)
                if ((seen & ~(GLOBAL_OPTS | commands[c].opts)) & BIT(options[k].opt)) {
                    cold_fail(COLD_EXIT_CANNOT, "%s does not apply to this command",
                              options[k].name);
                    break;
                }
            return -1;
        }
        return cmd;
    }
    if (nwords == 0) {
        usage(stderr);
    } else {
        cold_fail(COLD_EXIT_CANNOT, "unknown command '%s%s%s' (kura-cold --help)", words[0],
                  nwords > 1 ? " " : "", nwords > 1 ? words[1] : "");
    }
    return -1;
}

/* The clock; a test build may set it (--now or $KURA_COLD_TEST_NOW). */
static int clock_now(int64_t *now, const cold_args *a)
{
    const char *v = a->value[OPT_NOW];
    *now = (int64_t)time(NULL);
#ifdef KURA_TEST_HOOKS
    if (v == NULL) v = getenv("KURA_COLD_TEST_NOW");
    if (v != NULL) {
        char *end;
        long long t = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || t < 0 || t > KURA_JOURNAL_TIME_MAX) {
            cold_fail(COLD_EXIT_CANNOT, "--now takes unix seconds");
            return -1;
        }
        *now = (int64_t)t;
    }
#else
    if (v != NULL) {
        cold_fail(COLD_EXIT_CANNOT, "--now is accepted only by a test build");
        return -1;
    }
#endif
    if (*now < 0 || *now > KURA_JOURNAL_TIME_MAX) {
        cold_fail(COLD_EXIT_CANNOT, "the system clock is out of range");
        return -1;
    }
    return 0;
}

/* Every symbol of every library bound before main runs. A lazily bound
 * call goes, the first time, through the dynamic linker's trampoline
 * (_dl_runtime_resolve_xsavec), which saves all vector registers on the
 * stack, and those may still hold key material from the last SHA-512 or
 * memcpy: a copy no sodium_memzero can reach (cold_memory found the master
 * chain code left that way). The executable is linked -z now; its libraries
 * are not all (Debian's libsecp256k1 is lazy), so a command that handles
 * secrets re-executes itself once with LD_BIND_NOW, before it holds any. If
 * that cannot be done it runs on as it is. */
static void bind_now(char **argv)
{
#if defined(__linux__)
    const char *v = getenv("LD_BIND_NOW");
    if (v != NULL && v[0] != '\0') return;
    if (setenv("LD_BIND_NOW", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("LD_BIND_NOW");
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    cold_args args;
    cold_env env;
    char dir[4096];
    struct rlimit none = {0, 0};
    int cmd, rc;

    /* No core dumps: a crash must not write the key to disk. Outside the
     * test build, also no ptrace or /proc/PID/mem access by other processes
     * of the same user (the test build's memory scan needs its parent to
     * read the memory). */
    setrlimit(RLIMIT_CORE, &none);
#if defined(__linux__) && !defined(KURA_TEST_HOOKS)
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return COLD_EXIT_OK;
    }
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("kura-cold " COLD_VERSION "%s\n", cold_test_hooks() ? " (test build: hooks)" : "");
        return COLD_EXIT_OK;
    }
    cmd = parse_args(&args, argc, argv);
    if (cmd < 0) return COLD_EXIT_CANNOT;
    if (commands[cmd].secrets) bind_now(argv);

    memset(&env, 0, sizeof(env));
    env.args = &args;
    env.dir = args.value[OPT_DIR];
    if (env.dir == NULL) {
        const char *home = getenv("HOME");
        if (home == NULL || home[0] == '\0')
            return cold_fail(COLD_EXIT_CANNOT, "no --dir and no $HOME");
        if (snprintf(dir, sizeof(dir), "%s/.kura-cold", home) >= (int)sizeof(dir))
            return cold_fail(COLD_EXIT_CANNOT, "$HOME is too long");
        env.dir = dir;
    }
    env.passphrase_file = args.value[OPT_PASSPHRASE_FILE];
    if (env.passphrase_file == NULL) {
        const char *pf = getenv("KURA_PASSPHRASE_FILE");
        if (pf != NULL && pf[0] != '\0') env.passphrase_file = pf;
    }
    if (clock_now(&env.now, &args) != 0) return COLD_EXIT_CANNOT;

    env.ctx = kura_ctx_new();
    if (env.ctx == NULL)
        return cold_fail(COLD_EXIT_CANNOT, "cannot set up libkura (no memory or no randomness)");
    rc = commands[cmd].run(&env);
    kura_ctx_free(env.ctx);
    fflush(stdout);
    /* The memory test's point: everything is freed and wiped. */
    cold_hook("exit");
    return rc;
}
