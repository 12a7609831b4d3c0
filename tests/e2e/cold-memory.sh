#!/usr/bin/env bash
# cold-memory.sh KURA-COLD PACKAGE-HELPER MEMSCAN — no secret stays in
# kura-cold's memory: stopped right before it exits (test hook
# KURA_COLD_TEST_STOP=exit), its whole readable memory is searched for the
# BIP39 entropy, the seed, the master private key and chain code, and the
# words. The control run stops it right after signing, before anything is
# wiped, and the same scan must find them there (so this test can fail).
cold=$1 pkg=$2 memscan=$3
. "$(dirname "$0")/cold-lib.sh"
require_hooks

cold_keys && cold_signers && cold_ceremony || { echo "FAILED: setup"; exit 1; }
A=$work/a
D1=$("$pkg" addr regtest 1)
printf '%s\n' "$WORDS_A" >"$work/words"
echo yes >"$work/yes"
cold_package p1 --pay "$D1:1000000" || { echo "FAILED: package"; exit 1; }
cold_package p2 --pay "$D1:2000000" || { echo "FAILED: package"; exit 1; }

scan() { # NAME STOP-POINT [--expect-found] -- kura-cold ARGS...
  local name=$1 point=$2
  shift 2
  local mode=()
  if [ "$1" = --expect-found ]; then mode=(--expect-found); shift; fi
  shift # --
  KURA_COLD_TEST_STOP=$point "$memscan" "${mode[@]}" "$work/words" -- "$cold" \
    --passphrase-file "$work/pass" --now "$NOW" "$@" >"$work/scan" 2>&1 <"${stdin:-/dev/null}"
  local rc=$?
  if [ $rc != 0 ]; then
    echo "FAILED: $name (exit $rc):"
    sed 's/^/  /' "$work/scan"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
  grep -E '^(found|scanned|program exit)' "$work/scan" | sed "s/^/  $name: /"
}

stdin=$work/yes scan "control: the secrets are visible before the wipe" signed --expect-found -- \
  --dir "$A" sign "$work/pk/p1/pkg.psbt" -o "$work/p1.out"
stdin=$work/yes scan "sign leaves no secret" exit -- \
  --dir "$A" sign "$work/pk/p2/pkg.psbt" -o "$work/p2.out"
"$pkg" info "$work/p2.out" >/dev/null; check "the scanned run signed" $?
scan "xpub leaves no secret" exit -- --dir "$A" xpub
stdin=$work/words scan "restore leaves no secret" exit -- --dir "$work/r" restore --network regtest
finish
