#!/usr/bin/env bash
# cold-bump.sh KURA-COLD PACKAGE-HELPER — fee bumps (RBF) end to end with the
# real signer: an intent is signed; the same intent paying the same outputs
# from the same coins with a higher fee is signed again as a fee bump (the
# operator is shown the transaction it replaces and old fee -> new fee, and
# the journal links the two); a "replacement" that spends other coins is a
# second payment and is refused as a replay; a fee that is not higher and a
# fee over the intent's max-fee are refused with their reasons (BIP125
# signalling is covered by tests/unit/test_check.c: cold-package always
# signals); the journal holds both signatures and still verifies.
cold=$1 pkg=$2
. "$(dirname "$0")/cold-lib.sh"
require_hooks

cold_keys || { echo "FAILED: ssh-keygen"; exit 1; }
cold_signers || { echo "FAILED: signers"; exit 1; }
cold_ceremony; check "ceremony" $?
A=$work/a
D1=$("$pkg" addr regtest 1)
ID=0b1c2a9e7b3d4c58a1e0f6b2d9c3e7a1
yes=$work/yes
echo yes >"$yes"
# Every package: the same intent (id, times, output, max-fee 10000) and,
# as long as change + fee stays 1001000 and there are 2 coins, the same
# two coins (cold-package derives them from the id and their amounts).
bump_package() { # NAME FEE CHANGE [more make options]
  local name=$1 fee=$2 change=$3
  shift 3
  cold_package "$name" --id "$ID" --pay "$D1:50000000:withdrawal 1" --change "$change" \
    --change-index 3 --fee "$fee" --coins 2 "$@"
}
signed_entries() { kc --dir "$A" journal show | grep -c "signed    intent $ID sha256 $H "; }
refused() { # NAME REASON PACKAGE PATTERN
  rm -f "$work/r.out"
  stdin=$yes expect "$1" 1 "kura-cold: sign: refused: $2: .*$4" -- \
    kc --dir "$A" sign "$3" -o "$work/r.out"
  [ ! -e "$work/r.out" ]; check "$1: no output" $?
  kc --dir "$A" journal show | tail -n 1 | grep -q "refused   $2 intent sha256 $H"
  check "$1: journaled" $?
}

# ---- the original ----
bump_package orig 1000 1000000
H=$HASH
stdin=$yes expect "sign the original" 0 '' -- kc --dir "$A" sign "$work/pk/orig/pkg.psbt" -o "$work/orig.out"
! grep -q 'FEE BUMP' "$work/out"; check "the original is no fee bump" $?
"$pkg" info "$work/orig.out" >/dev/null; check "the original's signature verifies" $?
kc --dir "$A" journal show >"$work/j1"
grep -q "signed    intent $ID sha256 $H amount 50000000 fee 1000 txid [0-9a-f]* inputs 2 rbf$" "$work/j1"
check "journal: the original with its 2 inputs, signalling" $?
[ "$(grep -c "input     spends [0-9a-f]*:[0-9]* for intent sha256 $H" "$work/j1")" = 2 ]
check "journal: one input entry per coin" $?
ORIG_TXID=$(grep "signed    intent $ID" "$work/j1" | sed 's/.* txid \([0-9a-f]*\).*/\1/')
ORIG_SEQ=$(grep "signed    intent $ID" "$work/j1" | cut -d' ' -f1)

# ---- not a bump: signed again at the same fee ----
bump_package same 1000 1000000
[ "$HASH" = "$H" ]; check "the same intent" $?
refused "the same transaction again" KURA_REFUSE_INTENT_REPLAY "$work/pk/same/pkg.psbt" "this very transaction"

# ---- the bump ----
bump_package bump 4000 997000
[ "$HASH" = "$H" ]; check "the bump carries the same intent" $?
stdin=$yes expect "sign the fee bump" 0 '' -- kc --dir "$A" sign "$work/pk/bump/pkg.psbt" -o "$work/bump.out"
grep -q "^FEE BUMP:   replaces transaction $ORIG_TXID (journal entry $ORIG_SEQ)" "$work/out"
check "the operator sees the transaction it replaces" $?
grep -q "fee 1000 sat -> 4000 sat" "$work/out"; check "the operator sees old fee -> new fee" $?
fb=$(grep -n '^FEE BUMP:' "$work/out" | head -n 1 | cut -d: -f1)
ask=$(grep -n '^Type yes to sign' "$work/out" | head -n 1 | cut -d: -f1)
[ -n "$fb" ] && [ -n "$ask" ] && [ "$fb" -lt "$ask" ]; check "shown before the confirmation" $?
"$pkg" info "$work/bump.out" >/dev/null; check "the bump's signature verifies" $?
kc --dir "$A" journal show >"$work/j2"
grep -q "signed    intent $ID sha256 $H amount 50000000 fee 4000 txid [0-9a-f]* inputs 2 rbf FEE BUMP replaces entry $ORIG_SEQ$" "$work/j2"
check "journal: the bump names the entry it replaces" $?
[ "$(signed_entries)" = 2 ]; check "journal: both signatures" $?

# ---- refusals ----
# Other coins (a third coin changes every coin's amount, hence its funding
# transaction): it could confirm beside the original, a second payment.
bump_package other 8000 993000 --coins 3
[ "$HASH" = "$H" ]; check "the bogus bump carries the same intent" $?
refused "a replacement spending other coins" KURA_REFUSE_INTENT_REPLAY "$work/pk/other/pkg.psbt" "second payment"
bump_package lower 3000 998000
refused "a fee below the last" KURA_REFUSE_BUMP_FEE_NOT_HIGHER "$work/pk/lower/pkg.psbt" "not above 4000 sat"
bump_package over 20000 981000
refused "a fee over the intent's max-fee" KURA_REFUSE_FEE_INTENT "$work/pk/over/pkg.psbt" "max-fee of 10000"
[ "$(signed_entries)" = 2 ]; check "journal: still two signatures" $?

# ---- the rest of the journal ----
expect "journal verify" 0 '' -- kc --dir "$A" journal verify
# An unrelated intent is signed as before.
cold_package other-intent --pay "$D1:1000000:withdrawal 2" --change 1000000 --change-index 3
stdin=$yes expect "an unrelated intent" 0 '' -- kc --dir "$A" sign "$work/pk/other-intent/pkg.psbt" -o "$work/o.out"
finish
