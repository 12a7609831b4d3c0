#!/usr/bin/env bash
# incident-multisig.sh — the May 2024 incident against a 2-of-3 P2WSH wallet
# held by three kura-cold signers (A, B, C).
#
# 1. A legitimate batch transfer — three destinations and change — is
#    approved by two approvers with kura-approve; signers A and B sign it; the
#    two PSBTs are combined, finalized and extracted, every signature verifies
#    and the outputs are the intent's.
# 2. The coordinator is compromised. It takes the same approved intent and
#    its approvals and alters the transaction in every way DESIGN.md's threat
#    model allows; signer C refuses each, with its own reason code, and
#    writes nothing.
# 3. C then signs the untouched package (so each refusal was the tampering's
#    doing), and A refuses to sign the intent again (replay).
#
# Programs come from the environment (see incident-lib.sh).
# shellcheck source=incident-lib.sh disable=SC2046,SC2086
# ($(approvals ...) and $APPROVED split into arguments on purpose.)
. "$(dirname "$0")/incident-lib.sh"

# ---- the wallet ----
for s in A B C; do
  words=WORDS_$s
  restore "$s" "${!words}"
done
XA=$(xpub A m/48h/1h/0h/2h)
XB=$(xpub B m/48h/1h/0h/2h)
XC=$(xpub C m/48h/1h/0h/2h)
DESC=$(canonical "wsh(sortedmulti(2,$XA/<0;1>/*,$XB/<0;1>/*,$XC/<0;1>/*))")
CHK=${DESC##*#}
[ -n "$CHK" ] || die "no descriptor checksum"
WALLET="treasury-cold #$CHK"
policy_text 1 treasury-cold "$CHK" "${ALLOW_V1[@]}" >policy-v1
for s in A B C; do ceremony "$s" "$DESC" policy-v1 treasury-cold; done
[ "$(cold --dir C export 2>/dev/null)" = "$DESC" ]
check "ceremony: each signer holds the 2-of-3 descriptor" $?

# ---- 1. the legitimate batch ----
intent batch.intent batch "$WALLET" "$T0" $((T0 + 12 * 3600)) ops-tanaka 50000 \
  "$D1 150000000 withdrawal 8812" "$D2 75000000 withdrawal 8813" "$D3 25000000 to cold storage"
approve batch.intent alice bob
"$KURA_APPROVE" verify batch.intent batch.intent.alice batch.intent.bob --policy policy-v1 \
  >/dev/null 2>&1
check "kura-approve verify: alice and bob meet the 2-approval tier" $?
APPROVED=$(approvals batch.intent bob alice)
package batch.psbt "$DESC" batch.intent $APPROVED --coins 3
sign_ok "legit: signer A signs the approved batch" A batch.psbt batch.A.psbt
sign_ok "legit: signer B signs the approved batch" B batch.psbt batch.B.psbt
finalize "legit: A+B combine, finalize, every signature valid, outputs = intent" \
  "$DESC" batch.intent batch.psbt batch.A.psbt batch.B.psbt
# (`kura tx` spells scripts as mainnet addresses: the same programs.)
"$KURA" tx "$work/tx.hex" >tx.txt 2>&1
grep -q "^output 0: 1.50000000 BTC (150000000 sat) to $(addr "wpkh(02$G)" bitcoin) " tx.txt &&
  grep -q "^output 1: 0.75000000 BTC (75000000 sat) to ${D2_MAINNET} " tx.txt &&
  grep -q "^output 2: 0.25000000 BTC (25000000 sat) to ${D3_MAINNET} " tx.txt &&
  [ "$(grep -c '^input .* 4 witness item(s)' tx.txt)" = 3 ]
check "legit: the kura tool decodes the transaction: intent outputs, 2-of-3 witnesses" $?

# ---- 2. the compromised coordinator ----
# attack LABEL REASON [evil-coordinator options]: the approved batch, altered.
expected=() # the reasons C should journal, in order
attack() {
  local label=$1 reason=$2
  shift 2
  package attack.psbt "$DESC" batch.intent $APPROVED --coins 3 "$@"
  refused "$label" "$reason" C attack.psbt
  expected+=("KURA_REFUSE_$reason")
}
attack "destination swapped to the attacker" OUTPUT_MISSING --tamper swap-destination
attack "amount changed" OUTPUT_MISSING --tamper amount-changed
attack "an output added" OUTPUT_UNEXPECTED --tamper output-added
attack "an output dropped" OUTPUT_MISSING --tamper output-dropped
attack "an approved output paid twice" OUTPUT_DUPLICATE --tamper output-duplicated
attack "change to a foreign key, claiming the change derivation" CHANGE_FOREIGN --tamper change-foreign
attack "change to a foreign key, no claim" OUTPUT_UNEXPECTED --tamper change-unclaimed
attack "change on the receive branch" CHANGE_FOREIGN --tamper change-receive
attack "change beyond the gap limit (index 2^31-1)" CHANGE_FOREIGN --tamper change-beyond-gap
attack "change to a path outside the wallet (.../7/0)" CHANGE_FOREIGN --tamper change-outside-path
attack "fake bip32 derivation: a foreign output claiming to be change" CHANGE_FOREIGN --tamper fake-derivation
attack "fee inflated over the intent's max-fee" FEE_INTENT --fee 60000
attack "fee inflated through a lying input amount (witness UTXO vs funding tx)" INPUT_UNPROVEN --tamper input-amount-lie
attack "fee inflated through a lying input amount (no funding tx)" INPUT_UNPROVEN --tamper input-amount-lie-nofunding
attack "a foreign input" INPUT_FOREIGN --tamper foreign-input
attack "SIGHASH_SINGLE|ANYONECANPAY" SIGHASH --tamper sighash-single-acp
attack "SIGHASH_NONE" SIGHASH --tamper sighash-none
attack "an input record kura does not understand" UNKNOWN_FIELD --tamper unknown-input-field
attack "a lock time nobody approved" UNKNOWN_FIELD --tamper locktime
attack "a relative lock time (sequence)" UNKNOWN_FIELD --tamper sequence
attack "transaction version 3" UNKNOWN_FIELD --tamper tx-version
attack "a tapscript leaf the wallet does not have" UNKNOWN_FIELD --tamper foreign-leaf
attack "the package as a PSBT version 2" UNKNOWN_FIELD --tamper psbt-v2
attack "a kura record of an unknown kind" PACKAGE_MALFORMED --tamper unknown-kura-record
attack "the intent record removed" PACKAGE_MALFORMED --tamper no-intent
attack "bob's ECDSA approval added again, malleated to (r, n-s)" APPROVER_DUPLICATE --tamper malleate-approval

# The fee rate: under both fee caps, over the policy's 100 sat/vB.
package attack.psbt "$DESC" batch.intent $APPROVED --coins 1 --fee 49000
refused "fee rate over the policy's max-fee-rate" FEE_POLICY C attack.psbt
expected+=(KURA_REFUSE_FEE_POLICY)
# The fee: under the intent's cap (approved as 0.005 BTC), over the policy's 0.001 BTC.
intent bigfee.intent bigfee "$WALLET" "$T0" $((T0 + 12 * 3600)) ops-tanaka 500000 \
  "$D1 150000000 withdrawal 8812" "$D2 75000000 withdrawal 8813"
approve bigfee.intent alice bob
package attack.psbt "$DESC" bigfee.intent $(approvals bigfee.intent alice bob) --coins 8 --fee 150000
refused "fee over the policy's max-fee (within the intent's)" FEE_POLICY C attack.psbt
expected+=(KURA_REFUSE_FEE_POLICY)

# ---- 3. the untouched package, and replay ----
sign_ok "control: C signs the untouched package after refusing every attack" C batch.psbt batch.C.psbt
finalize "control: A+C combine, finalize, every signature valid" \
  "$DESC" batch.intent batch.psbt batch.A.psbt batch.C.psbt
txid=$(sed -n 's/^txid: //p' "$work/fin")
refused "replay: the same package to A again" INTENT_REPLAY A batch.psbt
package again.psbt "$DESC" batch.intent $APPROVED --coins 2 --seed other-coins
refused "replay: the same intent over other coins" INTENT_REPLAY A again.psbt

# The journal kept every refusal and stays a valid chain.
cold --dir C journal verify >/dev/null 2>&1
check "journal: C's chain verifies" $?
cold --dir C journal show 2>/dev/null >journal.txt
[ "$(awk '$3 == "refused" { print $4 }' journal.txt)" = "$(printf '%s\n' "${expected[@]}")" ]
check "journal: C recorded each of the ${#expected[@]} refusals, with its reason, in order" $?
tail -n 1 journal.txt | grep -Eq "^[0-9]* [^ ]* signed .* amount 250000000 fee 2000 txid $txid inputs [0-9]+ (rbf|final)$"
check "journal: C's last entry is the signature of the batch, with the transaction's txid" $?

finish
