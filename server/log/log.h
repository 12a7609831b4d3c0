/*
 * server/log/log.h — kura-server's one way to write a log line (stderr).
 *
 * Two formats, chosen once at start (`log_format` in the configuration):
 *  - text (the default): "kura-server: MESSAGE" — what the server always wrote;
 *  - json: one JSON object per line, {"ts", "level", "msg", ...}: ts is UTC
 *    RFC 3339 with milliseconds, level one of debug/info/warn/error. A
 *    request's line adds request_id, method, route (the route table's pattern,
 *    never the raw path), status, duration_ms and actor (a user's or API key's
 *    id, never a secret).
 *
 * Never pass a secret, a password, a cookie, an API key, a TOTP code or a
 * request body to these functions: every argument ends up in the log as is.
 * Each line is written with one write() so lines of threads never interleave.
 * Thread-safe; the format is process-wide state (a server, not libkura).
 */
#ifndef KURA_SERVER_LOG_H
#define KURA_SERVER_LOG_H

#include <stdarg.h>

typedef enum kura_log_level {
    KURA_LOG_DEBUG = 0,
    KURA_LOG_INFO = 1,
    KURA_LOG_WARN = 2,
    KURA_LOG_ERROR = 3
} kura_log_level;

typedef enum kura_log_format {
    KURA_LOG_TEXT = 0,
    KURA_LOG_JSON = 1
} kura_log_format;

/* Sets the format for every later line (call before threads start). */
void kura_log_set_format(kura_log_format format);
kura_log_format kura_log_get_format(void);

/* Parses "text" or "json". Returns 0, or -1 for anything else. */
int kura_log_format_parse(const char *s, kura_log_format *out);

/* One line: fmt as printf, without the program's name and without a newline
 * (a trailing newline is dropped). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void kura_log(kura_log_level level, const char *fmt, ...);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
void kura_log_v(kura_log_level level, const char *fmt, va_list ap);

/* One answered HTTP request. Strings may be NULL ("-"). */
typedef struct kura_log_request {
    const char *request_id; /* the X-Request-Id the server answered with */
    const char *method;     /* the route's method, "-" unrouted */
    const char *route;      /* the route's pattern ("/v1/transfers/{id}") */
    int status;
    double duration_ms;
    const char *actor;      /* a user's or API key's id, or NULL */
} kura_log_request;

void kura_log_http(const kura_log_request *r);

#endif /* KURA_SERVER_LOG_H */
