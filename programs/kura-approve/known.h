/* programs/kura-approve/known.h — the newest policy version the approver has
 * verified, per wallet (known.c). Not a library API. */
#ifndef KURA_APPROVE_KNOWN_H
#define KURA_APPROVE_KNOWN_H

#include <stdint.h>

#include "kura/intent.h"

/* *version = the newest version remembered for the wallet (0: none).
 * Returns 0, or -1 when the file cannot be read (errno). */
int known_get(uint64_t *version, const char *name, const char *checksum, kura_intent_chain chain);

/* Remembers `version` for the wallet when it is newer than the one
 * remembered. Returns 0, or -1 when the file cannot be written. */
int known_put(const char *name, const char *checksum, kura_intent_chain chain, uint64_t version);

#endif
