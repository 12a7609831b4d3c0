/*
 * server/log/log.c — the log lines (log.h).
 */
#include "log/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static _Atomic int g_format = KURA_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kura_log_set_format(kura_log_format format)
{
    atomic_store(&g_format, (int)format);
}

kura_log_format kura_log_get_format(void)
{
    return (kura_log_format)atomic_load(&g_format);
}

int kura_log_format_parse(const char *s, kura_log_format *out)
{
    if (!strcmp(s, "text"))
        *out = KURA_LOG_TEXT;
    else if (!strcmp(s, "json"))
        *out = KURA_LOG_JSON;
    else
        return -1;
    return 0;
}

/* The whole line in one write(): stderr is unbuffered, and one write of a
 * line under PIPE_BUF is never interleaved with another thread's. */
static void write_line(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* A JSON string of bytes that may not be UTF-8: bytes jansson refuses are
 * written as '?'. */
static json_t *safe_string(const char *s)
{
    json_t *j;
    char *copy;
    if (!s)
        return json_string("-");
    if ((j = json_string(s)) != NULL)
        return j;
    copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static void timestamp(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", (long)(ts.tv_nsec / 1000000));
}

static void emit_json(json_t *obj)
{
    char *s;
    if (!obj)
        return;
    s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s)
        return;
    size_t n = strlen(s);
    char *line = malloc(n + 2);
    if (line) {
        memcpy(line, s, n);
        line[n] = '\n';
        write_line(line, n + 1);
        free(line);
    }
    free(s);
}

static json_t *base_object(kura_log_level level, const char *msg)
{
    char ts[32];
    json_t *o = json_object();
    if (!o)
        return NULL;
    timestamp(ts);
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[(unsigned)level & 3u]));
    json_object_set_new(o, "msg", safe_string(msg));
    return o;
}

void kura_log_v(kura_log_level level, const char *fmt, va_list ap)
{
    char msg[2048];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len;
    if (n < 0)
        return;
    len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    if (kura_log_get_format() == KURA_LOG_JSON) {
        emit_json(base_object(level, msg));
        return;
    }
    char line[2100];
    int m = snprintf(line, sizeof line, "kura-server: %s\n", msg);
    if (m > 0)
        write_line(line, (size_t)m < sizeof line ? (size_t)m : sizeof line - 1);
}

void kura_log(kura_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kura_log_v(level, fmt, ap);
    va_end(ap);
}

void kura_log_http(const kura_log_request *r)
{
    if (kura_log_get_format() == KURA_LOG_JSON) {
        char msg[600];
        json_t *o;
        snprintf(msg, sizeof msg, "%s %s %d", r->method ? r->method : "-",
                 r->route ? r->route : "-", r->status);
        o = base_object(r->status >= 500 ? KURA_LOG_ERROR : KURA_LOG_INFO, msg);
        if (!o)
            return;
        json_object_set_new(o, "request_id", safe_string(r->request_id));
        json_object_set_new(o, "method", safe_string(r->method));
        json_object_set_new(o, "route", safe_string(r->route));
        json_object_set_new(o, "status", json_integer(r->status));
        json_object_set_new(o, "duration_ms", json_real((double)(int64_t)(r->duration_ms * 1000.0) / 1000.0));
        json_object_set_new(o, "actor", r->actor && r->actor[0] ? safe_string(r->actor) : json_null());
        emit_json(o);
        return;
    }
    kura_log(r->status >= 500 ? KURA_LOG_ERROR : KURA_LOG_INFO, "%s %s %d %.3fms principal=%s",
             r->method ? r->method : "-", r->route ? r->route : "-", r->status, r->duration_ms,
             r->actor && r->actor[0] ? r->actor : "-");
}
