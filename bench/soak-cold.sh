#!/usr/bin/env bash
# bench/soak-cold.sh KURA-COLD COLD-PACKAGE KILLS — the hot signer under
# SIGKILL, for bench/soak (not CI; tests/e2e/cold-serve.sh is the CI-sized
# version). KURA-COLD must be a build with the test hooks (--now, the cheap
# KDF); COLD-PACKAGE is tests/e2e's package helper.
#
# A hot wallet (2-of-3, signer c under a `mode: hot` policy whose caps never
# bind) and 10 x KILLS + 20 packages approved by carol in the spool's inbox;
# `kura-cold serve --spool` started and SIGKILLed 0 to 120 ms later, KILLS
# times (fewer if the inbox empties first); then one last `serve --once`.
# Checked: every package answered exactly once (outbox or refused), every
# signed PSBT in the outbox carries its intent and has its `signed` journal
# entry, no intent journaled as signed twice, every refusal a replay (a
# signature journaled whose PSBT a kill cut off), the journal verifies.
# Prints "cold soak: K kills, N packages: S signed, R refused, U signed
# without a journal entry, D intents signed twice" and "P passed, F failed".
# Exit 77 when kura-cold has no `serve --spool` (the hot signer is not built).
cold=$1 pkg=$2 kills=${3:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
# (kura-cold has no per-command --help: `kura-cold serve --help` exits 2 even
# where serve exists; its usage names `serve --spool` when it is there.)
if ! "$cold" --help 2>&1 | grep -q 'serve --spool'; then
  echo "SKIPPED: kura-cold has no serve --spool (the hot signer is not in this tree)"
  exit 77
fi
. "$root/tests/e2e/cold-lib.sh"
require_hooks

cold_keys || { echo "FAILED: ssh-keygen"; exit 1; }
cold_signers || { echo "FAILED: signers"; exit 1; }
D1=$("$pkg" addr regtest 1)
C=$work/c
cold_policy 1 hot no 0 >"$work/hotc"
echo yes | kc --dir "$C" ceremony --descriptor "$DESC" --policy "$work/hotc" --wallet test-wallet \
  >"$work/ceremony.out" 2>&1
check "signer c: the ceremony under a hot policy" $?

N=$((kills * 10 + 20))
S=$work/spool
mkdir -p "$work/pk" "$S/inbox"
"$pkg" make --descriptor "$DESC" --wallet test-wallet --chain regtest --out-dir "$work/pk" \
  --count "$N" --pay "$D1:10000" --created $((NOW - 60)) --expires $((NOW + 3600)) >"$work/list"
check "$N packages made" $?
for i in $(seq 0 $((N - 1))); do
  ssh-keygen -Y sign -f "$work/keys/carol" -n kura-intent-v1 <"$work/pk/$i.intent" \
    >"$work/pk/$i.intent.carol" 2>/dev/null
done
"$pkg" attach-dir "$work/pk" "$N" .carol
check "approved by carol" $?
for i in $(seq 0 $((N - 1))); do cp "$work/pk/$i.psbt" "$S/inbox/$(printf 'p%05d' "$i").psbt"; done

k=0
while [ "$k" -lt "$kills" ] && [ -n "$(ls "$S/inbox")" ]; do
  "$cold" --passphrase-file "$work/pass" --now "$NOW" --dir "$C" serve --spool "$S" --poll-ms 10 \
    >/dev/null 2>&1 &
  p=$!
  sleep "0.$(printf '%03d' $((RANDOM % 120)))"
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  k=$((k + 1))
done
# The last passes (serve takes at most 4096 packages a pass): until the inbox is empty.
passes=0 rc=0
while [ -n "$(ls "$S/inbox")" ] && [ "$passes" -lt $((N / 4096 + 3)) ]; do
  kc --dir "$C" serve --spool "$S" --once >/dev/null 2>"$work/final.err" || rc=$?
  passes=$((passes + 1))
done
check "after $k kills: $passes last pass(es)" $rc
[ -z "$(ls "$S/inbox")" ]; check "every package taken from the inbox" $?
kc --dir "$C" journal verify >/dev/null 2>&1; check "the journal verifies after $k kills" $?
kc --dir "$C" journal show >"$work/journal"
grep -o 'signed    intent .* sha256 [0-9a-f]*' "$work/journal" | awk '{print $NF}' | sort >"$work/signed"
signed=0 refused=0 answered=0 unjournaled=0 badrefusal=0
mapfile -t hashes < <(cut -d' ' -f2 "$work/list")
for i in $(seq 0 $((N - 1))); do
  n=$(printf 'p%05d' "$i")
  h=${hashes[$i]}
  o=0 r=0
  [ -e "$S/outbox/$n.psbt" ] && o=1
  [ -e "$S/refused/$n.refused" ] && r=1
  [ $((o + r)) = 1 ] && answered=$((answered + 1))
  if [ "$o" = 1 ]; then
    signed=$((signed + 1))
    if ! "$pkg" info "$S/outbox/$n.psbt" | grep -q "^intent-sha256 $h" ||
      ! grep -qx "$h" "$work/signed"; then
      unjournaled=$((unjournaled + 1))
    fi
  fi
  if [ "$r" = 1 ]; then
    refused=$((refused + 1))
    [ "$(sed -n 's/^code: //p' "$S/refused/$n.refused")" = KURA_REFUSE_INTENT_REPLAY ] ||
      badrefusal=$((badrefusal + 1))
  fi
done
doubles=$(uniq -d "$work/signed" | wc -l)
[ "$answered" = "$N" ]; check "every package answered exactly once ($answered/$N)" $?
[ "$unjournaled" = 0 ] && [ "$signed" -gt 0 ]; check "every signed PSBT has its journal entry" $?
[ "$doubles" = 0 ]; check "no intent journaled as signed twice" $?
[ "$badrefusal" = 0 ]; check "every refusal is a replay of a signature a kill cut off ($badrefusal not)" $?
echo "cold soak: $k kills, $N packages: $signed signed, $refused refused, $unjournaled signed without a journal entry, $doubles intents signed twice"
finish
