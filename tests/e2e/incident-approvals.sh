#!/usr/bin/env bash
# incident-approvals.sh — the May 2024 incident against a P2WPKH wallet held
# by one kura-cold signer (W): attacks on what the humans approved.
#
# A legitimate batch is approved with kura-approve, signed, finalized and
# verified. Then a compromised coordinator (holding, at worst, one approver's
# key as well) tries to get a signature for something the approvers did not
# approve: the intent text edited after approval (the DMM attack), approvals
# copied onto another intent, signatures made for something else, approvers
# who are not approvers, one approver counted twice, the initiator approving
# their own transfer, too few approvals for the amount's tier, an intent that
# expired, that is not yet valid, that lives too long, for another wallet or
# another chain, not canonical, or signed before. Each is refused with its
# reason code and nothing is written. Finally the operator's "no" and an
# unattended run under a cold policy are refused too.
# shellcheck source=incident-lib.sh disable=SC2046,SC2086
# ($(approvals ...) and $APPROVED split into arguments on purpose.)
. "$(dirname "$0")/incident-lib.sh"

restore W "$WORDS_B"
XW=$(xpub W m/84h/1h/0h)
DESC=$(canonical "wpkh($XW/<0;1>/*)")
CHK=${DESC##*#}
[ -n "$CHK" ] || die "no descriptor checksum"
WALLET="payouts #$CHK"
policy_text 1 payouts "$CHK" "${ALLOW_V1[@]}" >policy
ceremony W "$DESC" policy payouts
EXPIRES=$((T0 + 12 * 3600))

# ---- the legitimate batch ----
intent batch.intent batch "$WALLET" "$T0" "$EXPIRES" ops-tanaka 50000 \
  "$D1 90000000 withdrawal 7001" "$D2 20000000 withdrawal 7002" "$D3 10000000 sweep"
approve batch.intent alice carol
package batch.psbt "$DESC" batch.intent $(approvals batch.intent alice carol)
sign_ok "legit: the signer signs the approved batch" W batch.psbt batch.W.psbt
finalize "legit: finalize, every signature valid, outputs = intent" \
  "$DESC" batch.intent batch.psbt batch.W.psbt

# A second approved intent the attacks start from (1.2 BTC: two approvals).
intent next.intent next "$WALLET" "$T0" "$EXPIRES" ops-tanaka 50000 \
  "$D1 100000000 withdrawal 7003" "$D2 20000000 withdrawal 7004"
approve next.intent alice bob carol dave outsider admin1
# attempt LABEL REASON INTENT-IN-PACKAGE APPROVAL-FILE... [-- evil-coordinator options]
attempt() {
  local label=$1 reason=$2 int=$3 a
  local -a args=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    args+=(--approval "$1")
    shift
  done
  [ $# -gt 0 ] && shift
  package attempt.psbt "$DESC" "$int" "${args[@]}" "$@"
  refused "$label" "$reason" W attempt.psbt
}

# The DMM attack: the instruction altered in transit, after approval. The
# edited text is canonical, the transaction matches it; only the approvals
# do not.
sed "s/^output: $D1 100000000 /output: $D1 900000000 /" next.intent >edited-amount.intent
attempt "intent amount edited after approval" APPROVAL_INVALID edited-amount.intent \
  next.intent.alice next.intent.bob
sed "s/^output: $D2 /output: $D3 /" next.intent >edited-dest.intent
attempt "intent destination edited after approval" APPROVAL_INVALID edited-dest.intent \
  next.intent.alice next.intent.bob
# Approvals of one intent presented for another.
intent other.intent other "$WALLET" "$T0" "$EXPIRES" ops-tanaka 50000 "$D3 100000000 rebalance"
attempt "approvals copied onto another intent" APPROVAL_INVALID other.intent \
  next.intent.alice next.intent.bob
# Alice's key, the intent's exact bytes, but the policy namespace: a signature
# she made for something else (here a policy) is not an approval.
ssh-keygen -Y sign -f keys/alice -n kura-policy-v1 <next.intent >next.intent.alice-policy-ns 2>/dev/null
attempt "an approver's policy-namespace signature presented as an approval" APPROVAL_INVALID \
  next.intent next.intent.alice-policy-ns next.intent.bob
ssh-keygen -Y sign -f keys/alice -n git <next.intent >next.intent.alice-git 2>/dev/null
attempt "an approver's signature in another namespace (git)" APPROVAL_INVALID \
  next.intent next.intent.alice-git next.intent.bob
printf 'not a signature\n' >garbage.approval
attempt "a garbage approval" APPROVAL_INVALID next.intent next.intent.alice garbage.approval
# Who signed.
attempt "an approver not in the policy" APPROVER_UNKNOWN next.intent \
  next.intent.alice next.intent.outsider next.intent.bob
attempt "an administrator's key approving" APPROVER_UNKNOWN next.intent \
  next.intent.admin1 next.intent.bob
attempt "one approver counted twice (the same approval again)" APPROVER_DUPLICATE next.intent \
  next.intent.alice next.intent.alice
"$KURA_APPROVE" approve next.intent --key keys/bob -o next.intent.bob2 --yes >/dev/null 2>&1
! cmp -s next.intent.bob next.intent.bob2
check "bob's second ECDSA approval has other bytes" $?
attempt "one approver counted twice (signed twice, other bytes)" APPROVER_DUPLICATE next.intent \
  next.intent.bob next.intent.bob2
attempt "one approver counted twice (ECDSA malleated)" APPROVER_DUPLICATE next.intent \
  next.intent.bob -- --tamper malleate-approval
intent own.intent own "$WALLET" "$T0" "$EXPIRES" carol 50000 "$D1 100000000 withdrawal 7005"
approve own.intent carol alice
attempt "the initiator approving their own intent" APPROVER_INITIATOR own.intent \
  own.intent.carol own.intent.alice
attempt "too few approvals for the amount's tier (1 of 2)" APPROVALS_INSUFFICIENT next.intent \
  next.intent.alice
attempt "no approvals at all" APPROVALS_INSUFFICIENT next.intent
"$KURA_APPROVE" verify next.intent next.intent.alice --policy policy >/dev/null 2>err.txt
[ $? = 1 ] && grep -q 'KURA_REFUSE_APPROVALS_INSUFFICIENT' err.txt
check "kura-approve verify agrees: 1 of 2 is not enough" $?

# When and where.
intent old.intent old "$WALLET" $((T0 - 12 * 3600)) "$T0" ops-tanaka 50000 "$D1 1000000 w"
approve old.intent alice
attempt "an expired intent" INTENT_EXPIRED old.intent old.intent.alice
intent future.intent future "$WALLET" $((NOW + 7200)) $((NOW + 36000)) ops-tanaka 50000 "$D1 1000000 w"
approve future.intent alice
attempt "an intent dated in the future" INTENT_NOT_YET future.intent future.intent.alice
intent long.intent long "$WALLET" "$T0" $((T0 + 3 * 86400)) ops-tanaka 50000 "$D1 1000000 w"
approve long.intent alice
attempt "an intent living longer than the policy allows" INTENT_LIFETIME long.intent long.intent.alice
intent elsewhere.intent elsewhere "treasury-cold #$CHK" "$T0" "$EXPIRES" ops-tanaka 50000 "$D1 1000000 w"
approve elsewhere.intent alice
attempt "an intent for another wallet (name)" INTENT_WALLET elsewhere.intent elsewhere.intent.alice
intent othersum.intent othersum "payouts #qqqqqqqq" "$T0" "$EXPIRES" ops-tanaka 50000 "$D1 1000000 w"
approve othersum.intent alice
attempt "an intent for another wallet (descriptor checksum)" INTENT_WALLET othersum.intent \
  othersum.intent.alice
INTENT_NETWORK=testnet intent testnet.intent testnet "$WALLET" "$T0" "$EXPIRES" ops-tanaka 50000 \
  "$D1_TESTNET 1000000 w"
approve testnet.intent alice
attempt "an intent for another chain (testnet, same address encoding as the coins)" \
  NETWORK_MISMATCH testnet.intent testnet.intent.alice
sed 's/^max-fee: 50000$/max-fee: 050000/' next.intent >noncanon.intent
attempt "a non-canonical intent text (leading zero)" INTENT_MALFORMED noncanon.intent \
  next.intent.alice next.intent.bob -- --tx-intent next.intent
printf '%s' "$(cat next.intent)" >nolf.intent
attempt "a non-canonical intent text (no final LF)" INTENT_MALFORMED nolf.intent \
  next.intent.alice next.intent.bob -- --tx-intent next.intent

# Replay: by hash and by id.
refused "replay: the signed batch again" INTENT_REPLAY W batch.psbt
package again.psbt "$DESC" batch.intent $(approvals batch.intent alice carol) --seed other-coins
refused "replay: the signed intent over other coins" INTENT_REPLAY W again.psbt
sed 's/ withdrawal 7001$/ withdrawal 7001 again/' batch.intent >relabel.intent
approve relabel.intent alice carol
package relabel.psbt "$DESC" relabel.intent $(approvals relabel.intent alice carol)
refused "replay: the same intent id re-spelled, freshly approved" INTENT_REPLAY W relabel.psbt

# The operator at the signer, and the unattended mode.
package next.psbt "$DESC" next.intent $(approvals next.intent alice bob)
echo no | cold --dir W --now "$NOW" sign next.psbt -o declined.psbt >so 2>se
rc=$?
[ "$rc" = 1 ] && grep -q '^kura-cold: sign: refused: KURA_REFUSE_DECLINED: ' se && [ ! -e declined.psbt ]
check "the operator answers no: KURA_REFUSE_DECLINED" $?
cold --dir W --now "$NOW" sign next.psbt -o hot.psbt --unattended </dev/null >so 2>se
rc=$?
[ "$rc" = 1 ] && grep -q '^kura-cold: sign: refused: KURA_REFUSE_HOT_NOT_ALLOWED: ' se && [ ! -e hot.psbt ]
check "unattended signing under a cold policy: KURA_REFUSE_HOT_NOT_ALLOWED" $?
sign_ok "control: the approved intent signs when nothing is altered" W next.psbt next.W.psbt
finalize "control: finalize, every signature valid, outputs = intent" \
  "$DESC" next.intent next.psbt next.W.psbt

cold --dir W journal verify >/dev/null 2>&1
check "journal: the chain verifies" $?

finish
