#!/usr/bin/env bash
# cold-sign.sh KURA-COLD PACKAGE-HELPER MEMSCAN — the key ceremony, export,
# and sign end to end: a good package is signed (and its signature verifies),
# every refusal is exit 1 with "kura-cold: sign: refused: KURA_REFUSE_X" and a
# `refused` journal entry and no output file; a newer policy signed by the
# administrators takes effect with its signature (and a crash between the
# journal and the policy file is completed on the next start); allowlist
# waiting periods run from the signer's own record of acceptance; swapped
# policy or wallet files, a damaged journal and a clock set back stop the
# signer (exit 2).
cold=$1 pkg=$2
. "$(dirname "$0")/cold-lib.sh"
require_hooks

cold_keys || { echo "FAILED: ssh-keygen"; exit 1; }
cold_signers || { echo "FAILED: signers"; exit 1; }
A=$work/a

# ---- the ceremony's refusals, on copies of signer a before its ceremony ----
cold_policy 1 cold no 0 >"$work/policy1"
ceremony_try() { # NAME CODE PATTERN DESCRIPTOR [ANSWER]
  rm -rf "$work/ct"
  cp -a "$A" "$work/ct"
  printf '%s\n' "${5:-yes}" >"$work/answer"
  stdin=$work/answer expect "ceremony: $1" "$2" "$3" -- \
    kc --dir "$work/ct" ceremony --descriptor "$4" --policy "$work/policy1"
}
ceremony_try "not this signer's key" 1 'is not in the descriptor' \
  "wsh(sortedmulti(2,$XB/<0;1>/*,$XC/<0;1>/*))"
forged="${XA%%]*}]${XB#*]}" # a's origin on b's key
ceremony_try "a key claiming this signer's origin" 1 "claims this signer's fingerprint" \
  "wsh(sortedmulti(2,$forged/<0;1>/*,$XB/<0;1>/*,$XC/<0;1>/*))"
ceremony_try "no change branch" 1 'receive and a change branch' "wpkh($XA/0/*)"
ceremony_try "bare multisig" 1 'kura wallets are' "wsh(multi(2,$XA/<0;1>/*,$XB/<0;1>/*))"
ceremony_try "policy for another descriptor" 1 'names the wallet' \
  "wsh(sortedmulti(2,$XA/<0;1>/*,$XB/<0;1>/*))"
ceremony_try "operator says no" 1 'did not confirm' "$DESC" no
[ ! -e "$work/ct/journal" ] && [ ! -e "$work/ct/wallet" ]; check "a refused ceremony writes nothing" $?
rm -f "$work/policy1"

cold_ceremony; check "ceremony" $?
grep -q "^this signer: key expression" "$work/ceremony.out"; check "ceremony shows this signer's key" $?
grep -q "admin-quorum: 2" "$work/ceremony.out"; check "ceremony shows the policy" $?
expect "ceremony twice" 2 'done already' -- kc --dir "$A" ceremony --descriptor "$DESC" --policy "$work/policy1"
[ "$(kc --dir "$A" export)" = "$DESC" ]; check "export gives the wallet descriptor" $?
expect "journal verify after the ceremony" 0 '' -- kc --dir "$A" journal verify

journal_has() { kc --dir "$A" journal show | grep -q -- "$1"; }
D1=$("$pkg" addr regtest 1)
D2=$("$pkg" addr regtest 2)
D3=$("$pkg" addr regtest 3)
yes=$work/yes
echo yes >"$yes"
no=$work/no
echo no >"$no"

# ---- a good package ----
cold_package p1 --pay "$D1:50000000:withdrawal 1" --change 1000000 --change-index 3
stdin=$yes expect "sign p1" 0 '' -- kc --dir "$A" sign "$work/pk/p1/pkg.psbt" -o "$work/p1.out"
grep -q '^signed: 1 signature(s); journal entry 4' "$work/out"; check "sign reports its journal entry" $?
grep -q '^Type yes to sign' "$work/out"; check "sign asks" $?
"$pkg" info "$work/p1.out" >"$work/info"; check "the signed PSBT's signature verifies" $?
grep -q "^intent-sha256 $HASH" "$work/info"; check "the signed PSBT carries the intent" $?
journal_has "signed    intent .* sha256 $HASH amount 50000000 fee 1000"; check "journal: signed entry" $?
[ "$(stat -c %a "$work/p1.out")" = 644 ]; check "output written" $?
H1=$HASH

# ---- refusals ----
refused() { # NAME REASON PACKAGE [STDIN] [EXTRA ARGS]
  local name=$1 reason=$2 p=$3 in=${4:-$yes}
  shift 4 2>/dev/null || shift $#
  rm -f "$work/r.out"
  stdin=$in expect "$name" 1 "kura-cold: sign: refused: $reason: " -- \
    kc --dir "$A" sign "$p" -o "$work/r.out" "$@"
  [ ! -e "$work/r.out" ]; check "$name: no output" $?
  kc --dir "$A" journal show | tail -n 1 | grep -q "refused   $reason intent sha256 "
  check "$name: journaled" $?
}
refused "replay" KURA_REFUSE_INTENT_REPLAY "$work/pk/p1/pkg.psbt"
journal_has "refused   KURA_REFUSE_INTENT_REPLAY intent sha256 $H1"; check "replay journaled with the intent hash" $?
cold_package p2 --pay "$D1:1000000"
refused "declined" KURA_REFUSE_DECLINED "$work/pk/p2/pkg.psbt" "$no"
refused "end of input is no" KURA_REFUSE_DECLINED "$work/pk/p2/pkg.psbt" /dev/null
refused "unattended under a cold policy" KURA_REFUSE_HOT_NOT_ALLOWED "$work/pk/p2/pkg.psbt" /dev/null --unattended
refused "--yes is --unattended" KURA_REFUSE_HOT_NOT_ALLOWED "$work/pk/p2/pkg.psbt" /dev/null --yes
cold_package p3 --intent-pay "$D1:1000000" --tx-pay "$D1:2000000"
refused "the transaction pays another amount" 'KURA_REFUSE_OUTPUT_[A-Z]*' "$work/pk/p3/pkg.psbt"
cold_package p4 --pay "$D1:1000000" --tx-pay "$D2:5000000"
refused "an output not in the intent" KURA_REFUSE_OUTPUT_UNEXPECTED "$work/pk/p4/pkg.psbt"
cold_package p5 --pay "$D1:1000000"
refused "no approval" KURA_REFUSE_APPROVALS_INSUFFICIENT "$work/pk/p5/0.psbt"
printf 'this is not a PSBT\n' >"$work/garbage"
refused "not a PSBT" KURA_REFUSE_PACKAGE_MALFORMED "$work/garbage"
journal_has "refused   KURA_REFUSE_PACKAGE_MALFORMED intent sha256 -"; check "no intent: hash '-'" $?
expect "unreadable package" 2 'cannot read' -- kc --dir "$A" sign "$work/nope" -o "$work/r.out"
expect "output exists" 2 'never replaces' -- kc --dir "$A" sign "$work/pk/p2/pkg.psbt" -o "$work/p1.out"
expect "no -o" 2 'usage' -- kc --dir "$A" sign "$work/pk/p2/pkg.psbt"
stdin=$yes expect "p2 after its refusals" 0 '' -- kc --dir "$A" sign "$work/pk/p2/pkg.psbt" -o "$work/p2.out"

# ---- a newer policy: hot, signed by both administrators ----
NOW=$((NOW + 60))
cold_policy 2 hot no 0 >"$work/policy2"
sig_policy "$work/policy2" admin1 && sig_policy "$work/policy2" admin2
cold_package p6 --pay "$D1:1000000"
"$pkg" attach "$work/pk/p6/pkg.psbt" -o "$work/pk/p6/upd.psbt" --policy "$work/policy2" \
  --policy-sig "$work/policy2.admin1.sig" --policy-sig "$work/policy2.admin2.sig"
"$pkg" attach "$work/pk/p6/pkg.psbt" -o "$work/pk/p6/one.psbt" --policy "$work/policy2" \
  --policy-sig "$work/policy2.admin1.sig"
refused "a policy signed by one of two admins" KURA_REFUSE_POLICY_SIGNATURES "$work/pk/p6/one.psbt"
refused "unattended before the hot policy is in force" KURA_REFUSE_HOT_NOT_ALLOWED "$work/pk/p6/upd.psbt" /dev/null --unattended
stdin=$yes expect "sign with a policy update" 0 '' -- kc --dir "$A" sign "$work/pk/p6/upd.psbt" -o "$work/p6.out"
grep -q 'POLICY UPDATE: version 1 -> 2' "$work/out"; check "the update is shown before the question" $?
grep -q '^policy version 2 is now in force' "$work/out"; check "policy 2 in force" $?
cmp -s "$work/policy2" "$A/policy" && cmp -s "$work/policy2" "$A/policies/2"; check "policy file and archive" $?
kc --dir "$A" journal show | grep -v ' input     spends ' | tail -n 2 | head -n 1 | grep -q "policy    version 2 sha256 $(sha256sum <"$work/policy2" | cut -d' ' -f1)"
check "journal: policy entry right before its signature" $?
kc --dir "$A" policy show >"$work/show"
grep -q '^policy in force: version 2, mode hot' "$work/show"; check "policy show" $?
cold_package p7 --pay "$D1:1000000"
expect "unattended under the hot policy" 0 '' -- kc --dir "$A" sign "$work/pk/p7/pkg.psbt" -o "$work/p7.out" --unattended
cold_package p8 --pay "$D1:1000000"
"$pkg" attach "$work/pk/p8/pkg.psbt" -o "$work/pk/p8/stale.psbt" --policy "$A/policies/1"
refused "an older policy" KURA_REFUSE_POLICY_STALE "$work/pk/p8/stale.psbt"

# ---- a crash between the journal and the policy file ----
NOW=$((NOW + 60))
cold_policy 3 hot no 3600 >"$work/policy3"
sig_policy "$work/policy3" admin1 && sig_policy "$work/policy3" admin2
cold_package p9 --pay "$D1:1000000"
"$pkg" attach "$work/pk/p9/pkg.psbt" -o "$work/pk/p9/upd.psbt" --policy "$work/policy3" \
  --policy-sig "$work/policy3.admin2.sig" --policy-sig "$work/policy3.admin1.sig"
KURA_COLD_TEST_CRASH=after-output kc --dir "$A" sign "$work/pk/p9/upd.psbt" -o "$work/p9.out" --unattended >/dev/null 2>&1
check "killed after the output, before the policy file" "$([ $? = 137 ] && echo 0 || echo 1)"
"$pkg" info "$work/p9.out" >/dev/null; check "the output was written" $?
cmp -s "$work/policy2" "$A/policy"; check "the policy file is one version behind" $?
expect "journal verify sees the interrupted update" 0 'interrupted' -- kc --dir "$A" journal verify
cold_package p10 --pay "$D1:1000000"
expect "the next sign completes the update" 0 'completed an interrupted policy update' -- \
  kc --dir "$A" sign "$work/pk/p10/pkg.psbt" -o "$work/p10.out" --unattended
cmp -s "$work/policy3" "$A/policy"; check "policy 3 in force" $?

# ---- allowlist waiting periods, from the signer's own record ----
# v4 lists D2 and D3 (not required yet); v5 requires the list; D2 is usable an
# hour after v4 was accepted. v6 drops D3 and v7 lists it again: D3 waits
# another hour from v7, not from v4.
policy_update() { # VERSION FILE NAME PAY: sign a transfer to PAY bringing policy VERSION
  sig_policy "$2" admin1 && sig_policy "$2" admin2
  cold_package "$3" --pay "$4:1000000"
  "$pkg" attach "$work/pk/$3/pkg.psbt" -o "$work/pk/$3/upd.psbt" --policy "$2" \
    --policy-sig "$2.admin1.sig" --policy-sig "$2.admin2.sig"
  expect "policy $1" 0 '' -- kc --dir "$A" sign "$work/pk/$3/upd.psbt" -o "$work/$3.out" --unattended
}
NOW=$((NOW + 60))
cold_policy 4 hot no 3600 "$D2 cold store" "$D3 exchange" >"$work/policy4"
policy_update 4 "$work/policy4" p11 "$D1"
NOW=$((NOW + 1800))
cold_policy 5 hot yes 3600 "$D2 cold store" "$D3 exchange" >"$work/policy5"
cold_package p12 --pay "$D1:1000000"
"$pkg" attach "$work/pk/p12/pkg.psbt" -o "$work/pk/p12/upd.psbt" --policy "$work/policy5" \
  --policy-sig "$(sig_policy "$work/policy5" admin1; echo "$work/policy5.admin1.sig")" \
  --policy-sig "$(sig_policy "$work/policy5" admin2; echo "$work/policy5.admin2.sig")"
refused "not on the required allowlist" KURA_REFUSE_DESTINATION_NOT_ALLOWED "$work/pk/p12/upd.psbt" /dev/null --unattended
cold_package p13 --pay "$D2:1000000"
"$pkg" attach "$work/pk/p13/pkg.psbt" -o "$work/pk/p13/upd.psbt" --policy "$work/policy5" \
  --policy-sig "$work/policy5.admin1.sig" --policy-sig "$work/policy5.admin2.sig"
refused "allowlisted half an hour ago" KURA_REFUSE_DESTINATION_WAITING "$work/pk/p13/upd.psbt" /dev/null --unattended
NOW=$((NOW + 1800))
cold_package p14 --pay "$D2:1000000"
"$pkg" attach "$work/pk/p14/pkg.psbt" -o "$work/pk/p14/upd.psbt" --policy "$work/policy5" \
  --policy-sig "$work/policy5.admin1.sig" --policy-sig "$work/policy5.admin2.sig"
expect "allowlisted an hour ago" 0 '' -- kc --dir "$A" sign "$work/pk/p14/upd.psbt" -o "$work/p14.out" --unattended
cold_policy 6 hot yes 3600 "$D2 cold store" >"$work/policy6"
NOW=$((NOW + 60))
policy_update 6 "$work/policy6" p15 "$D2"
cold_policy 7 hot yes 3600 "$D2 cold store" "$D3 exchange" >"$work/policy7"
NOW=$((NOW + 60))
policy_update 7 "$work/policy7" p16 "$D2"
NOW=$((NOW + 60))
cold_package p17 --pay "$D3:1000000"
refused "re-listed: waits again" KURA_REFUSE_DESTINATION_WAITING "$work/pk/p17/pkg.psbt" /dev/null --unattended
NOW=$((NOW + 3600))
cold_package p18 --pay "$D3:1000000"
expect "re-listed an hour ago" 0 '' -- kc --dir "$A" sign "$work/pk/p18/pkg.psbt" -o "$work/p18.out" --unattended
expect "journal verify" 0 '' -- kc --dir "$A" journal verify
grep -q '^policy: version 7 in force' "$work/out"; check "journal verify names the policy" $?
mkdir "$work/audit" && cp "$A/journal" "$work/audit/"
expect "journal verify of a bare copy" 0 '' -- kc --dir "$work/audit" journal verify
grep -q '^no wallet file here' "$work/out"; check "a bare copy: the chain only" $?

# ---- tampering with the data directory stops the signer ----
cold_package p19 --pay "$D2:1000000"
tamper() { # NAME PATTERN: sign from a copy $work/t that the caller changed
  rm -f "$work/t.out"
  expect "$1" 2 "$2" -- kc --dir "$work/t" sign "$work/pk/p19/pkg.psbt" -o "$work/t.out" --unattended
  [ ! -e "$work/t.out" ]; check "$1: no output" $?
}
fresh() { rm -rf "$work/t"; cp -a "$A" "$work/t"; }
fresh; sed 's/^max-per-transfer: .*/max-per-transfer: 2100000000000000/' "$work/policy7" >"$work/t/policy"
tamper "a swapped policy file" 'is not the policy the journal accepted'
fresh; cp "$work/policy3" "$work/t/policy"
tamper "an older policy file" 'is not the policy the journal accepted'
# The previous version is what a crash between the journal and the policy
# file leaves: it is completed from the journal-checked archive, not trusted.
fresh; cp "$work/policy6" "$work/t/policy"
expect "the previous policy file is completed" 0 'completed an interrupted policy update' -- \
  kc --dir "$work/t" sign "$work/pk/p19/pkg.psbt" -o "$work/t.out" --unattended
cmp -s "$work/policy7" "$work/t/policy"; check "the previous policy file: version 7 again" $?
fresh; cp "$work/policy3" "$work/t/policies/7"
tamper "a swapped archived policy" 'it was changed'
fresh; rm "$work/t/policies/5"
tamper "a missing archived policy" 'cannot read .*policies/5'
fresh; sed -i "s/^name: test-wallet/name: other-wallet/" "$work/t/wallet"
tamper "an edited wallet file" 'the wallet file was changed'
# The derivation cache: anchored by the wallet file, bound to the descriptor.
# A changed, missing or forged cache stops the signer: nothing signed, the
# journal untouched.
tamper_cache() { # NAME PATTERN
  cp "$work/t/journal" "$work/t.journal.before"
  tamper "$1" "$2"
  cmp -s "$work/t/journal" "$work/t.journal.before"; check "$1: journal unchanged" $?
}
fresh; grep -q '^derivations: [0-9a-f]\{64\}$' "$work/t/wallet"; check "the wallet file anchors the cache" $?
[ "$(sha256sum <"$work/t/derivations" | cut -c1-64)" = "$(sed -n 's/^derivations: //p' "$work/t/wallet")" ]
check "the anchor is the cache file's sha256" $?
fresh; printf '\x01' | dd of="$work/t/derivations" bs=1 seek=200 conv=notrunc status=none
tamper_cache "a tampered derivation cache" 'derivation cache .* was changed or replaced'
fresh; rm "$work/t/derivations"
tamper_cache "a missing derivation cache" 'cannot read the derivation cache'
fresh; head -c 100 "$work/t/derivations" >"$work/t/d.new"; mv "$work/t/d.new" "$work/t/derivations"
tamper_cache "a truncated derivation cache" 'derivation cache .* was changed or replaced'
# Forged to match: a wrong key, the cache's own digest and the wallet file's
# anchor both recomputed. The cache's check against the descriptor stops it.
fresh; f="$work/t/derivations"; n=$(stat -c %s "$f")
printf '\x01' | dd of="$f" bs=1 seek=80 conv=notrunc status=none
head -c $((n - 32)) "$f" >"$f.body"
{ cat "$f.body"; sha256sum <"$f.body" | cut -c1-64 | xxd -r -p; } >"$f"; rm "$f.body"
sed -i "s/^derivations: .*/derivations: $(sha256sum <"$f" | cut -c1-64)/" "$work/t/wallet"
tamper_cache "a forged derivation cache" 'does not match the descriptor'
fresh; sed -i '5s/ 50000000 / 50000001 /' "$work/t/journal"
tamper "an edited journal" 'journal verify'
expect "journal verify finds the edit" 1 'FAILED at entry 4' -- kc --dir "$work/t" journal verify
fresh
expect "a clock set back" 2 'clock' -- "$cold" --passphrase-file "$work/pass" --now $((NOW - 86400)) \
  --dir "$work/t" sign "$work/pk/p19/pkg.psbt" -o "$work/t.out" --unattended
fresh; printf 'XX' >>"$work/t/journal"
expect "journal verify accepts a torn tail" 0 '' -- kc --dir "$work/t" journal verify
grep -q '^torn tail: 2 bytes' "$work/out"; check "journal verify reports the torn tail" $?
rm -f "$work/t.out"
expect "sign recovers a torn tail" 0 'cut off' -- kc --dir "$work/t" sign "$work/pk/p19/pkg.psbt" -o "$work/t.out" --unattended
kc --dir "$work/t" journal show | grep -q 'recovered cut 2 bytes'; check "journal: recovered entry" $?
finish
