/*
 * server/api/static.c — the web pages' files (static.h).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "api/static.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENTS_MAX 16
#define SEGMENT_MAX 255

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static int seg_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* esbuild names bundled files NAME-HASH.EXT under assets/ (web/build.mjs):
 * their bytes never change under that name, so a browser may keep them. */
static int fingerprinted(const char *rel)
{
    return strncmp(rel, "assets/", 7) == 0 && strchr(rel + 7, '/') == NULL &&
           strchr(rel + 7, '-') != NULL;
}

int kura_static_resolve(const char *url, kura_static_file *out)
{
    const char *p, *dot, *slash;
    size_t n, seg = 0, segs = 0;
    memset(out, 0, sizeof *out);
    if (!url || url[0] != '/')
        return -1;
    if (strcmp(url, "/") == 0)
        url = "/index.html";
    n = strlen(url + 1);
    if (n == 0 || n >= sizeof out->rel)
        return -1;
    for (p = url + 1; *p; p++) {
        if (*p == '/') {
            if (seg == 0)
                return -1; /* "//" or a trailing '/' */
            seg = 0;
            continue;
        }
        if (!seg_char_ok(*p))
            return -1;
        if (seg == 0) {
            if (*p == '.')
                return -1; /* ".", "..", hidden files */
            if (++segs > SEGMENTS_MAX)
                return -1;
        }
        if (++seg > SEGMENT_MAX)
            return -1;
    }
    if (seg == 0)
        return -1;
    slash = strrchr(url, '/');
    dot = strrchr(slash, '.');
    if (!dot)
        return -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            out->content_type = types[i].type;
    if (!out->content_type)
        return -1;
    memcpy(out->rel, url + 1, n + 1);
    out->cache_control =
        fingerprinted(out->rel) ? "public, max-age=31536000, immutable" : "no-cache";
    return 0;
}

int kura_static_open(const char *root, const kura_static_file *f, size_t *size)
{
    char *rroot = NULL, *rfile = NULL, path[PATH_MAX];
    struct stat sb;
    size_t rl;
    int fd = -1;
    *size = 0;
    if (!root || !*root || !f->rel[0])
        return -1;
    if (snprintf(path, sizeof path, "%s/%s", root, f->rel) >= (int)sizeof path)
        return -1;
    rroot = realpath(root, NULL);
    rfile = rroot ? realpath(path, NULL) : NULL;
    if (!rfile)
        goto out;
    rl = strlen(rroot);
    /* inside the root: ROOT/... (a root of "/" is refused: never serve everything) */
    if (rl <= 1 || strncmp(rfile, rroot, rl) != 0 || rfile[rl] != '/')
        goto out;
    fd = open(rfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        goto out;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0) {
        close(fd);
        fd = -1;
        goto out;
    }
    *size = (size_t)sb.st_size;
out:
    free(rroot);
    free(rfile);
    return fd;
}
