/*
 * server/api/static.h — the operators' web pages (web/dist) served at `/`.
 *
 * Static files are not API routes: they are not in the route table
 * (routes.c), the OpenAPI document or the route x role test. The door
 * (http.c) asks here only for a GET or HEAD the route table does not know
 * and that is not under /v1/ — and only when a web root is configured.
 *
 * A URL path (already percent-decoded by libmicrohttpd) maps to a file under
 * the web root when every segment is 1 to 255 bytes of [A-Za-z0-9._-] not
 * starting with '.', with at most 16 segments; "/" is /index.html. Anything
 * else ("..", hidden files, backslashes, NUL, empty segments, unknown file
 * types) is not found: nothing outside the root is ever opened, and a symbolic
 * link that leads out of the root is refused after resolving it.
 */
#ifndef KURA_SERVER_API_STATIC_H
#define KURA_SERVER_API_STATIC_H

#include <stddef.h>

/* The one Content-Security-Policy of the web pages: every byte from this
 * server, no inline script or style, no framing, no plugins. */
#define KURA_WEB_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "       \
    "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "      \
    "form-action 'self'"

typedef struct kura_static_file {
    const char *content_type;  /* "text/html; charset=utf-8", ... (static string) */
    const char *cache_control; /* "no-cache" or, for fingerprinted assets, immutable */
    char rel[1024];            /* the path under the root, without a leading '/' */
} kura_static_file;

/* Maps url to a file under the web root. Returns 0 and fills *out, or -1
 * when the path is not one this server serves (out is cleared either way
 * first). Pure: touches no file. */
int kura_static_resolve(const char *url, kura_static_file *out);

/* Opens root/out->rel for reading after resolving symbolic links and checking
 * the result is a regular file inside root (itself resolved). Returns an open
 * descriptor and its size in *size, or -1 (not found, outside, not a regular
 * file). */
int kura_static_open(const char *root, const kura_static_file *f, size_t *size);

#endif /* KURA_SERVER_API_STATIC_H */
