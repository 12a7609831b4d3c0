#!/usr/bin/env bash
# cold-crash.sh KURA-COLD PACKAGE-HELPER MEMSCAN — kill -9 during sign, 200
# times: half at random moments (a random delay up to the time one signature
# takes), half at named points of the test build (right after signing in
# memory, before the journal, between the journal and the output, after the
# output, at exit). After every kill `journal verify` must pass; at the end
# every signed PSBT that exists must verify and have its `signed` journal
# entry (the journal may record more than went out, never less), and the
# signer must still sign.
cold=$1 pkg=$2
. "$(dirname "$0")/cold-lib.sh"
require_hooks
RUNS=${COLD_CRASH_RUNS:-200}

cold_keys && cold_signers && cold_ceremony || { echo "FAILED: setup"; exit 1; }
A=$work/a
D1=$("$pkg" addr regtest 1)
echo yes >"$work/yes"

# The packages: RUNS + 2 transfers, each approved by carol.
mkdir -p "$work/many"
"$pkg" make --descriptor "$DESC" --wallet test-wallet --chain regtest --out-dir "$work/many" \
  --count $((RUNS + 2)) --created $((NOW - 60)) --expires $((NOW + 3600)) \
  --pay "$D1:10000" --change 5000 --change-index 1 >"$work/many/list" || { echo "FAILED: make"; exit 1; }
ssh-keygen -q -Y sign -f "$work/keys/carol" -n kura-intent-v1 "$work/many"/*.intent 2>/dev/null
"$pkg" attach-dir "$work/many" $((RUNS + 2)) .sig || { echo "FAILED: attach"; exit 1; }

sign() { # sign package $1 in the background; its pid in $pid
  "$cold" --passphrase-file "$work/pass" --now "$NOW" --dir "$A" sign "$work/many/$1.psbt" \
    -o "$work/out.$1" <"$work/yes" >/dev/null 2>&1 &
  pid=$!
}

# How long one signature takes here (ASan builds are slow): the range of the
# random delays.
t0=$(date +%s%N)
sign $((RUNS + 1))
wait $pid
check "an uninterrupted signature" $?
ms=$((($(date +%s%N) - t0) / 1000000 + 5))
echo "one signature takes about $ms ms"

points=(signed before-journal after-signed-journal after-output exit)
killed=0 verified=0
for ((i = 0; i < RUNS; i++)); do
  if ((i % 2 == 0)); then
    p=${points[$((RANDOM % ${#points[@]}))]}
    KURA_COLD_TEST_CRASH=$p sign $i
    wait $pid 2>/dev/null
    [ $? = 137 ] && killed=$((killed + 1))
  else
    sign $i
    sleep "$(printf '0.%03d' $((RANDOM % ms)))"
    kill -9 $pid 2>/dev/null && killed=$((killed + 1))
    wait $pid 2>/dev/null
  fi
  if kc --dir "$A" journal verify >"$work/verify" 2>&1; then
    verified=$((verified + 1))
  else
    echo "FAILED: journal verify after run $i: $(cat "$work/verify")"
    fail=$((fail + 1))
  fi
done
check "journal verify passed after all $RUNS runs" "$([ $verified = "$RUNS" ] && echo 0 || echo 1)"

# The signer still works, and recovers whatever a kill left.
sign "$RUNS"
wait $pid
check "a signature after the kills" $?

kc --dir "$A" journal show >"$work/journal"
outputs=0 missing=0 bad=0
for ((i = 0; i <= RUNS + 1; i++)); do
  [ -e "$work/out.$i" ] || continue
  outputs=$((outputs + 1))
  h=$("$pkg" info "$work/out.$i" | sed -n 's/^intent-sha256 //p')
  if [ -z "$h" ] || ! "$pkg" info "$work/out.$i" >/dev/null; then
    bad=$((bad + 1))
    echo "FAILED: out.$i does not verify"
  elif ! grep -q "signed    intent .* sha256 $h " "$work/journal"; then
    missing=$((missing + 1))
    echo "FAILED: out.$i (intent $h) has no signed journal entry"
  fi
done
signed=$(grep -c 'signed    intent' "$work/journal")
echo "$RUNS runs, $killed killed; $outputs signed PSBTs written, $signed signed entries journaled"
check "every signed PSBT verifies" $bad
check "every signed PSBT has its journal entry" $missing
check "the journal holds at least every signature written" "$([ "$signed" -ge $outputs ] && echo 0 || echo 1)"
check "kills happened" "$([ $killed -ge $((RUNS / 2)) ] && echo 0 || echo 1)"
finish
