#!/usr/bin/env bash
# approve-cli.sh KURA_APPROVE — kura-approve end to end, with keys made by
# ssh-keygen in a temporary directory:
#   show     renders the intent as the signer will, marks allowlisted and
#            unlisted destinations, refuses a non-canonical intent with the
#            parser's message;
#   approve  signs with a plain key (Ed25519 and ECDSA), a passphrase-
#            protected key (through SSH_ASKPASS) and a key held only by
#            ssh-agent; asks first and signs nothing on "no"; refuses to write
#            what ssh-keygen returns when it does not verify (a wrong
#            namespace, a wrong key, other bytes) — proved with fake
#            ssh-keygen programs put first on PATH;
#   verify   counts approvals with the signer's own check: quorum met,
#            too few, a key outside the policy, one approver twice, the
#            initiator, another intent's approval, a policy signature.
# OpenSSH's own `ssh-keygen -Y verify` accepts the approvals kura-approve
# writes. Exit codes: 0 done, 1 refused, 2 could not run.
set -u
approve=$(realpath "$1")
work=$(mktemp -d)
# The policy versions this approver has verified (never the user's own).
export KURA_APPROVE_STATE="$work/known-policies"
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export TMPDIR=$work
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { # check NAME STATUS
  if [ "$2" = 0 ]; then ok "$1"; else bad "$1"; fi
}
run() { # run ARGS... : kura-approve with stdin from /dev/null; out, err, rc
  "$approve" "$@" </dev/null >"$work/out" 2>"$work/err"
  rc=$?
}
expect() { # expect NAME CODE STDERR-PATTERN -- ARGS...
  local name=$1 code=$2 pattern=$3
  shift 4
  run "$@"
  if [ "$rc" = "$code" ] && grep -q -- "$pattern" "$work/err"; then
    ok "$name"
  else
    bad "$name: exit $rc (want $code), stderr: $(head -c 600 "$work/err")"
  fi
}

cd "$work" || exit 2
for k in alice carol dave outsider admin1; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$k"; done
ssh-keygen -q -t ecdsa -b 256 -N '' -C bob -f bob
ssh-keygen -q -t ed25519 -N 'correct horse battery' -C locked -f locked
pk() { cut -d' ' -f1,2 "$1.pub"; }

cat >policy <<EOF
kura-policy 1
version: 3
network: bitcoin
wallet: treasury-cold #q4x7k2m9
mode: cold
admin: admin-one $(pk admin1)
admin-quorum: 1
approver: alice $(pk alice)
approver: bob $(pk bob)
approver: carol $(pk carol)
approver: erin $(pk locked)
tier: 100000000 1
tier: max 2
initiator-may-approve: no
allowlist-required: yes
allowlist-delay: 86400
allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage
allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit
max-per-transfer: 5000000000
max-per-24h: 20000000000
max-fee: 1000000
max-fee-rate: 200
max-lifetime: 86400
EOF
intent_text() { # intent_text ID AMOUNT
  cat <<EOF
kura-intent 1
id: $1
network: bitcoin
wallet: treasury-cold #q4x7k2m9
policy: ${POLICY_VERSION:-3}
initiator: carol
created: 2030-11-21T09:30:00Z
expires: 2030-11-21T21:30:00Z
output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq $2 withdrawal 8812
output: bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 2500000 withdrawal 8813
max-fee: 40000
EOF
}
intent_text 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1 150000000 >intent
intent_text 0a1c2a9e7b3d4c58a1e0f6b2d9c3e7a2 150000000 >other-intent
sed 's/treasury-cold #q4x7k2m9/treasury-hot #q4x7k2m9/' intent >hot-intent

# ---- show ----
run show intent
check "show: exit 0" "$rc"
grep -q '^  to:        bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq$' out; check "show: address" $?
grep -q '^  amount:    1.50000000 BTC (150000000 sats)$' out; check "show: BTC and sats" $?
grep -q '^  label:     withdrawal 8812$' out; check "show: label" $?
grep -q '^Fee cap:     0.00040000 BTC (40000 sats)$' out; check "show: fee cap" $?
grep -q '^  expires:   2030-11-21T21:30:00Z$' out; check "show: expiry" $?
hash=$(sha256sum intent | cut -d' ' -f1)
grep -q "^Intent hash: $hash$" out; check "show: the hash is the file's SHA-256" $?
grep -q 'WARNING: no policy given' out; check "show: no policy, says so" $?

run show intent --policy policy
check "show --policy: exit 0" "$rc"
grep -q '^  allowlist: allowlisted as exchange deposit$' out; check "show: allowlist label from the policy" $?
grep -q '^  allowlist: NOT ON THE ALLOWLIST$' out; check "show: unlisted destination marked" $?
grep -q '^WARNING: output 2 pays bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297, which is NOT ON THE ALLOWLIST' out
check "show: warning for the unlisted destination" $?
grep -q '^Approvals:   2 needed for this amount' out; check "show: approvals the tier needs" $?
run show hot-intent --policy policy
grep -q '^WARNING: the intent names wallet treasury-hot' out; check "show: policy of another wallet warned" $?

printf 'kura-intent 1\r\n' >crlf
expect "show: CRLF refused with the parser's message" 1 'kura-approve: show: KURA_REFUSE_INTENT_MALFORMED: .*CR' -- show crlf
sed 's/ 150000000 / 0150000000 /' intent >leading-zero
expect "show: leading zero refused" 1 'leading zero' -- show leading-zero
sed 's/bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq/BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ/' intent >upper
expect "show: upper-case bech32 refused" 1 'KURA_REFUSE_INTENT_MALFORMED' -- show upper
expect "show: missing file" 2 'kura-approve: show: cannot read' -- show nope
echo 'kura-policy 1' >bad-policy
expect "show: malformed policy cannot run" 2 'kura-approve: show: bad-policy: policy' -- show intent --policy bad-policy
expect "usage" 2 'usage' -- frobnicate

# ---- approve ----
run approve intent --key alice --yes --policy policy
check "approve alice (ed25519): exit 0" "$rc"
[ -s intent.approval ]; check "approve: default output INTENT.approval" $?
grep -q '^Signing as:  alice (ssh-ed25519 SHA256:' out; check "approve: names the approver" $?
printf 'alice %s\n' "$(pk alice)" >allowed
printf 'bob %s\n' "$(pk bob)" >>allowed
ssh-keygen -Y verify -f allowed -I alice -n kura-intent-v1 -s intent.approval <intent >/dev/null 2>&1
check "approve: OpenSSH verifies alice's approval" $?

echo yes | "$approve" approve intent --key bob -o bob.approval --policy policy >out 2>err
check "approve bob (ecdsa) after typing yes" $?
grep -q 'Approve this transfer? Type "yes" to sign' out; check "approve: asks first" $?
ssh-keygen -Y verify -f allowed -I bob -n kura-intent-v1 -s bob.approval <intent >/dev/null 2>&1
check "approve: OpenSSH verifies bob's approval" $?

echo no | "$approve" approve intent --key carol -o carol.approval >out 2>err
rc=$?
[ "$rc" = 1 ] && grep -q 'kura-approve: approve: declined' err && [ ! -e carol.approval ]
check "approve: 'no' signs nothing (exit 1, no file)" $?
"$approve" approve intent --key carol -o carol.approval </dev/null >out 2>err
rc=$?
[ "$rc" = 1 ] && [ ! -e carol.approval ]; check "approve: no answer signs nothing" $?

expect "approve: existing output kept" 2 'File exists' -- approve intent --key alice --yes
run approve intent --key alice --yes --force
check "approve: --force replaces" "$rc"

printf '#!/bin/sh\necho "correct horse battery"\n' >askpass
chmod +x askpass
SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force "$approve" approve intent --key locked \
  -o erin.approval --yes --policy policy </dev/null >out 2>err
check "approve: passphrase-protected key" $?
grep -q '^Signing as:  erin ' out; check "approve: passphrase key is erin" $?

eval "$(ssh-agent -s)" >/dev/null
agent_pid=$SSH_AGENT_PID
ssh-add -q dave 2>/dev/null
mkdir -p agent-only && cp dave.pub agent-only/
run approve intent --key agent-only/dave.pub -o dave.approval --yes
check "approve: key held by ssh-agent (.pub only)" "$rc"
ssh-keygen -Y check-novalidate -n kura-intent-v1 -s dave.approval <intent >/dev/null 2>&1
check "approve: agent signature checks out" $?
grep -q 'WARNING: no policy given' out; check "approve: without policy, warns" $?
kill "$agent_pid" 2>/dev/null
agent_pid=
unset SSH_AUTH_SOCK SSH_AGENT_PID

run approve intent --key outsider -o outsider.approval --yes --policy policy
grep -q 'WARNING: this key is not an approver of policy version 3' out
check "approve: warns a key outside the policy" $?
run approve intent --key carol -o carol.approval --yes --policy policy
grep -q 'WARNING: you are this intent.s initiator' out; check "approve: warns the initiator" $?
run approve crlf --key alice -o crlf.approval --yes
[ "$rc" = 1 ] && [ ! -e crlf.approval ] && grep -q 'KURA_REFUSE_INTENT_MALFORMED' err
check "approve: non-canonical intent refused, nothing signed" $?

# ssh-keygen that does the wrong thing: kura-approve must notice before writing.
real=$(command -v ssh-keygen)
mkfake() { # mkfake NAME BODY
  mkdir -p "fake-$1"
  printf '#!/bin/sh\n%s\n' "$2" >"fake-$1/ssh-keygen"
  chmod +x "fake-$1/ssh-keygen"
}
# Arguments: -Y sign -f KEY -n NAMESPACE FILE
mkfake ns "exec $real -Y sign -f \"\$4\" -n kura-policy-v1 \"\$7\""
mkfake key "exec $real -Y sign -f $work/outsider -n \"\$6\" \"\$7\""
mkfake bytes "echo 'kura-intent 1' >\"\$7\"; exec $real -Y sign -f \"\$4\" -n \"\$6\" \"\$7\""
mkfake broken "exit 255"
for f in ns key bytes; do
  PATH=$work/fake-$f:$PATH "$approve" approve intent --key alice -o fake-$f.approval --yes \
    </dev/null >out 2>err
  rc=$?
  [ "$rc" = 1 ] && grep -q 'does not verify' err && [ ! -e fake-$f.approval ]
  check "approve: ssh-keygen's bad signature ($f) is not written" $?
done
PATH=$work/fake-broken:$PATH "$approve" approve intent --key alice -o broken.approval --yes \
  </dev/null >out 2>err
rc=$?
[ "$rc" = 2 ] && grep -q 'ssh-keygen -Y sign failed' err && [ ! -e broken.approval ]
check "approve: ssh-keygen failing is 'could not run'" $?
leftover=$(find "$work" -maxdepth 1 -name 'kura-approve-*' | wc -l)
[ "$leftover" = 0 ]; check "approve: temporary directories removed" $?

# ---- verify ----
run verify intent intent.approval bob.approval --policy policy
check "verify: quorum met, exit 0" "$rc"
grep -q '^quorum: 2 of 2 required approvals: met$' out; check "verify: says met" $?
grep -q '^approval 1 (intent.approval): alice (ssh-ed25519 ' out; check "verify: names alice" $?
grep -q '^approval 2 (bob.approval): bob (ecdsa-sha2-nistp256 ' out; check "verify: names bob" $?
run verify intent erin.approval intent.approval --policy policy
check "verify: passphrase-key approval counts" "$rc"
expect "verify: too few" 1 'kura-approve: verify: KURA_REFUSE_APPROVALS_INSUFFICIENT' -- \
  verify intent intent.approval --policy policy
expect "verify: outsider" 1 'KURA_REFUSE_APPROVER_UNKNOWN' -- \
  verify intent intent.approval outsider.approval bob.approval --policy policy
expect "verify: agent key not in policy" 1 'KURA_REFUSE_APPROVER_UNKNOWN' -- \
  verify intent intent.approval dave.approval --policy policy
expect "verify: one approver twice" 1 'KURA_REFUSE_APPROVER_DUPLICATE' -- \
  verify intent intent.approval intent.approval --policy policy
expect "verify: initiator" 1 'KURA_REFUSE_APPROVER_INITIATOR' -- \
  verify intent intent.approval carol.approval --policy policy
expect "verify: another intent's approvals" 1 'KURA_REFUSE_APPROVAL_INVALID' -- \
  verify other-intent intent.approval bob.approval --policy policy
ssh-keygen -Y sign -f bob -n kura-policy-v1 <intent >policy-ns.sig 2>/dev/null
expect "verify: policy-namespace signature" 1 'KURA_REFUSE_APPROVAL_INVALID.*namespace' -- \
  verify intent intent.approval policy-ns.sig --policy policy
expect "verify: intent of another wallet" 1 'KURA_REFUSE_INTENT_WALLET' -- \
  verify hot-intent intent.approval bob.approval --policy policy
expect "verify: garbage approval" 1 'KURA_REFUSE_APPROVAL_INVALID' -- \
  verify intent intent.approval policy --policy policy
intent_text 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1 50000000 >small-intent
"$approve" approve small-intent --key alice --yes >/dev/null 2>&1
run verify small-intent small-intent.approval --policy policy
check "verify: one approval for the small tier" "$rc"
grep -q '^quorum: 1 of 1 required approval: met$' out; check "verify: small tier needs one" $?
expect "verify: missing approval file" 2 'cannot read' -- verify intent nope --policy policy
expect "verify: no policy" 2 'usage' -- verify intent intent.approval

# ---- the newest policy this approver verified (a withheld revocation) ----
# Version 4 removes erin (say her key was stolen), signed by the one admin.
sed -e 's/^version: 3$/version: 4/' -e '/^approver: erin /d' policy >policy-v4
ssh-keygen -Y sign -f admin1 -n kura-policy-v1 <policy-v4 >policy-v4.sig 2>/dev/null
ssh-keygen -Y sign -f bob -n kura-policy-v1 <policy-v4 >policy-v4.bob.sig 2>/dev/null
expect "policy verify: signed by an approver, not an administrator" 1 \
  'kura-approve: policy verify: policy: 0 of 1 required' -- \
  policy verify policy-v4 policy-v4.bob.sig --policy policy
run policy verify policy-v4 policy-v4.sig --policy policy
check "policy verify: version 4 signed by the administrator in force" "$rc"
grep -q '^policy version 4 of treasury-cold #q4x7k2m9: signed by 1 of 1 administrators of version 3; remembered$' out
check "policy verify: says what it remembered" $?
grep -q '^bitcoin treasury-cold #q4x7k2m9 4$' "$KURA_APPROVE_STATE"
check "policy verify: the version is remembered" $?
# The coordinator withholds v4 from the signer and shows intents under v3.
expect "approve: an intent naming policy 3 after verifying 4" 1 \
  'names policy version 3, but you have verified version 4' -- \
  approve intent --key alice -o stale.approval --yes
[ ! -e stale.approval ]; check "approve: nothing written for the stale intent" $?
expect "show: an older policy file than the one verified" 1 \
  'is policy version 3 of treasury-cold #q4x7k2m9, but you have verified version 4' -- \
  show intent --policy policy
POLICY_VERSION=4 intent_text 1f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1 150000000 >intent-v4
run approve intent-v4 --key alice -o v4.approval --yes --policy policy-v4
check "approve: an intent naming policy 4 with policy 4" "$rc"
POLICY_VERSION=5 intent_text 2f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1 150000000 >intent-v5
run approve intent-v5 --key alice -o v5.approval --yes --policy policy-v4
check "approve: an intent naming a newer policy is approved" "$rc"
grep -q 'WARNING: the intent names policy version 5, newer than your policy file' out
check "approve: ...with a warning to verify the newer policy" $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
