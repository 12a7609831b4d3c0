/*
 * server/problem/problem.h — why a request failed: a stable code from the one
 * list (errors.def) and a message for people. Domain functions fill a
 * kura_problem; the API turns it into {"error": CODE, "message": ...} with the
 * code's HTTP status. Domain code never sees HTTP: the status rides in the
 * list, not in the domain.
 */
#ifndef KURA_SERVER_PROBLEM_H
#define KURA_SERVER_PROBLEM_H

#include <stddef.h>

#include "store/db.h"

typedef enum kura_problem_code {
    KURA_PROBLEM_NONE = 0,
#define KURA_ERROR(code, status, meaning) KURA_PROBLEM_##code,
#include "problem/errors.def"
#undef KURA_ERROR
    KURA_PROBLEM_COUNT
} kura_problem_code;

#define KURA_PROBLEM_MESSAGE_MAX 256

typedef struct kura_problem {
    kura_problem_code code;
    char message[KURA_PROBLEM_MESSAGE_MAX];
} kura_problem;

/* Sets p (when not NULL) to code and the formatted message; returns (int)code,
 * which is positive, so a kura_store_fn can return it to roll back. */
int kura_problem_set(kura_problem *p, kura_problem_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A store call's failure as a problem: rc > 0 (already a problem code, from
 * a transaction function) and 0 pass through; KURA_DB_ENOTFOUND is NOT_FOUND
 * ("no such <what>", what NULL: the driver's message); KURA_DB_EBUSY and
 * KURA_DB_EIO UNAVAILABLE; KURA_DB_ECONFLICT and KURA_DB_ECONSTRAINT CONFLICT;
 * anything else INTERNAL. Returns the code set (or rc passed through). */
int kura_problem_from_db(kura_problem *p, int rc, const kura_db_error *err, const char *what);

/* The stable name ("INVALID_STATE"), the HTTP status, and the meaning of a code;
 * "INTERNAL", 500 for a value outside the list. */
const char *kura_problem_name(kura_problem_code code);
int kura_problem_http_status(kura_problem_code code);
const char *kura_problem_meaning(kura_problem_code code);

#endif /* KURA_SERVER_PROBLEM_H */
