/* src/intent/intent.c — the transfer intent: strict parser, canonical writer,
 * hash and the renderer people read before they approve. The grammar is in
 * docs/intent-format.md; the line rules are in text.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent/text.h"
#include "kura/hash.h"
#include "kura/intent.h"

#define INTENT_HEADER "kura-intent 1"

/* The fields, in the one order they may appear. */
static const kura_text_field INTENT_FIELDS[] = {
    {"id", false},        {"network", false}, {"wallet", false}, {"policy", false},
    {"initiator", false},
    {"created", false}, {"expires", false}, {"output", true},  {"max-fee", false},
};
#define INTENT_FIELD_COUNT (sizeof(INTENT_FIELDS) / sizeof(INTENT_FIELDS[0]))

const char *kura_intent_chain_name(kura_intent_chain chain)
{
    switch (chain) {
    case KURA_CHAIN_BITCOIN: return "bitcoin";
    case KURA_CHAIN_TESTNET: return "testnet";
    case KURA_CHAIN_TESTNET4: return "testnet4";
    case KURA_CHAIN_SIGNET: return "signet";
    case KURA_CHAIN_REGTEST: return "regtest";
    }
    return NULL;
}

int kura_intent_chain_network(kura_network *network, kura_intent_chain chain)
{
    if (network == NULL) return KURA_EINVAL;
    *network = KURA_NETWORK_MAINNET;
    switch (chain) {
    case KURA_CHAIN_BITCOIN: return KURA_OK;
    case KURA_CHAIN_TESTNET:
    case KURA_CHAIN_TESTNET4:
    case KURA_CHAIN_SIGNET: *network = KURA_NETWORK_TESTNET; return KURA_OK;
    case KURA_CHAIN_REGTEST: *network = KURA_NETWORK_REGTEST; return KURA_OK;
    }
    return KURA_EINVAL;
}

kura_intent *kura_intent_new(void)
{
    return calloc(1, sizeof(kura_intent));
}

void kura_intent_free(kura_intent *intent)
{
    if (intent == NULL) return;
    free(intent->outputs);
    free(intent);
}

/* Appends a checked output, growing the array by doubling (overflow-checked). */
static int append_output(kura_intent *intent, const kura_intent_output *o)
{
    if (intent->output_count == intent->output_cap) {
        size_t cap = intent->output_cap == 0 ? 4 : intent->output_cap, bytes;
        kura_intent_output *grown;
        if (intent->output_cap != 0 && !kura_size_mul(cap, 2, &cap)) return KURA_ENOMEM;
        if (!kura_size_mul(cap, sizeof(*grown), &bytes)) return KURA_ENOMEM;
        grown = realloc(intent->outputs, bytes);
        if (grown == NULL) return KURA_ENOMEM;
        intent->outputs = grown;
        intent->output_cap = cap;
    }
    intent->outputs[intent->output_count++] = *o;
    return KURA_OK;
}

uint64_t kura_intent_total(const kura_intent *intent)
{
    uint64_t total = 0;
    if (intent == NULL) return 0;
    for (size_t i = 0; i < intent->output_count; i++) {
        if (intent->outputs[i].amount > UINT64_MAX - total) return UINT64_MAX;
        total += intent->outputs[i].amount;
    }
    return total;
}

/* Checks one output's address, amount and label (label_len 0: none) and
 * fills *o. `where` prefixes the message ("intent: line 8: output 1"). */
static int check_output(kura_intent_output *o, kura_intent_chain chain, const char *address,
                        size_t address_len, uint64_t amount, const char *label, size_t label_len,
                        const char *where, kura_error *err)
{
    char why[KURA_TEXT_WHY_MAX];
    memset(o, 0, sizeof(*o));
    if (!kura_intent_text_address(o->address, o->script, &o->script_len, address, address_len,
                                  chain, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "%s: %s", where, why);
    if (amount == 0)
        return kura_fail(err, KURA_EDATA, "%s: amount must be at least 1 satoshi", where);
    if (amount > KURA_INTENT_MAX_AMOUNT)
        return kura_fail(err, KURA_EDATA, "%s: amount above the limit of %" PRIu64 " satoshis",
                         where, (uint64_t)KURA_INTENT_MAX_AMOUNT);
    o->amount = amount;
    if (label_len > 0) {
        if (!kura_intent_text_label(label, label_len, why, sizeof(why))) {
            memset(o, 0, sizeof(*o));
            return kura_fail(err, KURA_EDATA, "%s: %s", where, why);
        }
        kura_intent_text_copy(o->label, sizeof(o->label), label, label_len);
    }
    return KURA_OK;
}

int kura_intent_add_output(kura_intent *intent, const char *address, uint64_t amount,
                           const char *label, kura_error *err)
{
    kura_intent_output o;
    char where[48];
    uint64_t total;
    int rc;
    if (intent == NULL || address == NULL)
        return kura_fail(err, KURA_EINVAL, "intent: add_output: NULL argument");
    if (intent->output_count >= KURA_INTENT_OUTPUTS_MAX)
        return kura_fail(err, KURA_ERANGE, "intent: more than %d outputs",
                         KURA_INTENT_OUTPUTS_MAX);
    snprintf(where, sizeof(where), "intent: output %zu", intent->output_count + 1);
    rc = check_output(&o, intent->chain, address, strlen(address), amount, label,
                      label != NULL ? strlen(label) : 0, where, err);
    if (rc != KURA_OK) return rc;
    total = kura_intent_total(intent);
    if (total > KURA_INTENT_MAX_AMOUNT || amount > KURA_INTENT_MAX_AMOUNT - total)
        return kura_fail(err, KURA_EDATA, "%s: total of the outputs above %" PRIu64 " satoshis",
                         where, (uint64_t)KURA_INTENT_MAX_AMOUNT);
    rc = append_output(intent, &o);
    if (rc != KURA_OK) return kura_fail(err, rc, "intent: out of memory");
    return KURA_OK;
}

/* ---- parsing ---- */

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    }
    return true;
}

/* Reads one "output: <address> <amount>[ <label>]" value. */
static int parse_output(kura_intent *intent, kura_text *t, const char *v, size_t n,
                        uint64_t *total, kura_error *err)
{
    const char *address, *amount_s;
    size_t address_len, amount_len;
    uint64_t amount;
    kura_intent_output o;
    char why[KURA_TEXT_WHY_MAX], where[64];
    size_t index = intent->output_count + 1;
    int rc;

    snprintf(where, sizeof(where), "intent: line %zu: output %zu", t->line, index);
    if (index > KURA_INTENT_OUTPUTS_MAX)
        return kura_fail(err, KURA_ERANGE, "intent: line %zu: more than %d outputs", t->line,
                         KURA_INTENT_OUTPUTS_MAX);
    if (!kura_intent_text_word(&v, &n, &address, &address_len) ||
        !kura_intent_text_word(&v, &n, &amount_s, &amount_len))
        return kura_fail(err, KURA_EDATA, "%s: expected '<address> <amount>[ <label>]'", where);
    if (!kura_intent_text_uint(&amount, amount_s, amount_len, 1, KURA_INTENT_MAX_AMOUNT, why,
                               sizeof(why)))
        return kura_fail(err, KURA_EDATA, "%s: amount: %s", where, why);
    rc = check_output(&o, intent->chain, address, address_len, amount, v, n, where, err);
    if (rc != KURA_OK) return rc;
    /* Each amount is at most MAX_MONEY but their sum could pass it (or, with
     * enough outputs, wrap a 64-bit counter); no real transfer can. */
    if (amount > KURA_INTENT_MAX_AMOUNT - *total)
        return kura_fail(err, KURA_EDATA, "%s: total of the outputs above %" PRIu64 " satoshis",
                         where, (uint64_t)KURA_INTENT_MAX_AMOUNT);
    *total += amount;
    rc = append_output(intent, &o);
    if (rc != KURA_OK) return kura_fail(err, rc, "intent: out of memory");
    return KURA_OK;
}

static int parse_into(kura_intent *intent, const uint8_t *text, size_t len, kura_error *err)
{
    kura_text t;
    const char *v;
    size_t n;
    char why[KURA_TEXT_WHY_MAX];
    kura_error sub;
    uint64_t total = 0;
    int rc;

    rc = kura_intent_text_open(&t, "intent", INTENT_FIELDS, INTENT_FIELD_COUNT, text, len,
                               KURA_INTENT_TEXT_MAX, INTENT_HEADER, err);
    if (rc != KURA_OK) return rc;

    if ((rc = kura_intent_text_field(&t, &v, &n, "id", err)) != KURA_OK) return rc;
    /* Lower case only, so the id — like everything else — has one spelling. */
    if (n != KURA_INTENT_ID_LEN || !is_lower_hex(v, n))
        return kura_fail(err, KURA_EDATA, "intent: line %zu: id must be %d lower-case hex chars",
                         t.line, KURA_INTENT_ID_LEN);
    kura_intent_text_copy(intent->id, sizeof(intent->id), v, n);

    if ((rc = kura_intent_text_field(&t, &v, &n, "network", err)) != KURA_OK) return rc;
    if (!kura_intent_text_chain(&intent->chain, v, n, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: line %zu: %s", t.line, why);

    if ((rc = kura_intent_text_field(&t, &v, &n, "wallet", err)) != KURA_OK) return rc;
    if (!kura_intent_text_wallet(&intent->wallet, v, n, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: line %zu: wallet: %s", t.line, why);

    /* The policy version the approvers saw: a signer that is behind it
     * refuses the intent unless the package brings that policy, so a
     * coordinator cannot withhold an update (say, a revoked approver key). */
    if ((rc = kura_intent_text_field(&t, &v, &n, "policy", err)) != KURA_OK) return rc;
    if (!kura_intent_text_uint(&intent->policy_version, v, n, 1, KURA_INTENT_POLICY_VERSION_MAX,
                               why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: line %zu: policy: %s", t.line, why);

    if ((rc = kura_intent_text_field(&t, &v, &n, "initiator", err)) != KURA_OK) return rc;
    if (!kura_intent_text_name(v, n, KURA_INTENT_NAME_MAX, "._-", why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: line %zu: initiator: %s", t.line, why);
    kura_intent_text_copy(intent->initiator, sizeof(intent->initiator), v, n);

    if ((rc = kura_intent_text_field(&t, &v, &n, "created", err)) != KURA_OK) return rc;
    if (kura_intent_time_parse(&intent->created, v, n, &sub) != KURA_OK)
        return kura_fail(err, KURA_EDATA, "intent: line %zu: created: %s", t.line, sub.message);

    if ((rc = kura_intent_text_field(&t, &v, &n, "expires", err)) != KURA_OK) return rc;
    if (kura_intent_time_parse(&intent->expires, v, n, &sub) != KURA_OK)
        return kura_fail(err, KURA_EDATA, "intent: line %zu: expires: %s", t.line, sub.message);
    if (intent->expires <= intent->created)
        return kura_fail(err, KURA_EDATA, "intent: line %zu: expires must be later than created",
                         t.line);

    do {
        if ((rc = kura_intent_text_field(&t, &v, &n, "output", err)) != KURA_OK) return rc;
        if ((rc = parse_output(intent, &t, v, n, &total, err)) != KURA_OK) return rc;
    } while (kura_intent_text_next_is(&t, "output"));

    if ((rc = kura_intent_text_field(&t, &v, &n, "max-fee", err)) != KURA_OK) return rc;
    if (!kura_intent_text_uint(&intent->max_fee, v, n, 1, KURA_INTENT_MAX_AMOUNT, why,
                               sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: line %zu: max-fee: %s", t.line, why);

    return kura_intent_text_end(&t, err);
}

int kura_intent_parse(kura_intent **out, const uint8_t *text, size_t len, kura_error *err)
{
    kura_intent *intent;
    int rc;
    if (out == NULL || (text == NULL && len > 0))
        return kura_fail(err, KURA_EINVAL, "intent: parse: NULL argument");
    *out = NULL;
    intent = kura_intent_new();
    if (intent == NULL) return kura_fail(err, KURA_ENOMEM, "intent: out of memory");
    rc = parse_into(intent, text, len, err);
    if (rc != KURA_OK) {
        kura_intent_free(intent);
        return rc;
    }
    *out = intent;
    return KURA_OK;
}

/* ---- writing ---- */

static bool put_str(kura_buf *b, const char *s)
{
    return kura_buf_put(b, s, strlen(s));
}

static bool put_u64(kura_buf *b, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    return put_str(b, num);
}

/* Checks every field of a struct the caller filled, with the parser's rules,
 * so the writer refuses rather than emits a text nobody may sign. */
static int check_struct(const kura_intent *intent, kura_error *err)
{
    char why[KURA_TEXT_WHY_MAX], where[48], stamp[24];
    kura_intent_wallet wallet;
    kura_intent_output o;
    uint64_t total = 0;
    size_t wallet_len;
    char wallet_text[KURA_INTENT_WALLET_NAME_MAX + KURA_INTENT_CHECKSUM_LEN + 3];

    if (!kura_intent_text_terminated(intent->id, sizeof(intent->id)) ||
        strlen(intent->id) != KURA_INTENT_ID_LEN || !is_lower_hex(intent->id, KURA_INTENT_ID_LEN))
        return kura_fail(err, KURA_EDATA, "intent: id must be %d lower-case hex chars",
                         KURA_INTENT_ID_LEN);
    if (kura_intent_chain_name(intent->chain) == NULL)
        return kura_fail(err, KURA_EDATA, "intent: unknown network");
    if (!kura_intent_text_terminated(intent->wallet.name, sizeof(intent->wallet.name)) ||
        !kura_intent_text_terminated(intent->wallet.checksum, sizeof(intent->wallet.checksum)))
        return kura_fail(err, KURA_EDATA, "intent: wallet: name or checksum not terminated");
    wallet_len = (size_t)snprintf(wallet_text, sizeof(wallet_text), "%s #%s", intent->wallet.name,
                                  intent->wallet.checksum);
    if (!kura_intent_text_wallet(&wallet, wallet_text, wallet_len, why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: wallet: %s", why);
    if (intent->policy_version < 1 || intent->policy_version > KURA_INTENT_POLICY_VERSION_MAX)
        return kura_fail(err, KURA_EDATA, "intent: policy: version must be 1..%" PRIu64,
                         (uint64_t)KURA_INTENT_POLICY_VERSION_MAX);
    if (!kura_intent_text_terminated(intent->initiator, sizeof(intent->initiator)) ||
        !kura_intent_text_name(intent->initiator, strlen(intent->initiator), KURA_INTENT_NAME_MAX,
                               "._-", why, sizeof(why)))
        return kura_fail(err, KURA_EDATA, "intent: initiator: %s",
                         kura_intent_text_terminated(intent->initiator, sizeof(intent->initiator))
                             ? why
                             : "not terminated");
    if (kura_intent_time_format(stamp, sizeof(stamp), intent->created) != KURA_OK)
        return kura_fail(err, KURA_EDATA, "intent: created: time out of range");
    if (kura_intent_time_format(stamp, sizeof(stamp), intent->expires) != KURA_OK)
        return kura_fail(err, KURA_EDATA, "intent: expires: time out of range");
    if (intent->expires <= intent->created)
        return kura_fail(err, KURA_EDATA, "intent: expires must be later than created");
    if (intent->output_count == 0 || intent->outputs == NULL)
        return kura_fail(err, KURA_EDATA, "intent: no outputs");
    if (intent->output_count > KURA_INTENT_OUTPUTS_MAX)
        return kura_fail(err, KURA_ERANGE, "intent: more than %d outputs",
                         KURA_INTENT_OUTPUTS_MAX);
    for (size_t i = 0; i < intent->output_count; i++) {
        const kura_intent_output *given = &intent->outputs[i];
        int rc;
        snprintf(where, sizeof(where), "intent: output %zu", i + 1);
        if (!kura_intent_text_terminated(given->address, sizeof(given->address)) ||
            !kura_intent_text_terminated(given->label, sizeof(given->label)))
            return kura_fail(err, KURA_EDATA, "%s: address or label not terminated", where);
        rc = check_output(&o, intent->chain, given->address, strlen(given->address),
                          given->amount, given->label, strlen(given->label), where, err);
        if (rc != KURA_OK) return rc;
        /* The signer matches transaction outputs by script: a script that
         * is not the address's would make the text say one thing and the
         * check test another. */
        if (o.script_len != given->script_len ||
            memcmp(o.script, given->script, o.script_len) != 0)
            return kura_fail(err, KURA_EINVAL, "%s: script does not match the address", where);
        if (given->amount > KURA_INTENT_MAX_AMOUNT - total)
            return kura_fail(err, KURA_EDATA,
                             "%s: total of the outputs above %" PRIu64 " satoshis", where,
                             (uint64_t)KURA_INTENT_MAX_AMOUNT);
        total += given->amount;
    }
    if (intent->max_fee == 0 || intent->max_fee > KURA_INTENT_MAX_AMOUNT)
        return kura_fail(err, KURA_EDATA, "intent: max-fee must be 1..%" PRIu64 " satoshis",
                         (uint64_t)KURA_INTENT_MAX_AMOUNT);
    return KURA_OK;
}

static void emit(kura_buf *b, const kura_intent *intent)
{
    char stamp[24];
    put_str(b, INTENT_HEADER "\nid: ");
    put_str(b, intent->id);
    put_str(b, "\nnetwork: ");
    put_str(b, kura_intent_chain_name(intent->chain));
    put_str(b, "\nwallet: ");
    put_str(b, intent->wallet.name);
    put_str(b, " #");
    put_str(b, intent->wallet.checksum);
    put_str(b, "\npolicy: ");
    put_u64(b, intent->policy_version);
    put_str(b, "\ninitiator: ");
    put_str(b, intent->initiator);
    (void)kura_intent_time_format(stamp, sizeof(stamp), intent->created);
    put_str(b, "\ncreated: ");
    put_str(b, stamp);
    (void)kura_intent_time_format(stamp, sizeof(stamp), intent->expires);
    put_str(b, "\nexpires: ");
    put_str(b, stamp);
    put_str(b, "\n");
    for (size_t i = 0; i < intent->output_count; i++) {
        const kura_intent_output *o = &intent->outputs[i];
        put_str(b, "output: ");
        put_str(b, o->address);
        put_str(b, " ");
        put_u64(b, o->amount);
        if (o->label[0] != '\0') {
            put_str(b, " ");
            put_str(b, o->label);
        }
        put_str(b, "\n");
    }
    put_str(b, "max-fee: ");
    put_u64(b, intent->max_fee);
    put_str(b, "\n");
}

int kura_intent_write(char **out, size_t *out_len, const kura_intent *intent, kura_error *err)
{
    kura_buf b;
    kura_intent *back = NULL;
    kura_error sub;
    size_t len;
    int rc;
    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || intent == NULL)
        return kura_fail(err, KURA_EINVAL, "intent: write: NULL argument");
    rc = check_struct(intent, err);
    if (rc != KURA_OK) return rc;
    kura_buf_init(&b);
    emit(&b, intent);
    if (b.failed) {
        kura_buf_free(&b);
        return kura_fail(err, KURA_ENOMEM, "intent: out of memory");
    }
    /* Read the text back: the writer's promise (parse(write(s)) == s) is
     * then checked on every call, not only in tests. It also applies the
     * size limit. */
    rc = kura_intent_parse(&back, b.data, b.len, &sub);
    if (rc != KURA_OK || !kura_intent_equal(back, intent)) {
        kura_intent_free(back);
        kura_buf_free(&b);
        if (rc == KURA_ENOMEM) return kura_fail(err, rc, "intent: out of memory");
        if (rc != KURA_OK) return kura_fail(err, rc, "%s", sub.message);
        return kura_fail(err, KURA_EINVAL, "intent: write: the text does not read back as the "
                                           "same intent");
    }
    kura_intent_free(back);
    if (!kura_buf_put_u8(&b, 0)) {
        kura_buf_free(&b);
        return kura_fail(err, KURA_ENOMEM, "intent: out of memory");
    }
    *out = (char *)kura_buf_take(&b, &len);
    if (*out == NULL) return kura_fail(err, KURA_ENOMEM, "intent: out of memory");
    *out_len = len - 1;
    return KURA_OK;
}

void kura_intent_hash(uint8_t out[32], const uint8_t *text, size_t len)
{
    kura_sha256(out, text, len);
}

/* Bounded compare: the structs may come from a caller who did not terminate
 * every array. */
#define SAME(x, y) (strncmp((x), (y), sizeof(x)) == 0)

int kura_intent_equal(const kura_intent *a, const kura_intent *b)
{
    if (a == NULL || b == NULL) return 0;
    if (!SAME(a->id, b->id) || a->chain != b->chain || !SAME(a->wallet.name, b->wallet.name) ||
        !SAME(a->wallet.checksum, b->wallet.checksum) || a->policy_version != b->policy_version ||
        !SAME(a->initiator, b->initiator) ||
        a->created != b->created || a->expires != b->expires || a->max_fee != b->max_fee ||
        a->output_count != b->output_count)
        return 0;
    for (size_t i = 0; i < a->output_count; i++) {
        const kura_intent_output *x = &a->outputs[i], *y = &b->outputs[i];
        if (!SAME(x->address, y->address) || x->amount != y->amount || !SAME(x->label, y->label) ||
            x->script_len != y->script_len || x->script_len > sizeof(x->script) ||
            memcmp(x->script, y->script, x->script_len) != 0)
            return 0;
    }
    return 1;
}

/* ---- rendering for people ---- */

static void put_btc(kura_buf *b, uint64_t sats)
{
    char s[64];
    snprintf(s, sizeof(s), "%" PRIu64 ".%08" PRIu64 " BTC (%" PRIu64 " sats)", sats / 100000000u,
             sats % 100000000u, sats);
    put_str(b, s);
}

/* Copies a label from the lookup (which the caller supplies, so it is not
 * trusted to be clean) showing anything outside printable ASCII as '?',
 * so it cannot inject terminal escapes into what an approver reads. */
static void put_shown(kura_buf *b, const char *s)
{
    for (size_t i = 0; s[i] != '\0' && i < 256; i++) {
        uint8_t c = (uint8_t)s[i];
        kura_buf_put_u8(b, c >= 0x20 && c <= 0x7e ? c : (uint8_t)'?');
    }
}

int kura_intent_render(char **out, size_t *out_len, const kura_intent *intent,
                       kura_intent_allowlist_fn lookup, void *lookup_arg, kura_error *err)
{
    char *canonical = NULL, stamp[24], line[128], hex[65];
    size_t canonical_len = 0, len;
    uint8_t hash[32];
    uint64_t total;
    kura_buf b;
    int rc;

    if (out != NULL) *out = NULL;
    if (out_len != NULL) *out_len = 0;
    if (out == NULL || out_len == NULL || intent == NULL)
        return kura_fail(err, KURA_EINVAL, "intent: render: NULL argument");
    /* Only an intent that has a canonical text is shown: the hash printed at
     * the end is what the approver's signature will cover. */
    rc = kura_intent_write(&canonical, &canonical_len, intent, err);
    if (rc != KURA_OK) return rc;
    kura_intent_hash(hash, (const uint8_t *)canonical, canonical_len);
    free(canonical);
    for (size_t i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    total = kura_intent_total(intent);

    kura_buf_init(&b);
    put_str(&b, "Transfer intent ");
    put_str(&b, intent->id);
    put_str(&b, "\n  network:   ");
    put_str(&b, kura_intent_chain_name(intent->chain));
    if (intent->chain != KURA_CHAIN_BITCOIN) put_str(&b, " (test network)");
    put_str(&b, "\n  wallet:    ");
    put_str(&b, intent->wallet.name);
    put_str(&b, " #");
    put_str(&b, intent->wallet.checksum);
    put_str(&b, "\n  policy:    version ");
    put_u64(&b, intent->policy_version);
    put_str(&b, "\n  initiator: ");
    put_str(&b, intent->initiator);
    (void)kura_intent_time_format(stamp, sizeof(stamp), intent->created);
    put_str(&b, "\n  created:   ");
    put_str(&b, stamp);
    (void)kura_intent_time_format(stamp, sizeof(stamp), intent->expires);
    put_str(&b, "\n  expires:   ");
    put_str(&b, stamp);
    put_str(&b, "\n\n");
    for (size_t i = 0; i < intent->output_count; i++) {
        const kura_intent_output *o = &intent->outputs[i];
        snprintf(line, sizeof(line), "%sOutput %zu of %zu\n  to:        ", i > 0 ? "\n" : "",
                 i + 1, intent->output_count);
        put_str(&b, line);
        put_str(&b, o->address);
        put_str(&b, "\n  amount:    ");
        put_btc(&b, o->amount);
        if (o->label[0] != '\0') {
            put_str(&b, "\n  label:     ");
            put_str(&b, o->label);
        }
        if (lookup != NULL) {
            const char *label = NULL;
            put_str(&b, "\n  allowlist: ");
            if (lookup(lookup_arg, o->script, o->script_len, &label) == 1) {
                put_str(&b, "allowlisted as ");
                put_shown(&b, label != NULL ? label : "");
            } else {
                put_str(&b, "NOT ON THE ALLOWLIST");
            }
        }
        put_str(&b, "\n");
    }
    snprintf(line, sizeof(line), "\nTotal:       ");
    put_str(&b, line);
    put_btc(&b, total);
    snprintf(line, sizeof(line), " to %zu output%s\nFee cap:     ", intent->output_count,
             intent->output_count == 1 ? "" : "s");
    put_str(&b, line);
    put_btc(&b, intent->max_fee);
    put_str(&b, "\nAt most:     ");
    put_btc(&b, total + intent->max_fee);
    put_str(&b, " leaves the wallet\nExpires:     ");
    put_str(&b, stamp);
    put_str(&b, "\nIntent hash: ");
    put_str(&b, hex);
    put_str(&b, "\n");
    kura_buf_put_u8(&b, 0);
    *out = (char *)kura_buf_take(&b, &len);
    if (*out == NULL) return kura_fail(err, KURA_ENOMEM, "intent: out of memory");
    *out_len = len - 1;
    return KURA_OK;
}
