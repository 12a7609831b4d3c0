#!/usr/bin/env bash
# incident-bsms.sh — a 2-of-3 multisig set up with BIP129 (BSMS 1.0) across
# three kura-cold keystores (A, B, C), with a coordinator that only carries
# files (tests/e2e/bsms-coordinator.c, as kura-server will do it).
#
# Each device signs its key record; the coordinator assembles the
# descriptor record; every device checks the descriptor record against every
# record before its ceremony accepts the wallet. The attacks, each refused by
# every device with nothing written: a key record whose key the coordinator
# replaced with its own (signature kept); a descriptor record naming the
# coordinator's key beside genuine records; a record substituted whole by the
# coordinator's own, properly signed (the device whose key is missing
# refuses). Then the honest setup succeeds on all three, with one wallet.
# shellcheck source=incident-lib.sh disable=SC2046,SC2086
. "$(dirname "$0")/incident-lib.sh"
if [ ! -x "${BSMS_COORDINATOR:-}" ]; then
  echo "incident: \$BSMS_COORDINATOR is not set to a program" >&2
  exit 2
fi
WORDS_R="zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong"
for d in A B C R; do
  case $d in A) w=$WORDS_A ;; B) w=$WORDS_B ;; C) w=$WORDS_C ;; R) w=$WORDS_R ;; esac
  restore "$d" "$w"
  cold --dir "$d" bsms key -o "$d.bsms" >"$d.key.log" 2>&1 || die "bsms key $d: $(cat "$d.key.log")"
done
grep -q '^BSMS 1.0$' A.bsms; check "bsms key: a BIP129 key record" $?
grep -q "^\[[0-9a-f]\{8\}/48'/1'/0'/2'\]tpub" A.bsms; check "bsms key: the key with its origin, BIP48" $?

# coordinator MODE OUT RECORD...: the descriptor record; sets DESC.
coordinator() {
  local out
  out=$("$BSMS_COORDINATOR" "$@" 2>&1) || die "bsms-coordinator $*: $out"
  DESC=$(printf '%s\n' "$out" | sed -n 's/^descriptor: //p')
}
coordinator 2 regtest -o wallet.bsms A.bsms B.bsms C.bsms
HONEST=$DESC
CHK=${DESC##*#}
[ -n "$CHK" ] || die "no descriptor checksum"
policy_text 1 vault "$CHK" "${ALLOW_V1[@]}" >policy-v1
policy_sign policy-v1 admin1 admin2

# bsms_ceremony DEVICE WALLET-RECORD KEY-RECORD...: stdout/stderr in so/se.
bsms_ceremony() {
  local dev=$1 wallet=$2
  shift 2
  echo yes | cold --dir "$dev" --now "$TC" ceremony --bsms "$wallet" --policy policy-v1 \
    --wallet vault "$@" >so 2>se
}
# refused_setup NAME PATTERN WALLET RECORD...: every device refuses, exit 1,
# nothing written.
refused_setup() {
  local name=$1 pattern=$2 wallet=$3 dev rc
  shift 3
  for dev in A B C; do
    bsms_ceremony "$dev" "$wallet" "$@"
    rc=$?
    if [ "$rc" = 1 ] && grep -q -- "$pattern" se && [ ! -e "$dev/wallet" ] && [ ! -e "$dev/journal" ]; then
      ok "$name: refused by $dev ($(head -c 160 se))"
    else
      bad "$name: device $dev: exit $rc (want 1), stderr: $(head -c 400 se)"
    fi
  done
}

# ---- attack 1: the coordinator's key in B's record, B's signature kept ----
XR=$(sed -n 3p R.bsms)
XB=$(sed -n 3p B.bsms)
sed "3s|.*|$XR|" B.bsms >B-tampered.bsms
coordinator --unchecked 2 regtest -o wallet-evil.bsms A.bsms B-tampered.bsms C.bsms
refused_setup "a key record whose key was replaced" 'KURA_BSMS_EBADSIG' \
  wallet-evil.bsms A.bsms B-tampered.bsms C.bsms
# ... and a changed description (any byte of the four signed lines).
sed '4s/.*/B (replaced)/' B.bsms >B-desc.bsms
refused_setup "a key record with a changed description" 'KURA_BSMS_EBADSIG' \
  wallet.bsms A.bsms B-desc.bsms C.bsms

# ---- attack 2: the descriptor names the coordinator's key, records genuine ----
sed "2s|${XB//[/\\[}/\*\*|${XR//[/\\[}/**|" wallet.bsms >wallet-swapped.bsms
cmp -s wallet.bsms wallet-swapped.bsms && die "the swap did not change the descriptor record"
refused_setup "a descriptor record with the coordinator's key for B's" \
  'is not any signer.s key record' wallet-swapped.bsms A.bsms B.bsms C.bsms

# ---- attack 3: B's record substituted whole by the coordinator's own ----
coordinator 2 regtest -o wallet-sub.bsms A.bsms R.bsms C.bsms
bsms_ceremony B wallet-sub.bsms A.bsms R.bsms C.bsms
rc=$?
[ "$rc" = 1 ] && grep -q 'is not in the descriptor' se && [ ! -e B/wallet ]
check "a substituted record: device B, whose key is missing, refuses ($(head -c 120 se))" $?

# ---- the honest setup ----
for dev in A B C; do
  bsms_ceremony "$dev" wallet.bsms A.bsms B.bsms C.bsms
  rc=$?
  if [ "$rc" = 0 ] && grep -q '^BSMS: 2 of 3, wsh(sortedmulti), first address ' so &&
    grep -q 'every key record verified' so; then
    ok "honest setup: device $dev accepts the wallet"
  else
    bad "honest setup: device $dev: exit $rc: $(head -c 400 se)"
  fi
done
a=$(cold --dir A export 2>/dev/null)
b=$(cold --dir B export 2>/dev/null)
c=$(cold --dir C export 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ]
check "the three devices hold one wallet" $?
if [ "$a" = "$HONEST" ]; then ok "...the coordinator's descriptor, from the records"
else bad "the devices hold $a, the coordinator $HONEST"; fi
finish
