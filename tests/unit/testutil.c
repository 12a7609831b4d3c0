#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

json_t *tu_load_json(const char *name)
{
    char path[1024];
    json_error_t jerr;
    json_t *root;
    snprintf(path, sizeof(path), "%s/%s", KURA_VECTORS_DIR, name);
    root = json_load_file(path, 0, &jerr);
    if (root == NULL) fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    return root;
}

char *tu_read_file(const char *relpath, size_t *len_out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", KURA_TESTS_DIR, relpath);
    return tu_slurp(path, len_out);
}

char *tu_slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (f == NULL) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) fail_msg("short read on %s", path);
    fclose(f);
    buf[n] = '\0';
    if (len_out != NULL) *len_out = (size_t)n;
    return buf;
}

void tu_spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) fail_msg("cannot write %s", path);
    fclose(f);
}

void tu_write_new_file(const char *path, const void *data, size_t len, unsigned mode)
{
    int fd;
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, (mode_t)mode);
    if (fd < 0) fail_msg("cannot create %s", path);
    if (len > 0) assert_int_equal(write(fd, data, len), (ssize_t)len);
    fchmod(fd, (mode_t)mode);
    close(fd);
}

void tu_run(const char *cmd)
{
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

void tu_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        chmod(p, 0700);
        if (rmdir(p) != 0) unlink(p);
    }
    if (d != NULL) closedir(d);
    rmdir(dir);
}

char *tu_edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t tl = strlen(text), fl = strlen(from), nl = strlen(to);
    char *out;
    if (at == NULL) fail_msg("edit: '%s' not in text", from);
    if (strstr(at + 1, from) != NULL) fail_msg("edit: '%s' appears twice", from);
    out = malloc(tl - fl + nl + 1);
    assert_non_null(out);
    memcpy(out, text, (size_t)(at - text));
    memcpy(out + (at - text), to, nl);
    memcpy(out + (at - text) + nl, at + fl, tl - (size_t)(at - text) - fl + 1);
    return out;
}

char *tu_lower_copy(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *p = out; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    return out;
}

void tu_ssh_keygen(const char *dir, const char *name, const char *type)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t %s -N '' -C test -f %s/%s >/dev/null", type,
             dir, name);
    tu_run(cmd);
}

char *tu_ssh_sign(const char *dir, const char *name, const char *ns, const void *message,
                  size_t message_len, size_t *sig_len)
{
    char msg[128], sig[128], cmd[512];
    static unsigned counter; /* a fresh file name per signature */
    snprintf(msg, sizeof(msg), "%s/msg%u", dir, counter);
    snprintf(sig, sizeof(sig), "%s/sig%u", dir, counter);
    counter++;
    tu_spit(msg, message, message_len);
    /* Message on stdin, signature on stdout: ssh-keygen's file mode would
     * stop to ask before overwriting. */
    snprintf(cmd, sizeof(cmd), "ssh-keygen -Y sign -f %s/%s -n %s < %s > %s 2>/dev/null", dir,
             name, ns, msg, sig);
    tu_run(cmd);
    return tu_slurp(sig, sig_len);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *tu_unhex(const char *hex, size_t *len_out)
{
    size_t n = strlen(hex);
    uint8_t *out;
    if (n % 2 != 0) fail_msg("odd-length hex: %.40s", hex);
    out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) fail_msg("bad hex: %.40s", hex);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len_out = n / 2;
    return out;
}

void tu_unhex_fixed(const char *hex, uint8_t *out, size_t len)
{
    size_t n;
    uint8_t *b = tu_unhex(hex, &n);
    if (n != len) fail_msg("expected %zu bytes of hex, got %zu", len, n);
    memcpy(out, b, len);
    free(b);
}

char *tu_hex(const uint8_t *data, size_t len)
{
    static char *buf = NULL;
    static const char digits[] = "0123456789abcdef";
    free(buf);
    buf = malloc(2 * len + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
        buf[2 * i] = digits[data[i] >> 4];
        buf[2 * i + 1] = digits[data[i] & 15];
    }
    buf[2 * len] = '\0';
    return buf;
}

const char *tu_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) fail_msg("vector lacks string field '%s'", key);
    return json_string_value(v);
}

void tu_assert_bytes_equal_impl(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                const char *file, int line)
{
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0)) return;
    {
        char *ha = strdup(tu_hex(a, alen));
        char *hb = strdup(tu_hex(b, blen));
        print_error("%s:%d: bytes differ\n  got:  %s\n  want: %s\n", file, line, ha, hb);
        free(ha);
        free(hb);
        fail();
    }
}
