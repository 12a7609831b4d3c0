/*
 * bbqr-tool — libkura's BBQr (kura/bbqr.h) on the command line, for tests:
 * the web UI's tests pass parts both ways between the browser's code and
 * libkura's, and the kura-cold tests check its terminal QR codes.
 *
 *   bbqr-tool split FILE --encoding Z|2|H --type P [--max N]
 *                  [--min-version V] [--max-version V]
 *       the parts of FILE ("-": stdin), one a line, on stdout. --max N: no
 *       part longer than N characters, header included.
 *   bbqr-tool join [--max-bytes N]
 *       parts from stdin, one a line, any order, repeats and blank lines
 *       allowed; the file on stdout, "type T, N bytes" on stderr.
 *   bbqr-tool qrcheck FILE
 *       FILE holds what `kura-cold ... --qr-text` printed: QR codes drawn with
 *       half blocks, each followed by "part I/N TEXT". Every drawing must be
 *       exactly libqrencode's symbol for TEXT (level L, the drawing's
 *       version), in a light margin, parts 1..N in order; then the parts are
 *       joined and the file written to stdout.
 *
 * Exit codes: 0 done; 1 refused (the message names a KURA_BBQR_ reason, or
 * says which drawing differs); 2 usage or I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "kura/bbqr.h"

static int usage(void)
{
    fputs("usage: bbqr-tool split FILE --encoding Z|2|H --type T [--max N]\n"
          "                 [--min-version V] [--max-version V]\n"
          "       bbqr-tool join [--max-bytes N]\n"
          "       bbqr-tool qrcheck FILE\n",
          stderr);
    return 2;
}

static uint8_t *slurp(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) return NULL;
    for (;;) {
        size_t r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0) return -1;
    *out = (size_t)v;
    return 0;
}

static int cmd_split(int argc, char **argv)
{
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    const char *path = NULL;
    uint8_t *data;
    size_t len = 0, v;
    FILE *f;
    int rc;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--encoding") == 0 && strlen(argv[i + 1]) == 1) {
            o.encoding = argv[++i][0];
        } else if (i + 1 < argc && strcmp(a, "--type") == 0 && strlen(argv[i + 1]) == 1) {
            o.file_type = argv[++i][0];
        } else if (i + 1 < argc && strcmp(a, "--max") == 0 && parse_size(argv[i + 1], &v) == 0) {
            o.max_part_len = v;
            i++;
        } else if (i + 1 < argc && strcmp(a, "--min-version") == 0 &&
                   parse_size(argv[i + 1], &v) == 0 && v <= 40) {
            o.min_version = (unsigned)v;
            i++;
        } else if (i + 1 < argc && strcmp(a, "--max-version") == 0 &&
                   parse_size(argv[i + 1], &v) == 0 && v <= 40) {
            o.max_version = (unsigned)v;
            i++;
        } else if (path == NULL && (a[0] != '-' || strcmp(a, "-") == 0)) {
            path = a;
        } else {
            return usage();
        }
    }
    if (path == NULL || o.encoding == 0 || o.file_type == 0) return usage();
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bbqr-tool: split: cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    data = slurp(f, &len);
    if (f != stdin) fclose(f);
    if (data == NULL) {
        fprintf(stderr, "bbqr-tool: split: cannot read %s\n", path);
        return 2;
    }
    rc = kura_bbqr_split(&s, data, len, &o);
    free(data);
    if (rc != KURA_OK) {
        fprintf(stderr, "bbqr-tool: split: %s (%s)\n",
                rc == KURA_ERANGE ? "does not fit in the allowed parts and versions"
                                  : "bad options or empty file",
                kura_status_name(rc));
        return rc == KURA_ERANGE ? 1 : 2;
    }
    for (size_t i = 0; i < s->count; i++) printf("%s\n", s->parts[i]);
    fprintf(stderr, "bbqr-tool: %zu part(s), encoding %c, QR version %u\n", s->count,
            s->encoding, s->version);
    kura_bbqr_parts_free(s);
    return fflush(stdout) == 0 ? 0 : 2;
}

/* The joiner's refusals as the tool's exit code. */
static int joined(kura_bbqr_joiner *j, const char *cmd)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    char type = 0;
    kura_bbqr_reason reason;
    kura_error err;
    if (kura_bbqr_joiner_finish(j, &out, &out_len, &type, &reason, &err) != KURA_OK) {
        fprintf(stderr, "bbqr-tool: %s: %s\n", cmd, err.message);
        return 1;
    }
    if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
        free(out);
        return 2;
    }
    fprintf(stderr, "bbqr-tool: type %c, %zu bytes\n", type, out_len);
    free(out);
    return 0;
}

static int cmd_join(int argc, char **argv)
{
    kura_bbqr_joiner *j = NULL;
    size_t max = 0, len = 0, start = 0;
    uint8_t *in;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--max-bytes") == 0 &&
            parse_size(argv[i + 1], &max) == 0)
            i++;
        else
            return usage();
    }
    if (kura_bbqr_joiner_new(&j, max) != KURA_OK) return usage();
    in = slurp(stdin, &len);
    if (in == NULL) {
        kura_bbqr_joiner_free(j);
        return 2;
    }
    while (start < len && rc == 0) {
        uint8_t *nl = memchr(in + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - in) : len, n = end - start;
        kura_error err;
        while (n > 0 && (in[start + n - 1] == '\r' || in[start + n - 1] == ' ')) n--;
        if (n > 0 &&
            kura_bbqr_joiner_add(j, NULL, (const char *)in + start, n, &err) != KURA_OK) {
            fprintf(stderr, "bbqr-tool: join: %s\n", err.message);
            rc = 1;
        }
        start = end + 1;
    }
    if (rc == 0) rc = joined(j, "join");
    free(in);
    kura_bbqr_joiner_free(j);
    return rc;
}

/* ---- qrcheck ---- */

/* One drawn line as cells: 0 light, 1 top dark, 2 bottom dark, 3 both.
 * ANSI escapes are skipped. Returns the number of cells, or -1 for a
 * character that is not part of a drawing. */
static long cells_of(const char *line, unsigned char *cells, size_t cap)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)line;
    while (*p != '\0') {
        int v;
        if (p[0] == 0x1b && p[1] == '[') {
            p += 2;
            while (*p != '\0' && !(*p >= 0x40 && *p <= 0x7e)) p++;
            if (*p != '\0') p++;
            continue;
        }
        if (p[0] == ' ') {
            v = 0;
            p++;
        } else if (p[0] == 0xe2 && p[1] == 0x96 && (p[2] == 0x80 || p[2] == 0x84 || p[2] == 0x88)) {
            v = p[2] == 0x80 ? 1 : p[2] == 0x84 ? 2 : 3;
            p += 3;
        } else {
            return -1;
        }
        if (n == cap) return -1;
        cells[n++] = (unsigned char)v;
    }
    return (long)n;
}

static int cmd_qrcheck(int argc, char **argv)
{
    FILE *f;
    uint8_t *text;
    size_t len = 0, start = 0, rows = 0, width = 0, frames = 0, expect_total = 0;
    unsigned char *grid = NULL; /* modules drawn so far for the current frame: rows x width */
    kura_bbqr_joiner *j = NULL;
    int rc = 0, version = 0;
    if (argc != 3) return usage();
    f = fopen(argv[2], "rb");
    if (f == NULL) return usage();
    text = slurp(f, &len);
    fclose(f);
    if (text == NULL || kura_bbqr_joiner_new(&j, 0) != KURA_OK) return 2;
    text = realloc(text, len + 1);
    if (text == NULL) return 2;
    text[len] = '\0';
    while (start < len && rc == 0) {
        char *line = (char *)text + start, *nl = strchr(line, '\n');
        size_t idx, total;
        int consumed = 0;
        if (nl != NULL) *nl = '\0';
        start += strlen(line) + 1;
        if (sscanf(line, "part %zu/%zu %n", &idx, &total, &consumed) == 2 && consumed > 0) {
            const char *part = line + consumed;
            QRcode *qr;
            size_t w = width, size;
            kura_error err;
            if (rows == 0 || width < 2 * 2 + 21) {
                fprintf(stderr, "bbqr-tool: qrcheck: part %zu has no drawing above it\n", idx);
                rc = 1;
                break;
            }
            /* The drawing: a square of `width` modules (rows may have one
             * padding half-row). Its margin of 2 must be light. */
            if (rows < w) {
                fprintf(stderr, "bbqr-tool: qrcheck: part %zu: drawing of %zu x %zu\n", idx, w,
                        rows);
                rc = 1;
                break;
            }
            size = w - 4;
            if (version == 0) version = (int)(size - 17) / 4;
            if ((size - 17) % 4 != 0 || (int)(size - 17) / 4 != version) {
                fprintf(stderr, "bbqr-tool: qrcheck: part %zu: %zu modules is not version %d\n",
                        idx, size, version);
                rc = 1;
                break;
            }
            if (frames + 1 != idx || (expect_total != 0 && total != expect_total)) {
                fprintf(stderr, "bbqr-tool: qrcheck: part %zu/%zu out of sequence\n", idx, total);
                rc = 1;
                break;
            }
            expect_total = total;
            qr = QRcode_encodeString(part, version, QR_ECLEVEL_L, QR_MODE_8, 1);
            if (qr == NULL || qr->version != version || (size_t)qr->width != size) {
                fprintf(stderr, "bbqr-tool: qrcheck: part %zu: libqrencode gives another size\n",
                        idx);
                rc = 1;
                if (qr != NULL) QRcode_free(qr);
                break;
            }
            for (size_t y = 0; y < rows && rc == 0; y++)
                for (size_t x = 0; x < w && rc == 0; x++) {
                    int drawn = grid[y * w + x], want = 0;
                    if (y >= 2 && y < 2 + size && x >= 2 && x < 2 + size)
                        want = qr->data[(y - 2) * size + (x - 2)] & 1;
                    if (drawn != want) {
                        fprintf(stderr,
                                "bbqr-tool: qrcheck: part %zu: module (%zu,%zu) is drawn %s\n",
                                idx, x, y, drawn ? "dark" : "light");
                        rc = 1;
                    }
                }
            QRcode_free(qr);
            if (rc != 0) break;
            if (kura_bbqr_joiner_add(j, NULL, part, strlen(part), &err) != KURA_OK) {
                fprintf(stderr, "bbqr-tool: qrcheck: part %zu: %s\n", idx, err.message);
                rc = 1;
                break;
            }
            frames++;
            rows = 0;
            continue;
        }
        {
            unsigned char cells[512];
            long n = cells_of(line, cells, sizeof(cells));
            if (n <= 0) { /* not a drawing: a message line; a drawing restarts after it */
                rows = 0;
                continue;
            }
            if (rows == 0) {
                width = (size_t)n;
                free(grid);
                grid = calloc(width * (width + 2), 1);
                if (grid == NULL) return 2;
            }
            if ((size_t)n != width || rows + 2 > width + 2) {
                rows = 0;
                continue;
            }
            for (size_t x = 0; x < width; x++) {
                grid[rows * width + x] = cells[x] & 1;
                grid[(rows + 1) * width + x] = (cells[x] >> 1) & 1;
            }
            rows += 2;
        }
    }
    if (rc == 0 && (frames == 0 || frames != expect_total)) {
        fprintf(stderr, "bbqr-tool: qrcheck: %zu drawings for %zu parts\n", frames, expect_total);
        rc = 1;
    }
    if (rc == 0) {
        fprintf(stderr, "bbqr-tool: qrcheck: %zu QR codes of version %d match their parts\n",
                frames, version);
        rc = joined(j, "qrcheck");
    }
    free(grid);
    free(text);
    kura_bbqr_joiner_free(j);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    if (strcmp(argv[1], "split") == 0) return cmd_split(argc, argv);
    if (strcmp(argv[1], "join") == 0) return cmd_join(argc, argv);
    if (strcmp(argv[1], "qrcheck") == 0) return cmd_qrcheck(argc, argv);
    return usage();
}
