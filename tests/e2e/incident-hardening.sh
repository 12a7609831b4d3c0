#!/usr/bin/env bash
# incident-hardening.sh — issue 10's findings as attacks through the real
# programs (kura-cold, kura-approve), one P2TR wallet held by signer T, in
# the order of the story's clock:
#
#  1. an aliased key: a policy update naming an administrator's Ed25519 key
#     again as a security key ("sk-ssh-ed25519@openssh.com K ssh:"), so one
#     holder would count as an administrator and an approver;
#  2. a rushed loosening: an update that sets allowlist-delay to 0, adds an
#     address and pays it in the same package; one that adds an approver who
#     approves at once; then the same update accepted with a legitimate
#     transfer, whose new address still waits the old delay;
#  3. far change: change at index 5000 on a fresh wallet; the bound moving
#     with what the journal has seen signed;
#  4. a withheld revocation: the coordinator keeps policy v3 (which removes
#     dave's stolen key) from the signer; approvers who verified v3 refuse
#     intents naming older versions; the signer refuses an intent naming v3
#     it has not seen; `kura-cold policy apply` installs v3 directly, after
#     which the thief's approval counts for nothing;
#  5. fee-heavy transfers against the 24-hour cap: the fees count.
# shellcheck source=incident-lib.sh disable=SC2046,SC2086
. "$(dirname "$0")/incident-lib.sh"

restore T "$WORDS_C"
XT=$(xpub T m/86h/1h/0h)
DESC=$(canonical "tr($XT/<0;1>/*)")
CHK=${DESC##*#}
[ -n "$CHK" ] || die "no descriptor checksum"
WALLET="guarded #$CHK"
policy_text 1 guarded "$CHK" "${ALLOW_V1[@]}" >policy-v1
policy_sign policy-v1 admin1 admin2
ceremony T "$DESC" policy-v1 guarded
at() { echo $((T0 + $1)); }
H=3600
INTENT_POLICY=1

# policy_pkg OUT INTENT APPROVER POLICY SIGNER...: a package carrying a policy.
policy_pkg() {
  local out=$1 int=$2 who=$3 file=$4 s
  local -a sigs=()
  shift 4
  for s in "$@"; do sigs+=(--policy-sig "$file.$s.sig"); done
  package "$out" "$DESC" "$int" $(approvals "$int" "$who") --policy "$file" "${sigs[@]}"
}
# apply EXPECT-RC PATTERN NOW FILE SIGNER...: kura-cold policy apply; so/se.
apply() {
  local want=$1 pattern=$2 now=$3 file=$4 s rc
  local -a sigs=()
  shift 4
  for s in "$@"; do sigs+=("$file.$s.sig"); done
  echo yes | cold --dir T --now "$now" policy apply "$file" "${sigs[@]}" >so 2>se
  rc=$?
  [ "$rc" = "$want" ] && grep -q -- "$pattern" so se
}

# ---- 1. an aliased key (T0 + 1 h) ----
NOW=$(at $H)
# admin-one's Ed25519 key, written as a security key (application "ssh:").
sk_of() {
  printf 'sk-ssh-ed25519@openssh.com '
  { printf '\0\0\0\032sk-ssh-ed25519@openssh.com\0\0\0\040'
    cut -d' ' -f2 "keys/$1.pub" | base64 -d | tail -c 32
    printf '\0\0\0\004ssh:'; } | base64 -w0
}
SK_ADMIN1=$(sk_of admin1)
policy_text 2 guarded "$CHK" "${ALLOW_V1[@]}" | sed "/^approver: dave /a approver: eve $SK_ADMIN1" \
  >policy-alias
grep -q '^approver: eve sk-ssh-ed25519@openssh.com ' policy-alias || die "no aliased approver"
policy_sign policy-alias admin1 admin2
intent plain.intent plain "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 "$D1 1000000 w1"
approve plain.intent carol
policy_pkg p.psbt plain.intent carol policy-alias admin1 admin2
refused "aliased key: an update naming admin-one's key again as approver eve's security key" \
  POLICY_MALFORMED T p.psbt
grep -q "same key as admin 'admin-one' (the same public key under another type" se
check "...the signer names the alias" $?
apply 1 'KURA_REFUSE_POLICY_MALFORMED' "$NOW" policy-alias admin1 admin2
check "aliased key: policy apply refuses it too" $?
"$KURA_APPROVE" show plain.intent --policy policy-alias >so 2>se
[ $? = 2 ] && grep -q 'same key as admin' se
check "aliased key: kura-approve will not use such a policy" $?

# ---- 2. a rushed loosening (T0 + 1 h .. 27 h) ----
policy_text 2 guarded "$CHK" "${ALLOW_V1[@]}" "allow: $D4 new exchange" "allowlist-delay: 0" \
  >policy-v2
policy_sign policy-v2 admin1 admin2
INTENT_POLICY=2
intent rush.intent rush "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 "$D4 2000000 rush"
approve rush.intent carol
policy_pkg p.psbt rush.intent carol policy-v2 admin1 admin2
refused "rushed loosening: delay 0, a new address, paid in the same package" \
  DESTINATION_WAITING T p.psbt
grep -q 'policy version 2 adds to the allowlist' se
check "...the new entry waits the delay of the policy in force" $?
sed "/^approver: dave /a approver: mallory $(pk outsider)" policy-v2 >policy-v2m
policy_sign policy-v2m admin1 admin2
intent newby.intent newby "$WALLET" "$T0" $((T0 + 12 * H)) ops-tanaka 50000 "$D1 1500000 w2"
ssh-keygen -Y sign -f keys/outsider -n kura-intent-v1 <newby.intent >newby.intent.outsider 2>/dev/null
policy_pkg p.psbt newby.intent outsider policy-v2m admin1 admin2
refused "rushed loosening: a new approver approving in the package that adds them" \
  APPROVER_UNKNOWN T p.psbt
grep -q 'whom policy version 2 adds as an approver' se
check "...the new approver waits" $?
# v2 accepted with a legitimate transfer (T0 + 2 h): in force, but what it
# widens waits a day from now.
approve newby.intent carol
policy_pkg v2.psbt newby.intent carol policy-v2 admin1 admin2
sign_ok "policy v2 accepted with a legitimate transfer" T v2.psbt v2.T.psbt "$(at $((2 * H)))"
cold --dir T --now "$(at $((2 * H)))" policy show >show.txt 2>&1
grep -q '^waiting: until .*allowlist-delay 0' show.txt
check "kura-cold policy show: what v2 widens still waits" $?
intent rush2.intent rush2 "$WALLET" $((T0 + 2 * H)) $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D4 2000000 rush"
approve rush2.intent carol
package rush2.psbt "$DESC" rush2.intent $(approvals rush2.intent carol) --seed rush2
refused "rushed loosening: v2 in force, its new address still waits the old delay" \
  DESTINATION_WAITING T rush2.psbt "$(at $((3 * H)))"

# ---- 3. far change (T0 + 4 h) ----
# chg NAME INDEX: an approved 0.5 mBTC transfer with change at INDEX.
chg() {
  intent "$1.intent" "$1" "$WALLET" $((T0 + 3 * H)) $((T0 + 12 * H)) ops-tanaka 50000 "$D1 50000 $1"
  approve "$1.intent" carol
  package "$1.psbt" "$DESC" "$1.intent" $(approvals "$1.intent" carol) --seed "$1" --change-index "$2"
}
chg far 5000
refused "far change: change index 5000 on a wallet that never used change" CHANGE_FOREIGN T far.psbt \
  "$(at $((4 * H)))"
grep -q 'beyond the change limit 1000' se
check "...the limit is the journal's highest change index (0, v2's transfer) + 1000" $?
chg near 900
sign_ok "change index 900: within the gap" T near.psbt near.T.psbt "$(at $((4 * H)))"
chg next 1850
sign_ok "change index 1850: within 1000 of the 900 the journal has seen" T next.psbt next.T.psbt \
  "$(at $((4 * H)))"
chg beyond 2851
refused "change index 2851: more than 1000 past the highest signed (1850)" CHANGE_FOREIGN T \
  beyond.psbt "$(at $((4 * H)))"
cold --dir T journal show 2>/dev/null | grep -q 'change index 1850'
check "the journal records the highest change index" $?

# ---- 4. a withheld revocation (T0 + 5 h) ----
NOW=$(at $((5 * H)))
# v3 also lowers the caps to 1.2 BTC per transfer and per 24 hours (a
# tightening: in force at once).
policy_text 3 guarded "$CHK" "${ALLOW_V1[@]}" "allow: $D4 new exchange" "allowlist-delay: 0" \
  "max-per-transfer: 120000000" "max-per-24h: 120000000" | sed '/^approver: dave /d' >policy-v3
policy_sign policy-v3 admin1 admin2
# The approvers verify v3 (dave's key was stolen) with their own tool.
"$KURA_APPROVE" policy verify policy-v3 policy-v3.admin1.sig policy-v3.admin2.sig \
  --policy policy-v2 >so 2>se
check "kura-approve: the approvers verify v3 ($(head -c 100 so))" $?
# The coordinator keeps v3 from the signer. Intents under the old rules:
intent stale.intent stale "$WALLET" $((T0 + 4 * H)) $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D1 3000000 stale"
"$KURA_APPROVE" approve stale.intent --key keys/alice -o stale.intent.alice --yes >so 2>se
[ $? = 1 ] && grep -q 'names policy version 2, but you have verified version 3' se
check "withheld revocation: alice's kura-approve refuses an intent naming v2" $?
# The thief approves with dave's key (no kura-approve) an intent naming v2:
# until v3 reaches the signer, the signer's rules still count dave.
ssh-keygen -Y sign -f keys/dave -n kura-intent-v1 <stale.intent >stale.intent.dave 2>/dev/null
package thief.psbt "$DESC" stale.intent $(approvals stale.intent dave) --seed thief
# The honest intent names v3: the signer, kept from it, refuses.
INTENT_POLICY=3
intent honest.intent honest "$WALLET" $((T0 + 4 * H)) $((T0 + 12 * H)) ops-tanaka 50000 \
  "$D1 3000000 honest"
approve honest.intent alice
package honest.psbt "$DESC" honest.intent $(approvals honest.intent alice) --seed honest
refused "withheld revocation: an intent naming v3, which the signer has not seen" POLICY_BEHIND T \
  honest.psbt "$NOW"
# The administrators carry v3 to the signer themselves.
apply 1 'KURA_REFUSE_POLICY_SIGNATURES' "$NOW" policy-v3 admin1
check "policy apply: one administrator of a quorum of two is refused" $?
apply 0 'policy version 3 is now in force' "$NOW" policy-v3 admin1 admin2
check "policy apply: v3, signed by two administrators, is in force ($(grep -m1 'It widens\|widens nothing' so))" $?
refused "withheld revocation: after policy apply, the thief's approval with dave's key counts for nothing" \
  APPROVER_UNKNOWN T thief.psbt "$NOW"
sign_ok "the honest intent naming v3 signs" T honest.psbt honest.T.psbt "$NOW"
apply 0 'nothing to do' "$NOW" policy-v3 admin1 admin2
check "policy apply: the same version again changes nothing" $?
apply 1 'KURA_REFUSE_POLICY_STALE' "$NOW" policy-v2 admin1 admin2
check "policy apply: an older version is refused" $?

# The new address of v2, once its waiting period (from its acceptance at
# T0 + 2 h) has passed.
intent d4.intent d4 "$WALLET" $((T0 + 26 * H)) $((T0 + 30 * H)) ops-tanaka 50000 "$D4 2000000 late"
approve d4.intent carol
package d4.psbt "$DESC" d4.intent $(approvals d4.intent carol) --seed d4
sign_ok "v2's new address, a day after the signer accepted v2" T d4.psbt d4.T.psbt "$(at $((27 * H)))"

# ---- the ceremony refuses other branch numbering (finding 6) ----
restore U "$WORDS_A"
XU=$(xpub U m/86h/1h/0h)
for bad in "tr($XU/<1;0>/*)" "tr($XU/<0;2>/*)"; do
  d=$(canonical "$bad")
  policy_text 1 swapped "${d##*#}" "${ALLOW_V1[@]}" >policy-swapped
  echo yes | cold --dir U --now "$TC" ceremony --descriptor "$d" --policy policy-swapped \
    --wallet swapped >so 2>se
  rc=$?
  [ "$rc" = 1 ] && grep -q 'does not number its branches <0;1>' se && [ ! -e U/wallet ]
  check "ceremony: ${bad#*/} refused, nothing written ($(head -c 140 se))" $?
done

# ---- 5. fee-heavy transfers against the 24-hour cap (T0 + 4 days) ----
# Cap 1.2 BTC per 24 hours. 1.19985 BTC + 0.0001 BTC fee leaves 5,000 sat;
# then 3,000 sat + a 3,000 sat fee is 1,000 sat over — counting fees.
D=$((4 * 24 * H))
intent fat.intent fat "$WALLET" $((T0 + D)) $((T0 + D + 12 * H)) ops-tanaka 50000 \
  "$D1 119985000 treasury move"
approve fat.intent alice bob
package fat.psbt "$DESC" fat.intent $(approvals fat.intent alice bob) --seed fat --fee 10000
sign_ok "1.19985 BTC and a 10,000 sat fee: within the cap" T fat.psbt fat.T.psbt "$(at $((D + H)))"
intent tip.intent tip "$WALLET" $((T0 + D)) $((T0 + D + 12 * H)) ops-tanaka 50000 "$D2 3000 tip"
approve tip.intent carol
package tip.psbt "$DESC" tip.intent $(approvals tip.intent carol) --seed tip --fee 3000
refused "fees count: 3,000 sat + a 3,000 sat fee after 1.19995 BTC left today" LIMIT_ROLLING T \
  tip.psbt "$(at $((D + 2 * H)))"
grep -q 'payments and fees' se
check "...the refusal says fees count" $?
package tip2.psbt "$DESC" tip.intent $(approvals tip.intent carol) --seed tip2 --fee 1000
sign_ok "3,000 sat + a 1,000 sat fee fits exactly" T tip2.psbt tip2.T.psbt "$(at $((D + 2 * H)))"
finish
