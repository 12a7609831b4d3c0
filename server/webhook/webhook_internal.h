/*
 * server/webhook/webhook_internal.h — what the webhook module's files
 * share. Not for use outside server/webhook/.
 */
#ifndef KURA_SERVER_WEBHOOK_INTERNAL_H
#define KURA_SERVER_WEBHOOK_INTERNAL_H

#include "webhook/webhook.h"

#if defined(__GNUC__)
#define KURA_WEBHOOK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KURA_WEBHOOK_PRINTF(a, b)
#endif

int kura_webhook_fail(kura_db_error *err, int code, const char *fmt, ...) KURA_WEBHOOK_PRINTF(3, 4);
int kura_webhook_problem(kura_problem *p, kura_problem_code code, const char *fmt, ...)
    KURA_WEBHOOK_PRINTF(3, 4);
/* A failed store call as a problem: positive codes pass; ENOTFOUND is
 * NOT_FOUND; EBUSY/EIO UNAVAILABLE; the rest INTERNAL. */
int kura_webhook_problem_from_db(kura_problem *p, int rc, const kura_db_error *err);

int64_t kura_webhook_int(const kura_db_result *res, size_t row, size_t col);
const char *kura_webhook_text(const kura_db_result *res, size_t row, size_t col);

/* 1 when s is a valid event type: [a-z0-9_.]{1,64}. */
int kura_webhook_type_valid(const char *s);

#endif
