/*
 * programs/kura-cold/qr.c — the air gap in both directions as BBQr
 * (docs/bbqr.md): a PSBT shown as an animated QR in the terminal
 * (libqrencode draws each part), and a package read from BBQr parts typed or
 * scanned one per line (a handheld scanner in keyboard mode types exactly
 * that), in any order, until the series is complete.
 *
 * Neither direction touches a network: the terminal is the only channel.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qrencode.h>

#include "cold.h"
#include "kura/bbqr.h"
#include "kura/psbt.h"

/* The largest QR version shown: version 12 is 65 modules, 69 columns and 35
 * lines with its margin, which fits a terminal of 80x40; phones and
 * hardware wallets read it easily from a screen. */
#define QR_MAX_VERSION 12
#define QR_MARGIN 2
/* Time each part is shown (BBQr.md suggests 250 ms for a Coldcard Q; a
 * terminal redraws more slowly than an LCD). */
#define QR_FRAME_MS 400

/* Draws one QR code: two module rows per text line with the half-block
 * characters, black on white whatever the terminal's colours (a scanner
 * needs dark modules on a light background). */
static void draw(const QRcode *qr)
{
    int w = qr->width + 2 * QR_MARGIN;
    for (int y = 0; y < w; y += 2) {
        fputs("\x1b[30;47m", stdout);
        for (int x = 0; x < w; x++) {
            int top = 0, bottom = 0, mx = x - QR_MARGIN;
            int my = y - QR_MARGIN;
            if (mx >= 0 && mx < qr->width) {
                if (my >= 0 && my < qr->width)
                    top = qr->data[(size_t)my * (size_t)qr->width + (size_t)mx] & 1;
                if (my + 1 >= 0 && my + 1 < qr->width)
                    bottom = qr->data[(size_t)(my + 1) * (size_t)qr->width + (size_t)mx] & 1;
            }
            fputs(top && bottom ? "\xe2\x96\x88"   /* U+2588 full block */
                  : top         ? "\xe2\x96\x80"   /* U+2580 upper half */
                  : bottom      ? "\xe2\x96\x84"   /* U+2584 lower half */
                                : " ",
                  stdout);
        }
        fputs("\x1b[0m\n", stdout);
    }
}

/* Waits ms milliseconds, or less when a line arrives on stdin. Returns 1
 * when the operator pressed Enter (or stdin ended). */
static int wait_or_enter(int ms)
{
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r > 0) {
        char line[COLD_LINE_MAX];
        size_t len;
        (void)cold_read_line(STDIN_FILENO, line, sizeof(line), &len);
        return 1;
    }
    return 0;
}

int cold_show_qr(const uint8_t *data, size_t len, int with_text)
{
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    QRcode **codes = NULL;
    int animate = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    int rc = COLD_EXIT_CANNOT;

    o.encoding = KURA_BBQR_ZLIB;
    o.file_type = KURA_BBQR_PSBT;
    o.max_version = QR_MAX_VERSION;
    if (kura_bbqr_split(&s, data, len, &o) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "the PSBT does not fit in %d QR codes of version %d",
                         KURA_BBQR_MAX_PARTS, QR_MAX_VERSION);
    codes = calloc(s->count, sizeof(*codes));
    if (codes == NULL) {
        cold_fail(COLD_EXIT_CANNOT, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->count; i++) {
        /* Every part at the series' version (the smallest that holds the
         * longest part), so the picture does not change size. The text is
         * all QR-alphanumeric, which libqrencode encodes in that mode. */
        codes[i] = QRcode_encodeString(s->parts[i], (int)s->version, QR_ECLEVEL_L, QR_MODE_8, 1);
        if (codes[i] == NULL || codes[i]->version != (int)s->version) {
            cold_fail(COLD_EXIT_CANNOT, "libqrencode could not encode part %zu: %s", i + 1,
                      codes[i] == NULL ? strerror(errno) : "unexpected version");
            goto done;
        }
    }
    if (animate) fputs("\x1b[2J", stdout);
    for (;;) {
        for (size_t i = 0; i < s->count; i++) {
            if (animate) fputs("\x1b[H", stdout);
            draw(codes[i]);
            printf("part %zu/%zu", i + 1, s->count);
            if (with_text) printf(" %s", s->parts[i]);
            if (animate) printf("   BBQr, %zu bytes; press Enter to stop\x1b[K", len);
            printf("\n");
            fflush(stdout);
            if (animate && wait_or_enter(QR_FRAME_MS)) {
                rc = COLD_EXIT_OK;
                goto done;
            }
        }
        if (!animate) break; /* not a terminal: every part once, for a program to read */
    }
    rc = COLD_EXIT_OK;
done:
    if (codes != NULL) {
        for (size_t i = 0; i < s->count; i++)
            if (codes[i] != NULL) QRcode_free(codes[i]);
        free(codes);
    }
    kura_bbqr_parts_free(s);
    return rc;
}

int cold_read_bbqr(uint8_t **out, size_t *out_len, int fd, const uint8_t *text, size_t text_len,
                   const char *source)
{
    kura_bbqr_joiner *j = NULL;
    kura_bbqr_reason reason;
    kura_error err;
    char line[KURA_BBQR_PART_MAX + 2], type = 0;
    size_t len, got, total, off = 0;
    int rc = COLD_EXIT_CANNOT;
    *out = NULL;
    *out_len = 0;
    if (kura_bbqr_joiner_new(&j, KURA_PSBT_MAX_SIZE) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "out of memory");
    while (!kura_bbqr_joiner_progress(j, &got, &total)) {
        int r;
        if (text != NULL) {
            /* The next line of the file. */
            const uint8_t *nl;
            if (off >= text_len) {
                r = 0;
            } else {
                nl = memchr(text + off, '\n', text_len - off);
                len = (nl != NULL ? (size_t)(nl - text) : text_len) - off;
                if (len >= sizeof(line)) {
                    r = -1;
                } else {
                    memcpy(line, text + off, len);
                    line[len] = '\0';
                    r = 1;
                }
                off += len + 1;
            }
        } else {
            r = cold_read_line(fd, line, sizeof(line), &len);
        }
        if (r == 0) {
            cold_fail(COLD_EXIT_CANNOT, "%s ended with %zu of %zu BBQr parts", source, got,
                      total);
            goto done;
        }
        if (r < 0) {
            cold_note("a line of %s is longer than any BBQr part; skipped", source);
            continue;
        }
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = '\0';
        if (len == 0) continue;
        if (kura_bbqr_joiner_add(j, &reason, line, len, &err) != KURA_OK) {
            /* A misread or a part of another series: say so and read on,
             * the operator scans again. */
            cold_note("part refused: %s", err.message);
            continue;
        }
        kura_bbqr_joiner_progress(j, &got, &total);
        if (text == NULL) cold_note("BBQr part read: %zu of %zu", got, total);
    }
    if (kura_bbqr_joiner_finish(j, out, out_len, &type, &reason, &err) != KURA_OK) {
        cold_fail(COLD_EXIT_CANNOT, "the BBQr series from %s does not decode: %s", source,
                  err.message);
        goto done;
    }
    if (type != KURA_BBQR_PSBT) {
        free(*out);
        *out = NULL;
        *out_len = 0;
        cold_fail(COLD_EXIT_CANNOT, "the BBQr series from %s is of type %c, not a PSBT (P)",
                  source, type);
        goto done;
    }
    rc = COLD_EXIT_OK;
done:
    kura_bbqr_joiner_free(j);
    return rc;
}

int cold_ask_yes_after_bbqr(const char *question)
{
    char line[KURA_BBQR_PART_MAX + 2];
    size_t len;
    printf("%s\n", question);
    fflush(stdout);
    for (;;) {
        int r = cold_read_line(STDIN_FILENO, line, sizeof(line), &len);
        if (r == 0) return 0;
        if (r < 0) continue; /* a line too long to be anything: not "yes" either */
        /* A scanner still reading the animation types more parts after the
         * series is complete; they are not an answer. Nothing that starts
         * with "B$" is "yes", so skipping them never confirms anything. */
        if (len >= 2 && line[0] == 'B' && line[1] == '$') continue;
        return strcmp(line, "yes") == 0;
    }
}

int cold_cmd_qr_show(const cold_env *env)
{
    const char *path = env->args->pos[0];
    uint8_t *buf = NULL, *bin = NULL;
    size_t len = 0, bin_len = 0, n;
    kura_psbt *psbt = NULL;
    kura_error err;
    int rc;
    if (path == NULL) return cold_fail(COLD_EXIT_CANNOT, "usage: kura-cold qr show FILE");
    if (cold_read_file(&buf, &len, path, 2u * KURA_PSBT_MAX_SIZE) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", path, strerror(errno));
    /* Binary or base64, as sign reads and writes; shown as the binary PSBT
     * (what BBQr type P carries), after checking that it is one. */
    if (len >= 5 && memcmp(buf, "psbt\xff", 5) == 0) {
        rc = kura_psbt_parse(&psbt, buf, len, &err);
    } else {
        n = len;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
        rc = kura_psbt_from_base64(&psbt, (const char *)buf, n, &err);
    }
    if (rc != KURA_OK) {
        free(buf);
        return cold_fail(COLD_EXIT_CANNOT, "%s is not a PSBT: %s", path, err.message);
    }
    if (len >= 5 && memcmp(buf, "psbt\xff", 5) == 0) {
        /* The file's own bytes, exactly. */
        kura_psbt_free(psbt);
        rc = cold_show_qr(buf, len, env->args->value[OPT_QR_TEXT] != NULL);
        free(buf);
        return rc;
    }
    rc = kura_psbt_serialize(&bin, &bin_len, psbt);
    kura_psbt_free(psbt);
    free(buf);
    if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "cannot serialize the PSBT");
    rc = cold_show_qr(bin, bin_len, env->args->value[OPT_QR_TEXT] != NULL);
    free(bin);
    return rc;
}
