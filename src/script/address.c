/*
 * src/script/address.c — addresses to scriptPubKeys and back, for mainnet,
 * testnet/signet and regtest.
 *
 * This is where a destination typed or pasted by a person becomes the script
 * a transaction pays to, so it refuses rather than guesses: an address of
 * another network is refused with a message naming the network it belongs
 * to (a testnet address on mainnet is a typo or an attack, never a payment),
 * and everything BIP173/BIP350 or Base58Check refuse is refused.
 */
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "kura/encoding.h"
#include "kura/script.h"

/* Base58Check version bytes (Bitcoin Core chainparams.cpp: PUBKEY_ADDRESS
 * and SCRIPT_ADDRESS). Testnet, signet and regtest share 0x6f/0xc4. */
#define B58_P2PKH_MAIN 0x00
#define B58_P2SH_MAIN 0x05
#define B58_P2PKH_TEST 0x6f
#define B58_P2SH_TEST 0xc4

const char *kura_network_hrp(kura_network network)
{
    /* BIP173 "Segwit address format": "bc" for mainnet and "tb" for testnet;
     * Bitcoin Core uses "bcrt" for regtest. Signet shares "tb". */
    switch (network) {
    case KURA_NETWORK_MAINNET: return "bc";
    case KURA_NETWORK_TESTNET: return "tb";
    case KURA_NETWORK_REGTEST: return "bcrt";
    }
    return NULL;
}

/* How an address's own network is named in a refusal ("testnet address"). */
static const char *network_adjective(kura_network network)
{
    switch (network) {
    case KURA_NETWORK_MAINNET: return "mainnet";
    case KURA_NETWORK_TESTNET: return "testnet";
    case KURA_NETWORK_REGTEST: return "regtest";
    }
    return "unknown";
}

/* How the network asked for is named in a refusal ("on bitcoin mainnet"). */
static const char *network_place(kura_network network)
{
    switch (network) {
    case KURA_NETWORK_MAINNET: return "bitcoin mainnet";
    case KURA_NETWORK_TESTNET: return "testnet";
    case KURA_NETWORK_REGTEST: return "regtest";
    }
    return "unknown";
}

static bool network_valid(kura_network network)
{
    return network == KURA_NETWORK_MAINNET || network == KURA_NETWORK_TESTNET ||
           network == KURA_NETWORK_REGTEST;
}

/* The network whose hrp is hrp (lower case), or false for none of ours. */
static bool network_of_hrp(const char *hrp, size_t hrp_len, kura_network *out)
{
    static const kura_network all[] = {KURA_NETWORK_MAINNET, KURA_NETWORK_TESTNET,
                                       KURA_NETWORK_REGTEST};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *h = kura_network_hrp(all[i]);
        if (strlen(h) == hrp_len && memcmp(h, hrp, hrp_len) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

/* Whether the part before the last '1' is, ignoring case, one of kura's
 * hrps: then the string is meant as a segwit address, and its errors are
 * reported as such (BIP173: the separator is the last '1'). */
static bool looks_segwit(const char *addr, size_t len)
{
    char lower[5];
    size_t sep = len;
    kura_network net;
    for (size_t i = 0; i < len; i++) {
        if (addr[i] == '1') sep = i;
    }
    if (sep == len || sep == 0 || sep >= sizeof(lower)) return false;
    for (size_t i = 0; i < sep; i++) {
        char c = addr[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return network_of_hrp(lower, sep, &net);
}

/* Whether every character is in Bitcoin's Base58 alphabet. */
static bool all_base58(const char *s, size_t len)
{
    static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL) return false;
    }
    return true;
}

/* Whether a string that is neither valid Base58Check nor a valid segwit
 * address looks like an attempt at bech32: a '1' after at least one hrp
 * character, and one case only (Base58 mixes cases; bech32 never does). */
static bool likely_bech32(const char *s, size_t len)
{
    bool lower = false, upper = false;
    const char *sep = strrchr(s, '1');
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= 'a' && s[i] <= 'z') lower = true;
        if (s[i] >= 'A' && s[i] <= 'Z') upper = true;
    }
    return sep != NULL && sep != s && !(lower && upper);
}

/* Writes OP_n <program>, the BIP141 witness output for version and program. */
static size_t witness_script(uint8_t *out, unsigned version, const uint8_t *program, size_t len)
{
    out[0] = (uint8_t)(version == 0 ? 0x00 : 0x50 + version);
    out[1] = (uint8_t)len;
    memcpy(out + 2, program, len);
    return 2 + len;
}

static int segwit_to_script(uint8_t *script_out, size_t *written, const char *address,
                            kura_network network, kura_error *err)
{
    char hrp[KURA_BECH32_MAX + 1];
    uint8_t program[40];
    size_t program_len = 0;
    unsigned version = 0;
    kura_network belongs;
    int rc;

    /* The whole address is checked before its network is looked at, so a
     * malformed address is reported as malformed whatever its hrp. */
    rc = kura_segwit_address_parse(hrp, sizeof(hrp), &version, program, sizeof(program),
                                   &program_len, address, err);
    if (rc != KURA_OK) return rc;
    if (!network_of_hrp(hrp, strlen(hrp), &belongs))
        return kura_fail(err, KURA_EDATA, "address: unknown human-readable part \"%s\"", hrp);
    if (belongs != network)
        return kura_fail(err, KURA_EDATA, "address: %s address on %s",
                         network_adjective(belongs), network_place(network));
    *written = witness_script(script_out, version, program, program_len);
    return KURA_OK;
}

static int base58_to_script(uint8_t *script_out, size_t *written, const char *address,
                            size_t len, kura_network network, kura_error *err)
{
    /* At most 90 characters reach here: under 66 bytes once decoded. */
    uint8_t payload[96];
    size_t n = 0;
    bool mainnet_version, p2sh;
    kura_error inner = {0};
    int rc;

    rc = kura_base58check_decode(payload, sizeof(payload), &n, address, &inner);
    if (rc != KURA_OK) {
        char hrp[KURA_BECH32_MAX + 1];
        uint8_t program[40];
        size_t program_len;
        unsigned version;
        kura_error seg = {0};
        /* Not Base58Check. If it is a well-formed segwit address, its hrp
         * is simply not one of ours (e.g. "tc1..." or a Litecoin "ltc1..."). */
        if (kura_segwit_address_parse(hrp, sizeof(hrp), &version, program, sizeof(program),
                                      &program_len, address, &seg) == KURA_OK)
            return kura_fail(err, KURA_EDATA,
                             "address: unknown human-readable part \"%s\" (bitcoin uses \"bc\", "
                             "testnet \"tb\", regtest \"bcrt\")",
                             hrp);
        /* A single-case string with a separator after some hrp and with
         * characters Base58 lacks was more likely meant as bech32: give the
         * bech32 reason. Otherwise the Base58 one. */
        if (likely_bech32(address, len) && !all_base58(address, len))
            return kura_fail(err, KURA_EDATA, "%s", seg.message);
        /* The payload buffer holds any 90-character string, so the only
         * failure left is bad data. */
        return kura_fail(err, KURA_EDATA, "address: %s", inner.message);
    }

    /* A P2PKH or P2SH address is a version byte and a 20-byte hash. The
     * payload is wiped whatever happens: a person may paste a WIF private
     * key where an address belongs. */
    if (n != 21) {
        rc = kura_fail(err, KURA_EDATA,
                       "address: Base58Check payload of %zu bytes (an address has 21)", n);
        goto done;
    }
    switch (payload[0]) {
    case B58_P2PKH_MAIN: mainnet_version = true; p2sh = false; break;
    case B58_P2SH_MAIN: mainnet_version = true; p2sh = true; break;
    case B58_P2PKH_TEST: mainnet_version = false; p2sh = false; break;
    case B58_P2SH_TEST: mainnet_version = false; p2sh = true; break;
    default:
        rc = kura_fail(err, KURA_EDATA,
                       "address: Base58Check version byte 0x%02x is not a bitcoin address",
                       (unsigned)payload[0]);
        goto done;
    }
    if (mainnet_version != (network == KURA_NETWORK_MAINNET)) {
        rc = kura_fail(err, KURA_EDATA, "address: %s address on %s",
                       mainnet_version ? "mainnet" : "testnet", network_place(network));
        goto done;
    }
    if (p2sh) {
        rc = kura_script_p2sh(script_out, KURA_SCRIPT_PUBKEY_MAX, written, payload + 1);
    } else {
        rc = kura_script_p2pkh(script_out, KURA_SCRIPT_PUBKEY_MAX, written, payload + 1);
    }
done:
    sodium_memzero(payload, sizeof(payload));
    return rc;
}

int kura_address_to_script(uint8_t *script_out, size_t out_len, size_t *written,
                           const char *address, kura_network network, kura_error *err)
{
    size_t len;
    int rc;

    if (written != NULL) *written = 0;
    if (script_out == NULL || written == NULL || address == NULL)
        return kura_fail(err, KURA_EINVAL, "address: NULL argument");
    if (out_len < KURA_SCRIPT_PUBKEY_MAX)
        return kura_fail(err, KURA_EINVAL, "address: script buffer of %zu bytes, %d needed",
                         out_len, KURA_SCRIPT_PUBKEY_MAX);
    if (!network_valid(network)) return kura_fail(err, KURA_EINVAL, "address: unknown network");
    memset(script_out, 0, out_len);

    len = strnlen(address, KURA_BECH32_MAX + 1);
    if (len == 0) return kura_fail(err, KURA_EDATA, "address: empty");
    if (len > KURA_BECH32_MAX)
        return kura_fail(err, KURA_EDATA, "address: longer than %d characters", KURA_BECH32_MAX);

    if (looks_segwit(address, len)) {
        rc = segwit_to_script(script_out, written, address, network, err);
    } else {
        rc = base58_to_script(script_out, written, address, len, network, err);
    }
    if (rc != KURA_OK) {
        memset(script_out, 0, out_len);
        *written = 0;
    }
    return rc;
}

int kura_address_from_script(char *out, size_t out_len, const uint8_t *script, size_t len,
                             kura_network network, kura_error *err)
{
    const uint8_t *program = NULL;
    size_t program_len = 0;
    unsigned version = 0;
    kura_script_type type;
    uint8_t payload[21];
    int rc;

    if (out == NULL || out_len == 0) return kura_fail(err, KURA_EINVAL, "address: NULL output");
    out[0] = '\0';
    if (script == NULL && len != 0) return kura_fail(err, KURA_EINVAL, "address: NULL script");
    if (out_len < KURA_ADDRESS_MAX)
        return kura_fail(err, KURA_EINVAL, "address: output of %zu chars, %d needed", out_len,
                         KURA_ADDRESS_MAX);
    if (!network_valid(network)) return kura_fail(err, KURA_EINVAL, "address: unknown network");

    type = kura_script_classify(script, len, &program, &program_len, &version);
    switch (type) {
    case KURA_SCRIPT_P2PKH:
    case KURA_SCRIPT_P2SH:
        if (network == KURA_NETWORK_MAINNET) {
            payload[0] = type == KURA_SCRIPT_P2PKH ? B58_P2PKH_MAIN : B58_P2SH_MAIN;
        } else {
            payload[0] = type == KURA_SCRIPT_P2PKH ? B58_P2PKH_TEST : B58_P2SH_TEST;
        }
        memcpy(payload + 1, program, 20);
        rc = kura_base58check_encode(out, out_len, payload, sizeof(payload));
        break;
    case KURA_SCRIPT_P2WPKH:
    case KURA_SCRIPT_P2WSH:
    case KURA_SCRIPT_P2TR:
    case KURA_SCRIPT_WITNESS_UNKNOWN:
        rc = kura_segwit_address_encode(out, out_len, kura_network_hrp(network), version, program,
                                        program_len);
        break;
    case KURA_SCRIPT_NONSTANDARD:
    case KURA_SCRIPT_MULTISIG:
    case KURA_SCRIPT_OP_RETURN:
    default:
        return kura_fail(err, KURA_EDATA, "address: a %s script has no address",
                         kura_script_type_name(type));
    }
    if (rc != KURA_OK) {
        out[0] = '\0';
        /* Buffers were checked above, so this is an internal inconsistency. */
        return kura_fail(err, rc, "address: cannot encode the %s script",
                         kura_script_type_name(type));
    }
    return KURA_OK;
}
