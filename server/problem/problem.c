/*
 * server/domain/problem.c — the error list of errors.def as tables.
 */
#include "problem/problem.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    int status;
    const char *meaning;
} problems[] = {
    {"NONE", 200, "no error"},
#define KURA_ERROR(code, status, meaning) {#code, status, meaning},
#include "problem/errors.def"
#undef KURA_ERROR
};

int kura_problem_set(kura_problem *p, kura_problem_code code, const char *fmt, ...)
{
    if (p) {
        va_list ap;
        p->code = code;
        va_start(ap, fmt);
        vsnprintf(p->message, sizeof p->message, fmt, ap);
        va_end(ap);
    }
    return (int)code;
}

int kura_problem_from_db(kura_problem *p, int rc, const kura_db_error *err, const char *what)
{
    const char *msg = err && err->message[0] ? err->message : kura_db_status_name(rc);
    if (rc >= 0)
        return rc;
    switch (rc) {
    case KURA_DB_ENOTFOUND:
        return what ? kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such %s", what)
                    : kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "%s", msg);
    case KURA_DB_EBUSY:
    case KURA_DB_EIO:
        return kura_problem_set(p, KURA_PROBLEM_UNAVAILABLE, "the database failed: %s", msg);
    case KURA_DB_ECONFLICT:
    case KURA_DB_ECONSTRAINT:
        return kura_problem_set(p, KURA_PROBLEM_CONFLICT, "%s", msg);
    default:
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "%s", msg);
    }
}

const char *kura_problem_name(kura_problem_code code)
{
    return (code > 0 && code < KURA_PROBLEM_COUNT) ? problems[code].name : "INTERNAL";
}

int kura_problem_http_status(kura_problem_code code)
{
    return (code > 0 && code < KURA_PROBLEM_COUNT) ? problems[code].status : 500;
}

const char *kura_problem_meaning(kura_problem_code code)
{
    return (code > 0 && code < KURA_PROBLEM_COUNT) ? problems[code].meaning
                                                   : "an internal error; the server log has details";
}
