#!/usr/bin/env bash
# kura-cli.sh KURA — the `kura` tool end to end: the demo runs and its final
# transaction decodes; BIP84's published first addresses come out of a
# descriptor; bad input gives exit 1 with "kura: <command>: <reason>", and
# usage errors exit 2.
set -u
kura=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
check() { # check NAME CONDITION-RESULT
  if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1"; fi
}
expect_exit() { # expect_exit NAME CODE STDERR-PATTERN -- ARGS...
  local name=$1 code=$2 pattern=$3; shift 4
  "$kura" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" != "$code" ] || ! grep -q -- "$pattern" "$work/err"; then
    echo "FAILED: $name: exit $got (want $code), stderr: $(cat "$work/err")"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

# The demo: a 2-of-3 PSBT built, signed twice, finalized.
"$kura" demo >"$work/demo" 2>&1; check "demo exits 0" $?
grep -q '^cosigner 3 signed 2 input(s)$' "$work/demo"; check "demo: cosigner 3 signs" $?
grep -q '^cosigner 1 signed 2 input(s)$' "$work/demo"; check "demo: cosigner 1 signs" $?
tail -n 1 "$work/demo" >"$work/tx.hex"
"$kura" tx "$work/tx.hex" >"$work/tx" 2>&1; check "demo tx decodes" $?
grep -q '^output 0: 1.50000000 BTC (150000000 sat) to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' "$work/tx"
check "demo tx pays 1.5 BTC" $?
grep -q 'input 1: .* 4 witness item(s)' "$work/tx"; check "demo tx: 2-of-3 witness" $?
"$kura" tx "$work/tx.hex" --network regtest >"$work/tx-reg" 2>&1; check "tx --network regtest" $?
grep -q '^output 0: 1.50000000 BTC (150000000 sat) to bcrt1qar0srrr7xfkvy5l643lydnw9re59gtzz' "$work/tx-reg"
check "regtest spelling of the destination" $?
txid=$(grep -o 'final transaction [0-9a-f]*' "$work/demo" | cut -d' ' -f3)
grep -q "^txid: $txid$" "$work/tx"; check "demo txid agrees" $?

# BIP84's test vector account (mnemonic "abandon ... about"): first receive and change.
xpub=xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V
"$kura" address "wpkh([73c5da0a/84h/0h/0h]$xpub/<0;1>/*)" --count 2 >"$work/recv"; check "address exits 0" $?
printf '0/0 bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu\n0/1 bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g\n' | cmp -s - "$work/recv"
check "BIP84 receive addresses" $?
"$kura" address "wpkh([73c5da0a/84h/0h/0h]$xpub/<0;1>/*)" --branch 1 --count 1 >"$work/chg"
grep -q '^1/0 bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el$' "$work/chg"; check "BIP84 change address" $?
"$kura" descriptor "wpkh([73c5da0a/84h/0h/0h]$xpub/<0;1>/*)" >"$work/desc"; check "descriptor exits 0" $?
grep -q '^branches: 2$' "$work/desc"; check "descriptor: two branches" $?

# Refusals: bad data exits 1, usage exits 2.
expect_exit "bad checksum" 1 'kura: descriptor: ' -- descriptor "wpkh($xpub/0/*)#aaaaaaaa"
expect_exit "wrong network" 1 'not for testnet' -- address "wpkh($xpub/0/*)" --network testnet
expect_exit "no branch 2" 1 'no branch 2' -- address "wpkh($xpub/<0;1>/*)" --branch 2
printf 'cHNidP8=' >"$work/bad.psbt"
expect_exit "truncated psbt" 1 'kura: psbt: ' -- psbt "$work/bad.psbt"
printf '0200000001' >"$work/bad.tx"
expect_exit "truncated tx" 1 'kura: tx: ' -- tx "$work/bad.tx"
expect_exit "missing file" 2 'cannot read' -- psbt "$work/nope"
expect_exit "unknown command" 2 'usage' -- frobnicate
expect_exit "unknown network" 2 'unknown network' -- tx "$work/tx.hex" --network moon

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
