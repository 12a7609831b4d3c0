/*
 * server/domain/problem.c — the error list of errors.def as tables.
 */
#include "domain/problem.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    int status;
    const char *meaning;
} problems[] = {
    {"NONE", 200, "no error"},
#define KURA_ERROR(code, status, meaning) {#code, status, meaning},
#include "domain/errors.def"
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
