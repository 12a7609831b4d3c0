#!/usr/bin/env bash
# incident-policy.sh — the May 2024 incident against a P2TR wallet held by one
# kura-cold signer (T): attacks on the rules themselves, and on the limits.
#
# A legitimate batch is signed, finalized and verified (taproot key path). A
# policy update that adds a destination, signed by two of the three
# administrators, rides in with a legitimate transfer and is accepted. Then
# the compromised coordinator tries to loosen the rules or outrun them: an
# older policy replayed, the same version with other rules, updates signed by
# too few administrators, by approvers, by administrators the new text itself
# names, in the wrong namespace, a policy for another wallet or chain, a
# malformed one; a destination not on the allowlist or still in its waiting
# time; a transfer over the per-transfer cap; the rolling 24-hour cap; the
# signer's own policy file swapped on disk; and the transaction tamperings
# that matter for taproot. Each is refused with its reason; the waiting time
# and the rolling window are then shown to end.
# shellcheck source=incident-lib.sh disable=SC2046,SC2086
# ($(approvals ...) and $APPROVED split into arguments on purpose.)
. "$(dirname "$0")/incident-lib.sh"

restore T "$WORDS_C"
XT=$(xpub T m/86h/1h/0h)
DESC=$(canonical "tr($XT/<0;1>/*)")
CHK=${DESC##*#}
[ -n "$CHK" ] || die "no descriptor checksum"
WALLET="reserve #$CHK"
policy_text 1 reserve "$CHK" "${ALLOW_V1[@]}" >policy-v1
policy_sign policy-v1 admin1 admin2
ceremony T "$DESC" policy-v1 reserve
at() { echo $((T0 + $1)); } # at SECONDS-AFTER-T0
H=3600

# ---- the legitimate batch (T0 + 1 h) ----
intent batch.intent batch "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D1 150000000 withdrawal 9001" "$D2 75000000 withdrawal 9002" "$D3 25000000 sweep"
approve batch.intent alice bob
package batch.psbt "$DESC" batch.intent $(approvals batch.intent alice bob)
sign_ok "legit: the signer signs the approved batch" T batch.psbt batch.T.psbt "$(at $H)"
finalize "legit: finalize, every taproot signature valid, outputs = intent" \
  "$DESC" batch.intent batch.psbt batch.T.psbt

# ---- a policy update rides in with a transfer (T0 + 2 h) ----
policy_text 2 reserve "$CHK" "${ALLOW_V1[@]}" "allow: $D4 new exchange" >policy-v2
policy_sign policy-v2 admin1 admin3
intent carrier.intent carrier "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D1 50000000 withdrawal 9003"
approve carrier.intent dave
package carrier.psbt "$DESC" carrier.intent $(approvals carrier.intent dave) \
  --policy policy-v2 --policy-sig policy-v2.admin1.sig --policy-sig policy-v2.admin3.sig
sign_ok "policy v2 (signed by 2 of 3 administrators) accepted with a transfer" \
  T carrier.psbt carrier.T.psbt "$(at $((2 * H)))"
grep -q 'policy version 2 is now in force' so
check "the signer says policy version 2 is in force" $?
cold --dir T policy show 2>/dev/null | grep -q '^version: 2$'
check "kura-cold policy show: version 2" $?
# From here on the approvers have seen version 2, and intents name it.
INTENT_POLICY=2

# ---- the attacks (T0 + 3 h) ----
NOW=$(at $((3 * H)))
# A fresh approved intent for the attacks that carry a policy.
intent plain.intent plain "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 "$D1 20000000 withdrawal 9004"
approve plain.intent dave
# with_policy LABEL REASON POLICY-FILE SIGNER...: plain.intent carrying a policy.
with_policy() {
  local label=$1 reason=$2 file=$3 s
  local -a sigs=()
  shift 3
  for s in "$@"; do sigs+=(--policy-sig "$file.$s.sig"); done
  package p.psbt "$DESC" plain.intent $(approvals plain.intent dave) --policy "$file" "${sigs[@]}"
  refused "$label" "$reason" T p.psbt
}
with_policy "the older policy v1 replayed (properly signed)" POLICY_STALE policy-v1 admin1 admin2
policy_text 2 reserve "$CHK" "${ALLOW_V1[@]}" "allow: $D4 new exchange" "allow: $D5 mine" \
  >policy-v2b
policy_sign policy-v2b admin1 admin2
with_policy "version 2 again with other rules" POLICY_STALE policy-v2b admin1 admin2
policy_text 3 reserve "$CHK" "${ALLOW_V1[@]}" "allow: $D4 new exchange" "allow: $D5 mine" \
  "allowlist-delay: 0" >policy-v3
policy_sign policy-v3 admin1 admin2 alice bob
with_policy "policy v3 signed by one administrator of the quorum of two" POLICY_SIGNATURES \
  policy-v3 admin1
with_policy "policy v3 signed by the same administrator twice" POLICY_SIGNATURES \
  policy-v3 admin1 admin1
with_policy "policy v3 signed by two approvers" POLICY_SIGNATURES policy-v3 alice bob
# The self-authorised update: v3 names the attacker's keys as administrators
# and is signed by them. Only the administrators in force may authorise.
sed -e "s|^admin: admin-one .*|admin: admin-one $(pk rogue1)|" \
  -e "s|^admin: admin-two .*|admin: admin-two $(pk rogue2)|" policy-v3 >policy-v3-rogue
policy_sign policy-v3-rogue rogue1 rogue2
with_policy "policy v3 naming new administrators, signed by them" POLICY_SIGNATURES \
  policy-v3-rogue rogue1 rogue2
for s in admin1 admin2; do
  ssh-keygen -Y sign -f "keys/$s" -n kura-intent-v1 <policy-v3 >"policy-v3.$s-ns.sig" 2>/dev/null
done
with_policy "policy v3 signed by administrators in the intent namespace" POLICY_SIGNATURES \
  policy-v3 admin1-ns admin2-ns
policy_text 3 other-wallet "$CHK" "${ALLOW_V1[@]}" "allow: $D5 mine" >policy-v3-wallet
policy_sign policy-v3-wallet admin1 admin2
with_policy "a properly signed policy for another wallet" POLICY_WALLET policy-v3-wallet admin1 admin2
POLICY_NETWORK=signet policy_text 3 reserve "$CHK" "allow: $D1_TESTNET exchange a" >policy-v3-signet
policy_sign policy-v3-signet admin1 admin2
with_policy "a properly signed policy for another chain" NETWORK_MISMATCH policy-v3-signet admin1 admin2
sed 's/^mode: cold$/mode:  cold/' policy-v3 >policy-v3-bad
policy_sign policy-v3-bad admin1 admin2
with_policy "a malformed policy (double space)" POLICY_MALFORMED policy-v3-bad admin1 admin2
package p.psbt "$DESC" plain.intent $(approvals plain.intent dave) --policy-sig policy-v3.admin1.sig
refused "policy signatures without a policy" PACKAGE_MALFORMED T p.psbt

# Destinations.
intent d4early.intent d4early "$WALLET" $((T0 + 2 * H)) $((T0 + 4 * H)) ops-tanaka 50000 \
  "$D4 30000000 new exchange deposit"
approve d4early.intent dave
package p.psbt "$DESC" d4early.intent $(approvals d4early.intent dave)
refused "a destination added by v2, still in its waiting time" DESTINATION_WAITING T p.psbt
intent d5.intent d5 "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 "$D5 30000000 withdrawal 9005"
approve d5.intent dave
package p.psbt "$DESC" d5.intent $(approvals d5.intent dave)
refused "a destination not on the allowlist" DESTINATION_NOT_ALLOWED T p.psbt
"$KURA_APPROVE" show d5.intent --policy policy-v2 >show.txt 2>&1
grep -q "^WARNING: output 1 pays $D5, which is NOT ON THE ALLOWLIST" show.txt
check "kura-approve show warned the approver about it" $?

# Limits.
intent big.intent big "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D1 600000000 withdrawal 9006" "$D2 450000000 withdrawal 9007"
approve big.intent alice bob carol
package p.psbt "$DESC" big.intent $(approvals big.intent alice bob carol)
refused "a transfer over the per-transfer cap (10.5 of 10 BTC)" LIMIT_TRANSFER T p.psbt
intent roll.intent roll "$WALLET" $((T0 + 2 * H)) $((T0 + 26 * H)) ops-tanaka 50000 \
  "$D1 500000000 withdrawal 9008" "$D2 450000000 withdrawal 9009"
approve roll.intent alice bob
package roll.psbt "$DESC" roll.intent $(approvals roll.intent alice bob)
refused "the rolling 24-hour cap (3 BTC signed + 9.5 BTC > 12 BTC)" LIMIT_ROLLING T roll.psbt

# The signer's own policy file, swapped on disk for a laxer one: the journal
# records the hash of every accepted policy, so the signer will not run.
cp T/policy policy-in-force
policy_text 2 reserve "$CHK" "${ALLOW_V1[@]}" "allow: $D4 new exchange" \
  "max-per-24h: 2100000000000000" "allowlist-required: no" >T/policy
echo yes | cold --dir T --now "$NOW" sign roll.psbt -o swapped.psbt >so 2>se
rc=$?
[ "$rc" = 2 ] && grep -q '^kura-cold: sign: .*polic' se && [ ! -e swapped.psbt ]
st=$?
check "the signer's policy file swapped on disk: could not run, nothing signed ($(head -n 1 se | cut -c1-150))" "$st"
cp policy-in-force T/policy
refused "the policy file restored: the rolling cap holds again" LIMIT_ROLLING T roll.psbt
# The wallet file swapped for another descriptor (change would go elsewhere).
cp T/wallet wallet-in-force
OTHER=$(canonical "tr($XT/<2;3>/*)")
sed "s|^descriptor: .*|descriptor: $OTHER|" wallet-in-force >T/wallet
echo yes | cold --dir T --now "$NOW" sign roll.psbt -o swapped.psbt >so 2>se
rc=$?
[ "$rc" = 2 ] && [ ! -e swapped.psbt ]
st=$?
check "the signer's wallet file swapped on disk: could not run ($(head -n 1 se | cut -c1-120))" "$st"
cp wallet-in-force T/wallet
# The journal edited to forget what was signed (the batch's 2.5 BTC, so the
# rolling total would drop), or to drop the batch's entry altogether.
cp T/journal journal-in-force
sed -i 's/^\([0-9]* [^ ]* signed [0-9a-f]* [0-9a-f]*\) 250000000 /\1 1 /' T/journal
cmp -s T/journal journal-in-force
[ $? = 1 ] || die "the journal edit did not apply"
echo yes | cold --dir T --now "$NOW" sign roll.psbt -o swapped.psbt >so 2>se
rc=$?
[ "$rc" = 2 ] && [ ! -e swapped.psbt ]
st=$?
check "the journal's signed amount edited: could not run ($(head -n 1 se | cut -c1-120))" "$st"
grep -v ' signed .* 250000000 ' journal-in-force >T/journal
echo yes | cold --dir T --now "$NOW" sign roll.psbt -o swapped.psbt >so 2>se
rc=$?
[ "$rc" = 2 ] && [ ! -e swapped.psbt ]
st=$?
check "the journal's signed entry removed: could not run ($(head -n 1 se | cut -c1-120))" "$st"
cp journal-in-force T/journal

# Taproot: the transaction tamperings that differ for a key-path wallet.
intent tap.intent tap "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D1 60000000 withdrawal 9010" "$D3 10000000 sweep"
approve tap.intent dave
for attack in "swap-destination OUTPUT_MISSING" "change-foreign CHANGE_FOREIGN" \
  "change-receive CHANGE_FOREIGN" "foreign-leaf UNKNOWN_FIELD" "sighash-single-acp SIGHASH" \
  "input-amount-lie INPUT_UNPROVEN" "input-amount-lie-nofunding INPUT_UNPROVEN" \
  "foreign-input INPUT_FOREIGN"; do
  set -- $attack
  package p.psbt "$DESC" tap.intent $(approvals tap.intent dave) --tamper "$1"
  refused "taproot: $1" "$2" T p.psbt
done

# ---- the clock moves on ----
sign_ok "the rolling window passed (T0 + 25.5 h): the same package signs" \
  T roll.psbt roll.T.psbt "$(at $((25 * H + 1800)))"
intent d4late.intent d4late "$WALLET" $((T0 + 26 * H)) $((T0 + 30 * H)) ops-tanaka 50000 \
  "$D4 30000000 new exchange deposit"
approve d4late.intent dave
package d4late.psbt "$DESC" d4late.intent $(approvals d4late.intent dave)
sign_ok "the waiting time passed (v2 accepted + 25 h): the new destination signs" \
  T d4late.psbt d4late.T.psbt "$(at $((27 * H)))"
finalize "finalize the payment to the new (P2SH-P2WPKH) destination" \
  "$DESC" d4late.intent d4late.psbt d4late.T.psbt

cold --dir T journal verify >/dev/null 2>&1
check "journal: the chain verifies" $?

finish
