/*
 * server/webhook/webhook_internal.h — what the webhook module's files
 * share. Not for use outside server/webhook/.
 */
#ifndef KURA_SERVER_WEBHOOK_INTERNAL_H
#define KURA_SERVER_WEBHOOK_INTERNAL_H

#include "webhook/webhook.h"

/* A row's column as an int64 (0 for NULL or bad text), and as text ("" for NULL). */
int64_t kura_webhook_int(const kura_db_result *res, size_t row, size_t col);
const char *kura_webhook_text(const kura_db_result *res, size_t row, size_t col);

/* 1 when s is a valid event type: [a-z0-9_.]{1,64}. */
int kura_webhook_type_valid(const char *s);

#endif
