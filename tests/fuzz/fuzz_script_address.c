/* Fuzz target: addresses to scripts and back, on every network.
 *
 * The input is read two ways. As a NUL-terminated address: each network
 * either refuses it (KURA_EDATA, an "address: " message, cleared output) or
 * gives a script whose address on that network is the input again (lower-cased
 * for bech32, exact for Base58Check); a mainnet address is accepted nowhere
 * else. As raw scriptPubKey bytes: any script that has an address must map
 * back from that address to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const kura_network NETWORKS[] = {KURA_NETWORK_MAINNET, KURA_NETWORK_TESTNET,
                                        KURA_NETWORK_REGTEST};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_script_address: %s\n", what);
        abort();
    }
}

static int is_witness(kura_script_type t)
{
    return t == KURA_SCRIPT_P2WPKH || t == KURA_SCRIPT_P2WSH || t == KURA_SCRIPT_P2TR ||
           t == KURA_SCRIPT_WITNESS_UNKNOWN;
}

static void as_address(const char *s, const char *low)
{
    int accepted[3] = {0, 0, 0};
    for (size_t k = 0; k < 3; k++) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        char back[KURA_ADDRESS_MAX];
        size_t n = 99;
        kura_error err = {0};
        int rc = kura_address_to_script(script, sizeof(script), &n, s, NETWORKS[k], &err);
        if (rc != KURA_OK) {
            check(rc == KURA_EDATA && err.code == KURA_EDATA, "refusal not KURA_EDATA");
            check(strncmp(err.message, "address: ", 9) == 0, "message prefix");
            check(n == 0, "written not cleared");
            continue;
        }
        accepted[k] = 1;
        check(n > 0 && n <= KURA_SCRIPT_PUBKEY_MAX, "script length");
        check(kura_address_from_script(back, sizeof(back), script, n, NETWORKS[k], &err) == KURA_OK,
              "accepted address's script has no address");
        if (is_witness(kura_script_classify(script, n, NULL, NULL, NULL))) {
            check(strcmp(back, low) == 0, "bech32 round trip differs");
        } else {
            check(strcmp(back, s) == 0, "base58 round trip differs");
        }
    }
    /* Mainnet shares nothing with the others; testnet and regtest share
     * only Base58 versions. */
    check(!(accepted[0] && (accepted[1] || accepted[2])), "accepted on mainnet and elsewhere");
}

static void as_script(const uint8_t *data, size_t size)
{
    kura_script_type t = kura_script_classify(data, size, NULL, NULL, NULL);
    for (size_t k = 0; k < 3; k++) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        char addr[KURA_ADDRESS_MAX];
        size_t n;
        kura_error err = {0};
        int rc = kura_address_from_script(addr, sizeof(addr), data, size, NETWORKS[k], &err);
        if (rc != KURA_OK) {
            check(rc == KURA_EDATA, "from_script refusal not KURA_EDATA");
            check(t == KURA_SCRIPT_NONSTANDARD || t == KURA_SCRIPT_MULTISIG ||
                      t == KURA_SCRIPT_OP_RETURN,
                  "addressable type refused");
            continue;
        }
        check(kura_address_to_script(script, sizeof(script), &n, addr, NETWORKS[k], &err) ==
                  KURA_OK,
              "own address refused");
        check(n == size && memcmp(script, data, size) == 0, "script round trip differs");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *low;
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    low = strdup(s);
    if (low != NULL) {
        for (char *p = low; *p != '\0'; p++) {
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        }
        as_address(s, low);
        free(low);
    }
    free(s);
    as_script(data, size);
    return 0;
}
