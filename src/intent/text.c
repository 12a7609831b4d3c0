/* src/intent/text.c — the line grammar shared by kura's canonical text formats
 * (see text.h), and the value checkers the intent and the policy share. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "intent/text.h"

/* Longest key or value echoed back in a message: enough to recognise it,
 * short enough that the line number and reason always fit. */
#define ECHO_MAX 40

/* Reads and checks the next line. Every rule here exists so that what a
 * person sees in a terminal is exactly what was signed and there is only one
 * way to write each text: a CR or a trailing space is invisible, a tab or a
 * double space looks like one space, a byte >= 0x80 can be a look-alike
 * letter (Cyrillic 'а' for Latin 'a') or a BOM, and a control byte can move
 * the cursor and overwrite what was shown. Text with any of them is refused
 * rather than cleaned, because the signature covers the bytes as they are. */
static int next_line(kura_text *t, const char **line, size_t *line_len, kura_error *err)
{
    const char *p = t->p;
    size_t n = 0;
    *line = NULL;
    *line_len = 0;
    t->line++;
    if (t->line == 1 && t->left >= 3 && (uint8_t)p[0] == 0xef && (uint8_t)p[1] == 0xbb &&
        (uint8_t)p[2] == 0xbf)
        return kura_fail(err, KURA_EDATA, "%s: line 1: byte order mark (BOM) not allowed",
                         t->what);
    while (n < t->left && p[n] != '\n') {
        uint8_t c = (uint8_t)p[n];
        size_t col = n + 1;
        if (c == '\r')
            return kura_fail(err, KURA_EDATA,
                             "%s: line %zu, column %zu: carriage return (CR); lines end in LF only",
                             t->what, t->line, col);
        if (c >= 0x80)
            return kura_fail(err, KURA_EDATA,
                             "%s: line %zu, column %zu: non-ASCII byte 0x%02x (only printable "
                             "ASCII is allowed)",
                             t->what, t->line, col, c);
        if (c < 0x20 || c == 0x7f)
            return kura_fail(err, KURA_EDATA, "%s: line %zu, column %zu: control byte 0x%02x",
                             t->what, t->line, col, c);
        if (c == ' ' && n > 0 && p[n - 1] == ' ')
            return kura_fail(err, KURA_EDATA, "%s: line %zu, column %zu: two spaces in a row",
                             t->what, t->line, col);
        n++;
    }
    if (n == t->left)
        return kura_fail(err, KURA_EDATA, "%s: line %zu: missing final newline (LF)", t->what,
                         t->line);
    if (n == 0) return kura_fail(err, KURA_EDATA, "%s: line %zu: empty line", t->what, t->line);
    if (p[0] == ' ')
        return kura_fail(err, KURA_EDATA, "%s: line %zu: line starts with a space", t->what,
                         t->line);
    if (p[n - 1] == ' ')
        return kura_fail(err, KURA_EDATA, "%s: line %zu: trailing space", t->what, t->line);
    *line = p;
    *line_len = n;
    t->p = p + n + 1;
    t->left -= n + 1;
    return KURA_OK;
}

int kura_intent_text_open(kura_text *t, const char *what, const kura_text_field *fields,
                          size_t n_fields, const uint8_t *text, size_t len, size_t max_len,
                          const char *header, kura_error *err)
{
    const char *line;
    size_t n, header_len = strlen(header);
    const char *space = strchr(header, ' ');
    size_t magic_len = space != NULL ? (size_t)(space - header) + 1 : header_len;
    int rc;

    t->what = what;
    t->p = (const char *)text;
    t->left = text != NULL ? len : 0;
    t->line = 0;
    t->fields = fields;
    t->n_fields = n_fields;
    if (len > max_len)
        return kura_fail(err, KURA_ERANGE, "%s: text is %zu bytes, over the limit of %zu", what,
                         len, max_len);
    if (t->left == 0) return kura_fail(err, KURA_EDATA, "%s: empty text", what);
    rc = next_line(t, &line, &n, err);
    if (rc != KURA_OK) return rc;
    if (n == header_len && memcmp(line, header, n) == 0) return KURA_OK;
    /* Name a newer version plainly: the operator needs a newer kura, not a
     * fixed text. */
    if (n > magic_len && memcmp(line, header, magic_len) == 0)
        return kura_fail(err, KURA_EDATA,
                         "%s: line 1: unsupported version '%.*s' (this reader knows '%s')", what,
                         (int)(n > ECHO_MAX ? ECHO_MAX : n), line, header);
    return kura_fail(err, KURA_EDATA, "%s: line 1: expected '%s'", what, header);
}

static const kura_text_field *find_field(const kura_text *t, const char *key, size_t key_len,
                                         size_t *index)
{
    for (size_t i = 0; i < t->n_fields; i++) {
        if (strlen(t->fields[i].name) == key_len && memcmp(t->fields[i].name, key, key_len) == 0) {
            *index = i;
            return &t->fields[i];
        }
    }
    *index = 0;
    return NULL;
}

/* Explains why the key on the current line is not the one expected (`want`,
 * NULL at the end of the text). */
static int wrong_field(const kura_text *t, const char *key, size_t key_len, const char *want,
                       kura_error *err)
{
    size_t k, e = t->n_fields;
    const kura_text_field *f = find_field(t, key, key_len, &k);
    int shown = (int)(key_len > ECHO_MAX ? ECHO_MAX : key_len);
    if (want != NULL) (void)find_field(t, want, strlen(want), &e);
    if (f == NULL) {
        if (want != NULL)
            return kura_fail(err, KURA_EDATA, "%s: line %zu: unknown field '%.*s' (expected '%s')",
                             t->what, t->line, shown, key, want);
        return kura_fail(err, KURA_EDATA, "%s: line %zu: unknown field '%.*s' after the last field",
                         t->what, t->line, shown, key);
    }
    /* The parser reads the table in order and every single field is
     * required, so a single field from before the expected one was already
     * read: this is a second copy of it. */
    if (k < e && !f->repeated)
        return kura_fail(err, KURA_EDATA, "%s: line %zu: duplicate field '%s'", t->what, t->line,
                         f->name);
    if (k < e) {
        if (want != NULL)
            return kura_fail(err, KURA_EDATA,
                             "%s: line %zu: field '%s' out of order (expected '%s')", t->what,
                             t->line, f->name, want);
        return kura_fail(err, KURA_EDATA, "%s: line %zu: field '%s' out of order (after the last "
                                          "field)",
                         t->what, t->line, f->name);
    }
    return kura_fail(err, KURA_EDATA,
                     "%s: line %zu: expected field '%s', found '%s' (missing, or out of order)",
                     t->what, t->line, want != NULL ? want : "(end)", f->name);
}

/* Splits a line into key and value at the first ": ". */
static bool split_key(const char *line, size_t n, const char **key, size_t *key_len,
                      const char **value, size_t *value_len)
{
    const char *colon = memchr(line, ':', n);
    size_t k;
    if (colon == NULL) return false;
    k = (size_t)(colon - line);
    if (k == 0 || k + 2 > n || colon[1] != ' ') return false;
    *key = line;
    *key_len = k;
    *value = colon + 2;
    *value_len = n - k - 2;
    return *value_len > 0;
}

int kura_intent_text_field(kura_text *t, const char **value, size_t *value_len, const char *name,
                           kura_error *err)
{
    const char *line, *key;
    size_t n, key_len;
    int rc;
    *value = NULL;
    *value_len = 0;
    if (t->left == 0)
        return kura_fail(err, KURA_EDATA, "%s: missing field '%s' (the text ends at line %zu)",
                         t->what, name, t->line);
    rc = next_line(t, &line, &n, err);
    if (rc != KURA_OK) return rc;
    if (!split_key(line, n, &key, &key_len, value, value_len)) {
        *value = NULL;
        *value_len = 0;
        return kura_fail(err, KURA_EDATA,
                         "%s: line %zu: expected '%s: <value>' (key, colon, one space, value)",
                         t->what, t->line, name);
    }
    if (key_len != strlen(name) || memcmp(key, name, key_len) != 0) {
        *value = NULL;
        *value_len = 0;
        return wrong_field(t, key, key_len, name, err);
    }
    return KURA_OK;
}

bool kura_intent_text_next_is(const kura_text *t, const char *name)
{
    size_t k = strlen(name);
    return t->left > k + 1 && memcmp(t->p, name, k) == 0 && t->p[k] == ':' && t->p[k + 1] == ' ';
}

int kura_intent_text_end(kura_text *t, kura_error *err)
{
    const char *line, *key, *value;
    size_t n, key_len, value_len;
    int rc;
    if (t->left == 0) return KURA_OK;
    rc = next_line(t, &line, &n, err);
    if (rc != KURA_OK) return rc;
    if (!split_key(line, n, &key, &key_len, &value, &value_len))
        return kura_fail(err, KURA_EDATA, "%s: line %zu: unexpected text after the last field",
                         t->what, t->line);
    return wrong_field(t, key, key_len, NULL, err);
}

bool kura_intent_text_word(const char **s, size_t *n, const char **word, size_t *word_len)
{
    const char *sp;
    *word = NULL;
    *word_len = 0;
    if (*n == 0) return false;
    sp = memchr(*s, ' ', *n);
    *word = *s;
    if (sp == NULL) {
        *word_len = *n;
        *s += *n;
        *n = 0;
    } else {
        *word_len = (size_t)(sp - *s);
        *n -= *word_len + 1;
        *s = sp + 1;
    }
    return true;
}

bool kura_intent_text_uint(uint64_t *out, const char *s, size_t n, uint64_t min, uint64_t max,
                           char *why, size_t why_len)
{
    uint64_t v = 0;
    *out = 0;
    if (n == 0) {
        snprintf(why, why_len, "empty number");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            /* "+5", "5.0", "5e3", "0x5", "5_000" all read as 5 somewhere;
             * only plain digits have one meaning. */
            snprintf(why, why_len, "'%.*s' is not a plain decimal number", (int)(n > 24 ? 24 : n),
                     s);
            return false;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            snprintf(why, why_len, "above the limit of %" PRIu64, max);
            return false;
        }
        v = v * 10 + d;
    }
    if (n > 1 && s[0] == '0') {
        /* "010" is 10 to one reader and 8 to another, and would give one
         * number two spellings. */
        snprintf(why, why_len, "leading zero");
        return false;
    }
    if (v > max) {
        snprintf(why, why_len, "above the limit of %" PRIu64, max);
        return false;
    }
    if (v < min) {
        snprintf(why, why_len, "must be at least %" PRIu64, min);
        return false;
    }
    *out = v;
    return true;
}

bool kura_intent_text_name(const char *s, size_t n, size_t max_len, const char *extra, char *why,
                           size_t why_len)
{
    if (n == 0) {
        snprintf(why, why_len, "empty name");
        return false;
    }
    if (n > max_len) {
        snprintf(why, why_len, "name longer than %zu chars", max_len);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
        if (c != '\0' && strchr(extra, c) != NULL) continue;
        snprintf(why, why_len, "name may hold only a-z, 0-9 and '%s'", extra);
        return false;
    }
    return true;
}

bool kura_intent_text_label(const char *s, size_t n, char *why, size_t why_len)
{
    if (n == 0) {
        snprintf(why, why_len, "empty label");
        return false;
    }
    if (n > KURA_INTENT_LABEL_MAX) {
        snprintf(why, why_len, "label longer than %d chars", KURA_INTENT_LABEL_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == ' ') {
            if (i == 0 || i == n - 1 || s[i - 1] == ' ') {
                snprintf(why, why_len, "label words must be separated by single spaces");
                return false;
            }
            continue;
        }
        /* A label is what a person reads to recognise a destination, so it
         * may hold only bytes that look like themselves: no control bytes
         * (terminal escapes can rewrite the screen) and no Unicode (look-alike
         * letters, right-to-left overrides). */
        if (c < 0x21 || c > 0x7e) {
            snprintf(why, why_len, "label byte 0x%02x is not printable ASCII", c);
            return false;
        }
    }
    return true;
}

/* The BIP380 descriptor checksum alphabet (the bech32 one). */
static const char CHECKSUM_CHARSET[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

bool kura_intent_text_wallet(kura_intent_wallet *wallet, const char *s, size_t n, char *why,
                             size_t why_len)
{
    const char *name, *sum;
    size_t name_len, sum_len;
    memset(wallet, 0, sizeof(*wallet));
    if (!kura_intent_text_word(&s, &n, &name, &name_len) ||
        !kura_intent_text_word(&s, &n, &sum, &sum_len) || n != 0) {
        snprintf(why, why_len, "expected '<name> #<descriptor checksum>'");
        return false;
    }
    if (!kura_intent_text_name(name, name_len, KURA_INTENT_WALLET_NAME_MAX, "-", why, why_len))
        return false;
    if (sum_len != KURA_INTENT_CHECKSUM_LEN + 1 || sum[0] != '#') {
        snprintf(why, why_len, "expected '#' and the 8-char descriptor checksum after the name");
        return false;
    }
    for (size_t i = 1; i < sum_len; i++) {
        /* Only the lower-case BIP380 alphabet: "#Q4X7K2M9" would be a second
         * spelling of the same checksum. */
        if (sum[i] == '\0' || strchr(CHECKSUM_CHARSET, sum[i]) == NULL) {
            snprintf(why, why_len, "descriptor checksum has a character outside the BIP380 "
                                   "alphabet (lower case)");
            return false;
        }
    }
    kura_intent_text_copy(wallet->name, sizeof(wallet->name), name, name_len);
    kura_intent_text_copy(wallet->checksum, sizeof(wallet->checksum), sum + 1, sum_len - 1);
    return true;
}

bool kura_intent_text_chain(kura_intent_chain *chain, const char *s, size_t n, char *why,
                            size_t why_len)
{
    static const kura_intent_chain all[] = {KURA_CHAIN_BITCOIN, KURA_CHAIN_TESTNET,
                                            KURA_CHAIN_TESTNET4, KURA_CHAIN_SIGNET,
                                            KURA_CHAIN_REGTEST};
    *chain = KURA_CHAIN_BITCOIN;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *name = kura_intent_chain_name(all[i]);
        if (strlen(name) == n && memcmp(name, s, n) == 0) {
            *chain = all[i];
            return true;
        }
    }
    snprintf(why, why_len, "unknown network '%.*s' (bitcoin, testnet, testnet4, signet or regtest)",
             (int)(n > ECHO_MAX ? ECHO_MAX : n), s);
    return false;
}

bool kura_intent_text_address(char address_out[KURA_ADDRESS_MAX],
                              uint8_t script_out[KURA_SCRIPT_PUBKEY_MAX], size_t *script_len,
                              const char *s, size_t n, kura_intent_chain chain, char *why,
                              size_t why_len)
{
    char given[KURA_ADDRESS_MAX], canonical[KURA_ADDRESS_MAX];
    kura_network network;
    kura_error sub;
    kura_script_type type;
    unsigned version = 0;
    int rc;

    memset(address_out, 0, KURA_ADDRESS_MAX);
    memset(script_out, 0, KURA_SCRIPT_PUBKEY_MAX);
    *script_len = 0;
    kura_error_clear(&sub);
    if (kura_intent_chain_network(&network, chain) != KURA_OK) {
        snprintf(why, why_len, "unknown network");
        return false;
    }
    if (n == 0 || n >= KURA_ADDRESS_MAX || memchr(s, '\0', n) != NULL) {
        snprintf(why, why_len, "address is empty or longer than %d chars", KURA_ADDRESS_MAX - 1);
        return false;
    }
    memset(given, 0, sizeof(given));
    memcpy(given, s, n);
    rc = kura_address_to_script(script_out, KURA_SCRIPT_PUBKEY_MAX, script_len, given, network,
                                &sub);
    if (rc != KURA_OK) {
        snprintf(why, why_len, "%s", sub.message[0] != '\0' ? sub.message : "invalid address");
        goto fail;
    }
    type = kura_script_classify(script_out, *script_len, NULL, NULL, &version);
    switch (type) {
    case KURA_SCRIPT_P2PKH:
    case KURA_SCRIPT_P2SH:
    case KURA_SCRIPT_P2WPKH:
    case KURA_SCRIPT_P2WSH:
    case KURA_SCRIPT_P2TR:
        break;
    case KURA_SCRIPT_WITNESS_UNKNOWN:
        /* Outputs to an undefined witness version are spendable by anyone
         * until a soft fork gives the version a meaning: no custody transfer
         * has a reason to pay to one, and a mistyped-but-checksummed address
         * must not burn or give away funds. */
        snprintf(why, why_len, "address pays to witness version %u, which has no meaning yet",
                 version);
        goto fail;
    default:
        snprintf(why, why_len, "address has no standard script kura pays to");
        goto fail;
    }
    /* One destination, one spelling: an upper-case bech32 address is the
     * same script, and accepting it would give an intent two texts (two
     * hashes, two sets of approvals) with the same meaning.
     *
     * The canonical spelling is the re-encoding of the script
     * (kura_address_from_script). The decoders are strict enough that the
     * only other spelling they accept is upper case, so that is what is
     * tested, without re-encoding every address:
     *  - segwit: the decoder requires a valid checksum of the variant the
     *    version needs (BIP350), zero padding of at most 4 bits and the
     *    network's hrp, and rejects mixed case; re-encoding the same hrp,
     *    version and program gives the same 5-bit groups and checksum, in
     *    lower case. So the given text is canonical iff it has no upper-case
     *    letter.
     *  - Base58Check: leading '1's are the leading zero bytes and the rest
     *    the minimal base-58 digits of the remaining number, a one-to-one
     *    spelling: a decoded address re-encodes to exactly its text. */
    if (type == KURA_SCRIPT_P2PKH || type == KURA_SCRIPT_P2SH) {
        rc = KURA_OK; /* one-to-one: see above */
    } else {
        rc = KURA_OK;
        for (size_t i = 0; i < n; i++)
            if (given[i] >= 'A' && given[i] <= 'Z') rc = KURA_EDATA;
    }
    if (rc != KURA_OK) {
        /* Not canonical: spell the canonical form for the message. */
        rc = kura_address_from_script(canonical, sizeof(canonical), script_out, *script_len,
                                      network, &sub);
        if (rc != KURA_OK) {
            snprintf(why, why_len, "%s",
                     sub.message[0] != '\0' ? sub.message : "invalid address");
            goto fail;
        }
        snprintf(why, why_len, "address not in canonical form (write it as %s)", canonical);
        goto fail;
    }
    memcpy(address_out, given, KURA_ADDRESS_MAX);
    return true;
fail:
    memset(script_out, 0, KURA_SCRIPT_PUBKEY_MAX);
    *script_len = 0;
    return false;
}

void kura_intent_text_copy(char *dst, size_t dst_len, const char *s, size_t n)
{
    if (dst_len == 0) return;
    if (n >= dst_len) n = dst_len - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

bool kura_intent_text_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}
