/*
 * programs/kura-cold/cold.h — the pieces of kura-cold, the offline signer
 * (docs/kura-cold.md), shared between its source files. Not a library API.
 *
 *   main.c      arguments, dispatch, usage, exit codes
 *   util.c      messages, files (atomic writes), locked buffers, prompts,
 *               test hooks
 *   state.c     the data directory: wallet file, journal snapshot, policy
 *               files checked against the journal, the signer's state and
 *               the journal callbacks of the check
 *   seed.c      init, restore, xpub (the keystore)
 *   ceremony.c  ceremony, export
 *   sign.c      sign
 *   show.c      policy show, journal show, journal verify
 *   apply.c     policy apply
 *   bsms.c      bsms key, the ceremony's --bsms (BIP129)
 *   qr.c        qr show; BBQr in and out (sign --qr, sign --bbqr-in)
 *   serve.c     serve --spool DIR: the hot wallet's unattended signer
 */
#ifndef KURA_COLD_H
#define KURA_COLD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kura/check.h"
#include "kura/common.h"
#include "kura/descriptor.h"
#include "kura/intent.h"
#include "kura/journal.h"
#include "kura/keys.h"
#include "kura/keystore.h"
#include "kura/policy.h"

/* Exit codes (STYLE "Errors a person sees"): refused by the check, by the
 * operator or by the signer's own rules, versus could not run at all. */
#define COLD_EXIT_OK 0
#define COLD_EXIT_REFUSED 1
#define COLD_EXIT_CANNOT 2

/* Files in the data directory. */
#define COLD_FILE_KEYSTORE "keystore"
#define COLD_FILE_JOURNAL "journal"
#define COLD_FILE_WALLET "wallet"
#define COLD_FILE_POLICY "policy"
#define COLD_DIR_POLICIES "policies"
#define COLD_FILE_DERIVATIONS "derivations" /* the wallet's derivation cache */

/* Indexes per branch in the derivation cache the ceremony builds: every
 * input and change output below this is checked without an EC
 * multiplication; those above are derived, as without a cache. */
#define COLD_CACHE_COUNT 1000u

/* How far an intent's `created` may lie in the future of the signer's clock. */
#define COLD_MAX_CLOCK_SKEW 600
/* The change gap: change indexes up to the highest one this signer's journal
 * has seen signed ("change" entries; none yet counts as -1) plus this many
 * are accepted. A wallet restored with a gap limit of COLD_CHANGE_GAP on the
 * change branch (Bitcoin Core's keypool default is 1000) finds every change
 * output; one further out would be invisible to it. */
#define COLD_CHANGE_GAP 1000u

/* Longest passphrase and longest typed line. */
#define COLD_PASSPHRASE_MAX 1024
#define COLD_LINE_MAX 1024
#define COLD_PASSPHRASE_MIN 8

/* ---- options ---- */

enum cold_opt {
    OPT_DIR,
    OPT_PASSPHRASE_FILE,
    OPT_NOW,
    OPT_PATH,
    OPT_DESCRIPTOR,
    OPT_DESCRIPTOR_FILE,
    OPT_WALLET,
    OPT_POLICY,
    OPT_OUTPUT,
    OPT_WORDS,
    OPT_NETWORK,
    OPT_UNATTENDED,
    OPT_EXTRA_ENTROPY,
    OPT_RAW,
    OPT_BSMS,
    OPT_QR,
    OPT_QR_TEXT,
    OPT_BBQR_IN,
    OPT_SPOOL,
    OPT_ONCE,
    OPT_POLL_MS,
    OPT_COUNT_
};

/* FILE and up to KURA_PACKAGE_POLICY_SIGNATURES_MAX signatures (policy apply). */
#define COLD_POSITIONAL_MAX (1 + KURA_PACKAGE_POLICY_SIGNATURES_MAX)

/* The command line, parsed. */
typedef struct cold_args {
    const char *value[OPT_COUNT_];  /* an option's value, "" for a flag, NULL when absent */
    const char *pos[COLD_POSITIONAL_MAX]; /* positional arguments after the command word(s) */
    size_t npos;
} cold_args;

/* What every command gets. */
typedef struct cold_env {
    kura_ctx *ctx;
    const char *dir;             /* the data directory */
    const char *passphrase_file; /* --passphrase-file, else $KURA_PASSPHRASE_FILE, else NULL */
    int64_t now;                 /* unix seconds: the clock, or --now in a test build */
    const cold_args *args;
    /* serve: the keystore, opened once at start and held in locked memory;
     * sign uses it instead of asking for the passphrase. NULL otherwise. */
    const kura_keystore_secret *held_secret;
    const kura_keystore_info *held_info;
} cold_env;

/* ---- util.c ---- */

/* The command word(s) in messages: "sign", "journal verify". */
extern const char *cold_command;

/* Prints "kura-cold: <command>: <message>" to stderr and returns code. */
int cold_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The <message> of the last cold_fail ("" before any): serve writes it into
 * the refusal file. Never holds a secret (no message does). */
const char *cold_last_failure(void);
/* The same line, for a note that is not a failure. */
void cold_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dir/name into out (PATH_MAX). Returns 0, or -1 when it does not fit. */
int cold_path(char *out, size_t out_len, const char *dir, const char *name);

/* Reads the whole regular file at path (at most max bytes) into a new
 * malloc'd buffer, NUL-terminated (the NUL not counted). Returns 0, or -1
 * with errno (ENOENT, EFBIG for over max, ...). */
int cold_read_file(uint8_t **out, size_t *len, const char *path, size_t max);

/* Writes data to path atomically: a temporary file beside it (O_EXCL, mode
 * `mode`), written, fsynced, then renamed over path (replace != 0) or linked
 * to it without replacing anything (replace == 0, EEXIST if it exists), and
 * the directory fsynced. Returns 0, or -1 with errno. */
int cold_write_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode, int replace);

/* A temporary file created next to `path`, to be committed later: lets the
 * signer create the output's file (and learn that it can) before the journal
 * records a signature, and write and link it after. */
typedef struct cold_tmpfile {
    int fd;
    char tmp[4096];
    char path[4096];
} cold_tmpfile;
int cold_tmpfile_open(cold_tmpfile *t, const char *path, mode_t mode);
/* Writes, fsyncs and links to t->path without replacing (EEXIST), fsyncs the
 * directory. Closes the file either way. Returns 0 or -1 with errno. */
int cold_tmpfile_commit(cold_tmpfile *t, const uint8_t *data, size_t len);
/* Closes and removes an uncommitted temporary. Safe to call twice. */
void cold_tmpfile_discard(cold_tmpfile *t);

/* fsync of the directory holding path. Returns 0 or -1 with errno. */
int cold_sync_dir(const char *path);

/* Creates dir (mode 0700) if it does not exist. Returns 0 or -1 with errno. */
int cold_mkdir(const char *dir);

/* A buffer in locked memory (sodium_malloc: mlock, guard pages) for
 * secrets: passphrases, words, entropy. Wiped when freed. */
typedef struct cold_secret {
    uint8_t *p;
    size_t len;
    size_t cap;
} cold_secret;
cold_secret *cold_secret_new(size_t cap);
void cold_secret_free(cold_secret *s);

/* Reads the passphrase: from env->passphrase_file (a regular file that group
 * and others cannot read; one trailing newline is dropped), or else from the
 * terminal with echo off, typed twice when `twice`. Returns COLD_EXIT_OK and
 * *out, or prints why and returns COLD_EXIT_CANNOT. `min_len` > 0 refuses a
 * shorter passphrase (for new keystores). */
int cold_read_passphrase(const cold_env *env, cold_secret **out, int twice, size_t min_len);

/* Reads one line from fd byte by byte (no stdio buffering, so no copy is
 * left behind and nothing beyond the line is consumed) into buf[0..cap),
 * NUL-terminated, without its LF (and CR). Returns 1 for a line, 0 at end of
 * input with nothing read, -1 for a read error or a line that does not fit. */
int cold_read_line(int fd, char *buf, size_t cap, size_t *len);

/* Asks `question` on stdout and reads the answer from stdin: 1 when it is
 * exactly "yes", 0 otherwise (including end of input). */
int cold_ask_yes(const char *question);

/* Writes all of data to fd (retrying short writes). Returns 0 or -1. */
int cold_write_all(int fd, const void *data, size_t len);

/* Chain names: "bitcoin", "testnet", "testnet4", "signet", "regtest". */
int cold_parse_chain(kura_intent_chain *out, const char *s);

/* Lower-case hex of 32 bytes into out[65]. */
void cold_hex32(char out[65], const uint8_t h[32]);
/* "YYYY-MM-DDTHH:MM:SSZ", or "?" when out of range. */
void cold_time(char out[21], int64_t t);

/* The KDF cost for a new keystore: the defaults; in a test build,
 * KURA_COLD_TEST_KDF=min gives libsodium's minimum. */
void cold_kdf(kura_keystore_kdf *out);

/* Named points where a test build may stop (SIGSTOP) or die (SIGKILL) on
 * request: KURA_COLD_TEST_STOP=<name>, KURA_COLD_TEST_CRASH=<name>. A no-op
 * in other builds. */
void cold_hook(const char *name);
/* 1 in a test build. */
int cold_test_hooks(void);

/* ---- state.c ---- */

/* A policy the journal records as accepted, with its text from
 * policies/<version>. */
typedef struct cold_policy_rec {
    uint64_t version;
    uint8_t hash[32];
    int64_t accepted;      /* the policy entry's time */
    uint64_t seq;          /* the policy entry's number */
    kura_policy *policy;   /* parsed text (NULL until loaded) */
    uint8_t *text;         /* exact bytes (NULL until loaded) */
    size_t text_len;
} cold_policy_rec;

/* A signed entry's facts that the state needs: the intent id (replay by id). */
typedef struct cold_journal_snap {
    uint64_t count;                 /* complete entries */
    uint8_t head[32];               /* hash of the last one */
    int64_t last_time;
    uint64_t n_signed, n_refused, n_policy, n_recovered;
    char (*ids)[KURA_JOURNAL_INTENT_ID_LEN + 1]; /* signed intents' ids, sorted */
    size_t id_count, id_cap;
    cold_policy_rec *policies;      /* policy entries, in journal order */
    size_t policy_count, policy_cap;
    int64_t change_max;             /* the highest change index journalled, -1 for none */
    size_t torn;                    /* bytes after the last LF */
    int damaged;                    /* a line did not parse (details: kura_journal_*) */
} cold_journal_snap;

/* The signer's own state, from its data directory. */
typedef struct cold_state {
    char name[KURA_INTENT_WALLET_NAME_MAX + 1]; /* wallet name */
    kura_intent_chain chain;
    kura_network network;
    char *descriptor_text;          /* canonical public descriptor with checksum */
    kura_descriptor *wallet;
    char checksum[KURA_DESCRIPTOR_CHECKSUM_LEN + 1];
    char derivations_sha256[65];    /* the wallet file's anchor of the derivation cache,
                                       "" for a wallet file of format 1 (no cache) */
    kura_descriptor_cache *cache;   /* the derivation cache, checked; NULL without one */
    cold_journal_snap snap;
    kura_journal *journal;          /* open for appending (sign), else NULL */
    cold_policy_rec *in_force;      /* the last entry of snap.policies (the newest policy) */
    kura_policy *rules;             /* the rules in force now: changes that widen what can
                                       be spent wait (kura_policy_in_force over snap.policies) */
    int64_t rules_loosen_at;        /* when the newest policy's loosening takes effect */
    int policy_file_behind;         /* the policy file holds the version before (an
                                       interrupted update; sign completes it) */
} cold_state;

/* Reads the wallet file (name, chain, descriptor). Returns an exit code,
 * having printed why on failure. */
int cold_wallet_load(const cold_env *env, cold_state *st);

/* Wallet file text for name/chain/descriptor and the SHA-256 of the
 * derivation cache file into a new malloc'd string. */
char *cold_wallet_text(const char *name, kura_intent_chain chain, const char *descriptor,
                       const uint8_t derivations_sha256[32]);

/* Reads the journal file into *snap without locking it. Returns 0, or -1
 * with errno (ENOENT when there is none). */
int cold_journal_snapshot(cold_journal_snap *snap, const char *path);
void cold_journal_snap_free(cold_journal_snap *snap);

/* Loads everything (wallet, journal, policy files) and checks them against
 * each other. for_signing: open the journal for appending (recovering a torn
 * tail) and complete an interrupted policy update; otherwise read only.
 * Returns an exit code, having printed why on failure. */
int cold_state_load(const cold_env *env, cold_state *st, int for_signing);
void cold_state_free(cold_state *st);

/* Fills the check's view of the signer from st (callbacks over st). */
void cold_signer_state(kura_signer_state *out, cold_state *st, int64_t now);

/* Formats the policies/<version> path. */
int cold_policy_archive_path(char *out, size_t out_len, const char *dir, uint64_t version);

/* ---- keystore helpers (seed.c) ---- */

/* Opens the keystore with the passphrase (read as cold_read_passphrase does)
 * and derives the master key into locked memory. Returns an exit code,
 * having printed why on failure; on success *master (free with
 * cold_master_free) and *info. */
int cold_open_master(const cold_env *env, kura_bip32_key **master, kura_keystore_info *info);
void cold_master_free(kura_bip32_key *master);
/* The two halves of cold_open_master, for sign, which keeps the decrypted
 * secret until it wipes everything at once: opens the keystore (*secret:
 * free with kura_keystore_secret_free), and derives the master key from it
 * (checking the keystore's fingerprint). Exit codes as above. */
int cold_open_keystore(const cold_env *env, kura_keystore_secret **secret,
                       kura_keystore_info *info);
int cold_master_from_secret(const cold_env *env, kura_bip32_key **master,
                            const kura_keystore_secret *secret, const kura_keystore_info *info);

/* ---- the commands ---- */

int cold_cmd_init(const cold_env *env);
int cold_cmd_restore(const cold_env *env);
int cold_cmd_xpub(const cold_env *env);
int cold_cmd_ceremony(const cold_env *env);
int cold_cmd_export(const cold_env *env);
int cold_cmd_sign(const cold_env *env);
int cold_cmd_policy_show(const cold_env *env);
int cold_cmd_policy_apply(const cold_env *env);
int cold_cmd_bsms_key(const cold_env *env);
int cold_cmd_serve(const cold_env *env);

/* ---- bsms.c ---- */

/* The ceremony's --bsms FILE with the key record files as positional
 * arguments: verifies every record and the descriptor record against all of
 * them (kura_bsms_*), prints what the people compare, and returns the
 * wallet's canonical descriptor text in *desc_text (free with
 * kura_descriptor_string_free). Returns an exit code, having printed why. */
int cold_bsms_descriptor(const cold_env *env, char **desc_text, kura_network network);
int cold_cmd_journal_show(const cold_env *env);
int cold_cmd_journal_verify(const cold_env *env);
int cold_cmd_qr_show(const cold_env *env);

/* ---- qr.c ---- */

/* Shows data (a binary PSBT) as an animated BBQr QR code on stdout: the
 * parts in turn with a "part I/N" line under each (followed by the part's
 * text when with_text). On a terminal it cycles until Enter; otherwise every
 * part is drawn once. Returns an exit code. */
int cold_show_qr(const uint8_t *data, size_t len, int with_text);

/* Reads a PSBT from BBQr parts, one per line, in any order, repeats
 * allowed: from text[0..text_len) when text is not NULL, else from fd line
 * by line until the series is complete (nothing after the last needed part
 * is read). A refused part is noted on stderr and skipped. *out (free())
 * and *out_len get the PSBT. `source` names the input in messages. Returns
 * COLD_EXIT_OK, or COLD_EXIT_CANNOT having said why (input ended, the
 * series does not decode, not a PSBT). */
int cold_read_bbqr(uint8_t **out, size_t *out_len, int fd, const uint8_t *text, size_t text_len,
                   const char *source);

/* As cold_ask_yes, after parts read by --bbqr-in: lines that are BBQr parts
 * (a scanner still scanning) are skipped, the first other line answers. */
int cold_ask_yes_after_bbqr(const char *question);

#endif /* KURA_COLD_H */
