#include "e2e-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/script.h"

uint8_t *e2e_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    *len = 0;
    if (f == NULL) return NULL;
    for (;;) {
        size_t got;
        if (n + 4096 + 1 > cap) {
            uint8_t *nb = realloc(buf, cap == 0 ? 65536 : 2 * cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap == 0 ? 65536 : 2 * cap;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

int e2e_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

int e2e_load_psbt(kura_psbt **out, const char *path, kura_error *err)
{
    size_t len;
    uint8_t *data = e2e_read_file(path, &len);
    int rc;
    if (data == NULL) return E2E_EREAD;
    if (len >= 5 && memcmp(data, "psbt\xff", 5) == 0) {
        rc = kura_psbt_parse(out, data, len, err);
    } else {
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) len--;
        rc = kura_psbt_from_base64(out, (const char *)data, len, err);
    }
    free(data);
    return rc;
}

int e2e_funding_tx(kura_tx **out, const kura_ctx *ctx, const kura_descriptor *d, size_t branch,
                   uint32_t index, const uint8_t prev[32], uint32_t prev_vout, uint64_t amount,
                   kura_error *err)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    size_t len;
    *out = kura_tx_new();
    if (*out == NULL ||
        kura_descriptor_script_pubkey(ctx, script, sizeof(script), &len, d, branch, index, err) !=
            KURA_OK ||
        kura_tx_add_input(*out, prev, prev_vout, 0xfffffffdu, NULL, 0) != KURA_OK ||
        kura_tx_add_output(*out, amount, script, len) != KURA_OK)
        return -1;
    return 0;
}
