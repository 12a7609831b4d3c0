/*
 * src/intent/text.h — the line grammar that kura's canonical text formats
 * share (the transfer intent here, the policy in src/policy/). Internal to
 * libkura: not installed, not API. The intent module owns it because the
 * policy module may call the intent module but not the other way round.
 *
 * A canonical text is printable ASCII (0x20..0x7e) in lines that each end in
 * LF. Its first line is a fixed header ("kura-intent 1"); every other line is
 * `key: value`, with the keys in a fixed order given by a field table. No CR,
 * no tab or other control byte, no byte >= 0x80 (so no BOM and no look-alike
 * Unicode), no empty line, no space at the start or end of a line and never
 * two spaces in a row. These rules are checked line by line as the parser
 * reads, so the first fault in the text is the one reported, with its line.
 */
#ifndef KURA_INTENT_TEXT_H
#define KURA_INTENT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kura/common.h"
#include "kura/intent.h"
#include "kura/script.h"

/* One entry of a format's field table, in the order the fields must appear. */
typedef struct kura_text_field {
    const char *name; /* the key, e.g. "max-fee" */
    bool repeated;    /* may appear on several consecutive lines */
} kura_text_field;

/* A cursor over one canonical text. */
typedef struct kura_text {
    const char *what;                /* "intent" or "policy": starts every message */
    const char *p;                   /* start of the next unread line */
    size_t left;                     /* bytes from p to the end of the text */
    size_t line;                     /* number of the line last read (1-based) */
    const kura_text_field *fields;   /* the format's field table */
    size_t n_fields;
} kura_text;

/* Starts reading `text`: refuses an empty text or one longer than max_len
 * (KURA_ERANGE), and checks that the first line is exactly `header`
 * (naming an unsupported version when only the number differs). */
int kura_intent_text_open(kura_text *t, const char *what, const kura_text_field *fields,
                          size_t n_fields, const uint8_t *text, size_t len, size_t max_len,
                          const char *header, kura_error *err);

/* Reads the next line, which must be the field `name`: *value and *value_len
 * receive the part after "name: " (never empty). On a different key it
 * reports, with the line number, whether that key is unknown, a repeat of a
 * field already read, or a field out of its place. */
int kura_intent_text_field(kura_text *t, const char **value, size_t *value_len, const char *name,
                           kura_error *err);

/* True when the next line exists and starts with "name: " (to read a
 * repeated field). Does not validate the line; kura_intent_text_field does. */
bool kura_intent_text_next_is(const kura_text *t, const char *name);

/* Requires that the whole text has been read. */
int kura_intent_text_end(kura_text *t, kura_error *err);

/* Splits the first space-separated word off the string at *s of length *n:
 * *word and *word_len get the word; *s and *n then describe what follows its
 * space (*n is 0 when it was the last word). Returns false when *n is 0. The
 * line rules guarantee single spaces. */
bool kura_intent_text_word(const char **s, size_t *n, const char **word, size_t *word_len);

/* The value checkers below return true when s[0..n) is valid, and false
 * with a reason a person can read written into why[0..why_len) (which
 * KURA_TEXT_WHY_MAX bytes always hold). Outputs are zeroed on failure. */
#define KURA_TEXT_WHY_MAX 192

/* A decimal integer in canonical form (digits only, no sign, no leading zero
 * unless the number is 0) with min <= value <= max. */
bool kura_intent_text_uint(uint64_t *out, const char *s, size_t n, uint64_t min, uint64_t max,
                           char *why, size_t why_len);

/* A name: 1..max_len chars of [a-z0-9] or of the bytes in `extra` (e.g. "-"
 * or "._-"). */
bool kura_intent_text_name(const char *s, size_t n, size_t max_len, const char *extra, char *why,
                           size_t why_len);

/* A label: 1..KURA_INTENT_LABEL_MAX chars, words of 0x21..0x7e separated by
 * single spaces. */
bool kura_intent_text_label(const char *s, size_t n, char *why, size_t why_len);

/* "<name> #<checksum>" into wallet. */
bool kura_intent_text_wallet(kura_intent_wallet *wallet, const char *s, size_t n, char *why,
                             size_t why_len);

/* A chain name (bitcoin, testnet, testnet4, signet, regtest). */
bool kura_intent_text_chain(kura_intent_chain *chain, const char *s, size_t n, char *why,
                            size_t why_len);

/* An address for `chain`, in its canonical spelling (what
 * kura_address_from_script gives back) and of a script type kura pays to.
 * address_out gets the NUL-terminated address, script_out the scriptPubKey. */
bool kura_intent_text_address(char address_out[KURA_ADDRESS_MAX],
                              uint8_t script_out[KURA_SCRIPT_PUBKEY_MAX], size_t *script_len,
                              const char *s, size_t n, kura_intent_chain chain, char *why,
                              size_t why_len);

/* Copies s[0..n) into dst (dst_len > n) with a NUL. */
void kura_intent_text_copy(char *dst, size_t dst_len, const char *s, size_t n);

/* True when s (a fixed char array of size cap) holds a NUL-terminated string. */
bool kura_intent_text_terminated(const char *s, size_t cap);

#endif /* KURA_INTENT_TEXT_H */
