#!/usr/bin/env bash
# cold-serve.sh KURA-COLD PACKAGE-HELPER — `kura-cold serve --spool DIR`, the
# hot wallet's unattended signer (docs/kura-cold.md "serve"):
#   - a small withdrawal is signed with no person (outbox, journal);
#   - one over the hot policy's per-transfer cap, one to an address not on the
#     allowlist, and one after the rolling 24-hour limit are refused, each with
#     its reason in DIR/refused/NAME.refused and a `refused` journal entry;
#   - a replayed intent is refused; temporary names are left alone; a package
#     already answered (a crash before the inbox file went) is only removed;
#   - serve refuses to start on a cold policy and without a passphrase file;
#   - as a daemon it picks packages up as they come and stops on SIGTERM;
#   - a crash between the journal entry and the outbox file: the next start
#     re-emits the journaled signature (nothing new journaled); another
#     transaction for that intent is still refused as a replay;
#   - crash safety: serve killed with SIGKILL at random points, $SERVE_KILLS
#     times (default 50) over 80 packages: every package is answered exactly
#     once and signed (torn answers re-emitted), every signed PSBT in the
#     outbox has its `signed` journal entry, no intent is journaled as signed
#     twice, and the journal verifies.
cold=$1 pkg=$2
. "$(dirname "$0")/cold-lib.sh"
require_hooks

cold_keys || { echo "FAILED: ssh-keygen"; exit 1; }
cold_signers || { echo "FAILED: signers"; exit 1; }
A=$work/a
D1=$("$pkg" addr regtest 1)
D2=$("$pkg" addr regtest 2)
D3=$("$pkg" addr regtest 3)

# A hot policy with small caps: 0.01 BTC a transfer, 0.025 BTC a day, only
# D1 and D2 (no waiting period).
hot_policy() { # VERSION MAX-PER-TRANSFER MAX-PER-24H
  cold_policy "$1" hot yes 0 "$D1 customer one" "$D2 cold wallet" |
    sed -e "s/^max-per-transfer: .*/max-per-transfer: $2/" -e "s/^max-per-24h: .*/max-per-24h: $3/"
}
ceremony() { # DIR POLICY-FILE
  echo yes | kc --dir "$1" ceremony --descriptor "$DESC" --policy "$2" --wallet test-wallet \
    >"$work/ceremony.out" 2>&1
}
hot_policy 1 1000000 2500000 >"$work/hot1"
ceremony "$A" "$work/hot1"; check "ceremony under a hot policy" $?

S=$work/spool
serve() { kc --dir "$A" serve --spool "$S" "$@"; }
refusal_code() { sed -n 's/^code: //p' "$S/refused/$1.refused"; }

# ---- refusing to start ----
cold_policy 1 cold no 0 >"$work/cold1"
ceremony "$work/b" "$work/cold1"; check "ceremony under a cold policy" $?
expect "serve refuses a cold policy" 1 'refused: KURA_REFUSE_HOT_NOT_ALLOWED' -- \
  kc --dir "$work/b" serve --spool "$work/spool-b" --once
[ ! -e "$work/spool-b" ]; check "a cold signer's spool is not even created" $?
expect "serve needs a passphrase file" 2 'passphrase-file' -- \
  "$cold" --now "$NOW" --dir "$A" serve --spool "$S" --once
expect "serve needs --spool" 2 'usage' -- kc --dir "$A" serve --once
printf 'not the passphrase\n' >"$work/badpass"; chmod 600 "$work/badpass"
expect "serve with a wrong passphrase" 2 'wrong passphrase' -- \
  "$cold" --now "$NOW" --passphrase-file "$work/badpass" --dir "$A" serve --spool "$S" --once

# ---- one pass: signed and refused ----
mkdir -p "$S/inbox"
cold_package ok1 --pay "$D1:600000" --id 11112222333344445555666677778888; H_OK1=$HASH
cp "$work/pk/ok1/pkg.psbt" "$S/inbox/01-ok1.psbt"
cold_package over --pay "$D1:2000000"
cp "$work/pk/over/pkg.psbt" "$S/inbox/02-over.psbt"
cold_package notlisted --pay "$D3:100000"
cp "$work/pk/notlisted/pkg.psbt" "$S/inbox/03-notlisted.psbt"
cold_package ok2 --pay "$D2:900000"
cp "$work/pk/ok2/pkg.psbt" "$S/inbox/04-ok2.psbt"
# 600000 + 900000 + 2 x 1000 fee signed today: 1000000 more passes 2500000.
cold_package rolling --pay "$D1:1000000"
cp "$work/pk/rolling/pkg.psbt" "$S/inbox/05-rolling.psbt"
# The same intent as 01 in another transaction (another fee).
mkdir -p "$work/pk/replay"
"$pkg" make --descriptor "$DESC" --wallet test-wallet --chain regtest --out-dir "$work/pk/replay" \
  --created $((NOW - 60)) --expires $((NOW + 3600)) --pay "$D1:600000" --fee 1500 \
  --id 11112222333344445555666677778888 >/dev/null
"$pkg" attach "$work/pk/replay/0.psbt" -o "$S/inbox/06-replay.psbt" --approval "$work/pk/ok1/0.intent.carol"
cp "$work/pk/ok2/pkg.psbt" "$S/inbox/.07-writing.psbt"   # kura-server's temporary name
cp "$work/pk/ok2/pkg.psbt" "$S/inbox/08-notes.txt"      # not a package name

expect "serve --once" 0 'stopped: 2 signed, 4 refused' -- serve --once
[ "$(stat -c %a "$S/outbox")" = 2770 ] && [ "$(stat -c %a "$S/refused")" = 2770 ]
check "outbox and refused made group-writable, set-group-ID" $?
for n in 01-ok1 04-ok2; do
  [ -s "$S/outbox/$n.psbt" ] && "$pkg" info "$S/outbox/$n.psbt" >"$work/info"
  check "$n: signed PSBT in the outbox, its signature verifies" $?
done
grep -q "^intent-sha256 $H_OK1" < <("$pkg" info "$S/outbox/01-ok1.psbt"); check "01: the outbox PSBT carries its intent" $?
kc --dir "$A" journal show >"$work/journal"
grep -q "signed    intent .* sha256 $H_OK1 amount 600000 fee 1000" "$work/journal"; check "01: journaled as signed" $?
[ "$(refusal_code 02-over)" = KURA_REFUSE_LIMIT_TRANSFER ]; check "over the hot cap: KURA_REFUSE_LIMIT_TRANSFER" $?
[ "$(refusal_code 03-notlisted)" = KURA_REFUSE_DESTINATION_NOT_ALLOWED ]; check "not allowlisted: KURA_REFUSE_DESTINATION_NOT_ALLOWED" $?
[ "$(refusal_code 05-rolling)" = KURA_REFUSE_LIMIT_ROLLING ]; check "after the rolling limit: KURA_REFUSE_LIMIT_ROLLING" $?
[ "$(refusal_code 06-replay)" = KURA_REFUSE_INTENT_REPLAY ]; check "a replayed intent: KURA_REFUSE_INTENT_REPLAY" $?
head -n 1 "$S/refused/02-over.refused" | grep -qx 'kura-refusal 1' &&
  grep -qx 'file: 02-over.psbt' "$S/refused/02-over.refused" &&
  grep -q '^message: .' "$S/refused/02-over.refused" &&
  [ "$(wc -l <"$S/refused/02-over.refused")" = 4 ]
check "refusal file: four lines, a message" $?
for c in LIMIT_TRANSFER DESTINATION_NOT_ALLOWED LIMIT_ROLLING INTENT_REPLAY; do
  grep -q "refused   KURA_REFUSE_$c intent sha256 [0-9a-f]" "$work/journal"; check "journal: refused $c" $?
done
[ ! -e "$S/outbox/02-over.psbt" ] && [ ! -e "$S/outbox/03-notlisted.psbt" ] &&
  [ ! -e "$S/outbox/05-rolling.psbt" ] && [ ! -e "$S/outbox/06-replay.psbt" ]
check "no signature for a refused package" $?
[ "$(ls "$S/inbox")" = 08-notes.txt ] && [ -e "$S/inbox/.07-writing.psbt" ]
check "inbox: answered packages removed, other names left alone" $?

# A result already there (a crash after it and before the inbox file went).
cp "$work/pk/over/pkg.psbt" "$S/inbox/02-over.psbt"
expect "already answered: only removed" 0 'already answered' -- serve --once
[ ! -e "$S/inbox/02-over.psbt" ]; check "already answered: gone from the inbox" $?
[ "$(kc --dir "$A" journal show | wc -l)" = "$(wc -l <"$work/journal")" ]; check "already answered: nothing journaled" $?

# An oversized file is staged cut and refused as malformed (and journaled);
# the private copies in the data directory are gone after every package.
head -c $((32 * 1024 * 1024 + 10)) /dev/zero >"$S/inbox/02b-huge.psbt"
expect "an oversized package" 0 'stopped: 0 signed, 1 refused' -- serve --once
[ "$(refusal_code 02b-huge)" = KURA_REFUSE_PACKAGE_MALFORMED ]; check "oversized: KURA_REFUSE_PACKAGE_MALFORMED" $?
[ -d "$A/serve-staging" ] && [ -z "$(ls -A "$A/serve-staging")" ]; check "the staging directory is left empty" $?

# A package that cannot be read now stays for the next pass (exit 2 of --once).
cold_package later --pay "$D2:1000"
cp "$work/pk/later/pkg.psbt" "$S/inbox/09-later.psbt"
chmod 000 "$S/inbox/09-later.psbt"
if [ "$(id -u)" != 0 ]; then
  expect "an unreadable package is left" 2 'left in the inbox' -- serve --once
  [ -e "$S/inbox/09-later.psbt" ]; check "left in the inbox" $?
fi
chmod 600 "$S/inbox/09-later.psbt"
rm -f "$S/inbox/08-notes.txt" "$S/inbox/.07-writing.psbt"

# ---- the daemon: picks up what comes, stops on SIGTERM ----
"$cold" --passphrase-file "$work/pass" --now "$NOW" --dir "$A" serve --spool "$S" --poll-ms 50 2>"$work/daemon.err" &
spid=$!
for _ in $(seq 1 200); do [ -e "$S/outbox/09-later.psbt" ] && break; sleep 0.05; done
[ -e "$S/outbox/09-later.psbt" ]; check "daemon: a waiting package signed" $?
cold_package later2 --pay "$D1:2000"
cp "$work/pk/later2/pkg.psbt" "$S/inbox/.10-later2.psbt" && mv "$S/inbox/.10-later2.psbt" "$S/inbox/10-later2.psbt"
for _ in $(seq 1 200); do [ -e "$S/outbox/10-later2.psbt" ] && break; sleep 0.05; done
[ -e "$S/outbox/10-later2.psbt" ]; check "daemon: a new package signed" $?
expect "a second serve on the same spool" 2 'another kura-cold serve is serving this spool' -- serve --once
kill -TERM "$spid"
wait "$spid"; check "daemon: SIGTERM, exit 0" $?
grep -q 'stopped: 2 signed, 0 refused' "$work/daemon.err"; check "daemon: says what it did" $?
! grep -qi 'correct horse' "$work/daemon.err"; check "daemon: no passphrase in the log" $?
expect "journal verifies" 0 '' -- kc --dir "$A" journal verify

# ---- a crash between the journal and the outbox: the signature re-emitted ----
cold_package torn --pay "$D1:3000" --id 0123456789abcdef0123456789abcdef; H_TORN=$HASH
cp "$work/pk/torn/pkg.psbt" "$S/inbox/11-torn.psbt"
KURA_COLD_TEST_CRASH=after-signed-journal serve --once >/dev/null 2>&1
[ ! -e "$S/outbox/11-torn.psbt" ] && [ -e "$S/inbox/11-torn.psbt" ]; check "torn: killed after the journal, before the outbox" $?
kc --dir "$A" journal show | grep -q "signed    intent .* sha256 $H_TORN"; check "torn: the signature is journaled" $?
ls "$S/outbox" | grep -q '^11-torn.psbt.tmp-'; check "torn: its temporary file left in the outbox" $?
lines=$(kc --dir "$A" journal show | wc -l)
expect "torn: next pass" 0 're-emitted the signature the journal already records' -- serve --once
grep -q 'removed 1 temporary file' "$work/err"; check "torn: the temporary removed" $?
"$pkg" info "$S/outbox/11-torn.psbt" | grep -q "^intent-sha256 $H_TORN"; check "torn: the re-emitted PSBT verifies and carries its intent" $?
[ ! -e "$S/inbox/11-torn.psbt" ] && [ ! -e "$S/refused/11-torn.refused" ]; check "torn: answered once, not refused" $?
[ "$(kc --dir "$A" journal show | wc -l)" = "$lines" ]; check "torn: nothing new journaled" $?
[ "$(kc --dir "$A" journal show | grep -c "signed    intent .* sha256 $H_TORN")" = 1 ]; check "torn: one signed entry for the intent" $?
# The same intent in another transaction (another fee): refused as a replay.
mkdir -p "$work/pk/torn2"
"$pkg" make --descriptor "$DESC" --wallet test-wallet --chain regtest --out-dir "$work/pk/torn2" \
  --created $((NOW - 60)) --expires $((NOW + 3600)) --pay "$D1:3000" --fee 2000 \
  --id 0123456789abcdef0123456789abcdef >"$work/pk/torn2/list"
[ "$(cut -d' ' -f2 "$work/pk/torn2/list")" = "$H_TORN" ]; check "torn2: the same intent text" $?
"$pkg" attach "$work/pk/torn2/0.psbt" -o "$S/inbox/12-torn2.psbt" --approval "$work/pk/torn/0.intent.carol"
KURA_COLD_TEST_CRASH=after-signed-journal serve --once >/dev/null 2>&1 # a first pass: re-emit is tried
[ "$(refusal_code 12-torn2)" = KURA_REFUSE_INTENT_REPLAY ] && [ ! -e "$S/outbox/12-torn2.psbt" ]
check "torn2: another transaction for a signed intent is refused as a replay, never re-emitted" $?

# ---- crash safety: SIGKILL at random points ----
# Signer c, hot, with caps that never bind: only the crashes matter here.
C=$work/c
cold_policy 1 hot no 0 >"$work/hotc"
ceremony "$C" "$work/hotc"; check "signer c: hot ceremony" $?
N=80
mkdir -p "$work/pk/many" "$work/sc/inbox"
"$pkg" make --descriptor "$DESC" --wallet test-wallet --chain regtest --out-dir "$work/pk/many" \
  --count "$N" --pay "$D1:10000" --created $((NOW - 60)) --expires $((NOW + 3600)) >"$work/many.list"
for i in $(seq 0 $((N - 1))); do
  ssh-keygen -Y sign -f "$work/keys/carol" -n kura-intent-v1 <"$work/pk/many/$i.intent" \
    >"$work/pk/many/$i.intent.carol" 2>/dev/null
done
"$pkg" attach-dir "$work/pk/many" "$N" .carol
for i in $(seq 0 $((N - 1))); do cp "$work/pk/many/$i.psbt" "$work/sc/inbox/$(printf 'p%03d' "$i").psbt"; done
kills=${SERVE_KILLS:-50}
k=0
while [ "$k" -lt "$kills" ] && [ -n "$(ls "$work/sc/inbox")" ]; do
  "$cold" --passphrase-file "$work/pass" --now "$NOW" --dir "$C" serve --spool "$work/sc" --poll-ms 10 >/dev/null 2>>"$work/sc-reemit.log" &
  p=$!
  sleep "0.$(printf "%03d" $((RANDOM % 120)))"
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  k=$((k + 1))
done
kc --dir "$C" serve --spool "$work/sc" --once >/dev/null 2>>"$work/sc-reemit.log"; check "after $k kills: a last pass" $?
echo "crash test: $k SIGKILLs over $N packages"
[ -z "$(ls "$work/sc/inbox")" ]; check "every package taken from the inbox" $?
kc --dir "$C" journal verify >/dev/null 2>&1; check "the journal verifies after the kills" $?
kc --dir "$C" journal show >"$work/cj"
ok=0 bad=0 answered=0
for i in $(seq 0 $((N - 1))); do
  n=$(printf 'p%03d' "$i")
  h=$(sed -n "$((i + 1))p" "$work/many.list" | cut -d' ' -f2)
  o=0 r=0
  [ -e "$work/sc/outbox/$n.psbt" ] && o=1
  [ -e "$work/sc/refused/$n.refused" ] && r=1
  [ $((o + r)) = 1 ] && answered=$((answered + 1))
  if [ "$o" = 1 ]; then
    # The outbox file's intent, and its `signed` journal entry.
    if "$pkg" info "$work/sc/outbox/$n.psbt" | grep -q "^intent-sha256 $h" &&
      grep -q "signed    intent .* sha256 $h " "$work/cj"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
  fi
  if [ "$r" = 1 ] && [ "$(sed -n 's/^code: //p' "$work/sc/refused/$n.refused")" != KURA_REFUSE_INTENT_REPLAY ]; then
    bad=$((bad + 1))
  fi
done
[ "$answered" = "$N" ]; check "every package answered exactly once ($answered/$N)" $?
echo "crash test: $ok signed, $(grep -c 're-emitted' "$work/sc-reemit.log") re-emitted after a kill between journal and outbox"
[ "$ok" = "$N" ]; check "every package signed: torn answers re-emitted, none refused" $?
[ -z "$(ls -A "$work/sc/outbox" | grep -v '\.psbt$')" ]; check "no temporary left in the outbox" $?
[ "$bad" = 0 ] && [ "$ok" -gt 0 ]; check "every signed PSBT has its journal entry ($ok signed, $bad bad)" $?
dups=$(grep -o 'signed    intent .* sha256 [0-9a-f]*' "$work/cj" | awk '{print $NF}' | sort | uniq -d | wc -l)
[ "$dups" = 0 ]; check "no intent journaled as signed twice" $?
signed_entries=$(grep -c '^ *[0-9]* .*signed    intent' "$work/cj")
[ "$signed_entries" -ge "$ok" ]; check "journal signed entries ($signed_entries) >= outbox files ($ok)" $?
finish
