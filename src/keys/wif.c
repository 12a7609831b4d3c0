/*
 * src/keys/wif.c — Wallet Import Format: Base58Check of a version byte (0x80
 * mainnet, 0xef testnet/signet/regtest), the 32-byte secret key and, for a key
 * whose public key is used compressed, a trailing 0x01.
 */
#include <string.h>

#include <secp256k1.h>
#include <sodium.h>

#include "internal.h"
#include "keys_internal.h"
#include "kura/encoding.h"

#define WIF_MAINNET 0x80
#define WIF_TESTNET 0xef

int kura_wif_decode(uint8_t priv[32], int *compressed, kura_network *network, const char *wif,
                    kura_error *err)
{
    uint8_t buf[40];
    size_t n = 0;
    int rc;

    if (priv != NULL) sodium_memzero(priv, 32);
    if (compressed != NULL) *compressed = 0;
    if (network != NULL) *network = KURA_NETWORK_MAINNET;
    if (priv == NULL || compressed == NULL || network == NULL || wif == NULL)
        return kura_fail(err, KURA_EINVAL, "wif: NULL argument");

    {
        kura_error inner;
        rc = kura_base58check_decode(buf, sizeof(buf), &n, wif, &inner);
        /* A payload over 40 bytes is simply not a WIF: bad data, not misuse. */
        if (rc == KURA_EINVAL) {
            rc = kura_fail(err, KURA_EDATA, "wif: payload too long");
            goto done;
        }
        if (rc != KURA_OK) {
            rc = kura_fail(err, rc, "wif: %s", inner.message);
            goto done;
        }
    }
    if (n != 33 && n != 34) {
        rc = kura_fail(err, KURA_EDATA, "wif: payload of %zu bytes, not 33 or 34", n);
        goto done;
    }
    if (n == 34 && buf[33] != 0x01) {
        rc = kura_fail(err, KURA_EDATA, "wif: compression flag is not 0x01");
        goto done;
    }
    if (buf[0] != WIF_MAINNET && buf[0] != WIF_TESTNET) {
        rc = kura_fail(err, KURA_EDATA, "wif: unknown version byte 0x%02x", buf[0]);
        goto done;
    }
    if (!secp256k1_ec_seckey_verify(secp256k1_context_static, buf + 1)) {
        rc = kura_fail(err, KURA_EDATA, "wif: key out of range 1..n-1");
        goto done;
    }
    memcpy(priv, buf + 1, 32);
    *compressed = n == 34;
    *network = buf[0] == WIF_MAINNET ? KURA_NETWORK_MAINNET : KURA_NETWORK_TESTNET;
    rc = KURA_OK;
done:
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

int kura_wif_encode(char *out, size_t out_len, const uint8_t priv[32], int compressed,
                    kura_network network)
{
    uint8_t buf[34];
    size_t n = compressed ? 34 : 33;
    int rc;

    if (out != NULL && out_len > 0) out[0] = '\0';
    if (out == NULL || priv == NULL) return KURA_EINVAL;
    switch (network) {
    case KURA_NETWORK_MAINNET: buf[0] = WIF_MAINNET; break;
    case KURA_NETWORK_TESTNET:
    case KURA_NETWORK_REGTEST: buf[0] = WIF_TESTNET; break;
    default: return KURA_EINVAL;
    }
    if (!secp256k1_ec_seckey_verify(secp256k1_context_static, priv)) return KURA_EINVAL;
    memcpy(buf + 1, priv, 32);
    buf[33] = 0x01;
    rc = kura_base58check_encode(out, out_len, buf, n);
    sodium_memzero(buf, sizeof(buf));
    return rc;
}
