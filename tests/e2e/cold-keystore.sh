#!/usr/bin/env bash
# cold-keystore.sh KURA-COLD PACKAGE-HELPER MEMSCAN — the seed and its
# keystore: init shows the words once and asks for three back; restore from
# those words gives the same keys; BIP84's published account xpub comes out of
# its words; a wrong passphrase, a corrupt or group-readable keystore, and a
# readable passphrase file each stop the signer with exit 2; no secret word
# appears in an error.
cold=$1 pkg=$2
. "$(dirname "$0")/cold-lib.sh"
require_hooks

# init, answered by a coprocess that reads the words as they are shown.
# $1: directory; $2: "right" or "wrong" answers.
init_with_answers() {
  local dir=$1 mode=$2 line n pid
  words=()
  coproc INIT { kc --dir "$dir" init --network regtest 2>&1; }
  pid=$INIT_PID # bash unsets INIT_PID when the coprocess ends
  while IFS= read -r -t 60 line <&"${INIT[0]}"; do
    printf '%s\n' "$line" >>"$work/init.log"
    if [[ $line =~ ^\ ?[0-9]+\.\ ([a-z]+)$ ]]; then
      words+=("${BASH_REMATCH[1]}")
    elif [[ $line =~ ^Type\ word\ \#([0-9]+):$ ]]; then
      n=${BASH_REMATCH[1]}
      if [ "$mode" = right ]; then
        printf '%s\n' "${words[$((n - 1))]}" >&"${INIT[1]}"
      else
        printf 'zzzz\n' >&"${INIT[1]}"
      fi
    fi
  done
  wait "$pid"
}

init_with_answers "$work/i" right
check "init exits 0" $?
check "init shows 24 words" "$([ ${#words[@]} = 24 ] && echo 0 || echo 1)"
grep -q '^keystore written: ' "$work/init.log"; check "init writes the keystore" $?
[ "$(stat -c %a "$work/i/keystore")" = 600 ]; check "keystore mode 0600" $?
[ "$(stat -c %a "$work/i")" = 700 ]; check "data directory mode 0700" $?
x_init=$(kc --dir "$work/i" xpub); check "xpub after init" $?
printf '%s\n' "${words[*]}" | kc --dir "$work/r" restore --network regtest >/dev/null
check "restore exits 0" $?
x_restore=$(kc --dir "$work/r" xpub)
[ -n "$x_init" ] && [ "$x_init" = "$x_restore" ]; check "restore gives the same xpub as init" $?
[[ $x_init == \[*/48h/1h/0h/2h\]tpub* ]]; check "xpub is [fingerprint/48h/1h/0h/2h]tpub..." $?

# Words over several lines, ended by an empty line, in upper case.
printf '%s\n%s\n\n' "${words[*]:0:12}" "${words[*]:12}" | tr a-z A-Z |
  kc --dir "$work/r2" restore --network regtest >/dev/null
check "restore from several lines" $?
[ "$(kc --dir "$work/r2" xpub)" = "$x_init" ]; check "several lines: same xpub" $?

# A wrong confirmation: nothing is written.
init_with_answers "$work/w" wrong
check "init with wrong words fails" "$([ $? = 2 ] && echo 0 || echo 1)"
[ ! -e "$work/w/keystore" ]; check "init with wrong words writes nothing" $?

# BIP84's test vector: the account key of "abandon ... about".
printf 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\n' |
  kc --dir "$work/bip84" restore >/dev/null
[ "$(kc --dir "$work/bip84" xpub --path m/84h/0h/0h)" = "[73c5da0a/84h/0h/0h]xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V" ]
check "BIP84 vector account xpub" $?

# Refusals: each exits 2 with its reason.
expect "init over an existing keystore" 2 'already holds a keystore' -- kc --dir "$work/i" init
printf 'not the passphrase\n' >"$work/wrong"
chmod 600 "$work/wrong"
expect "wrong passphrase" 2 'kura-cold: xpub: wrong passphrase' -- \
  "$cold" --dir "$work/i" --passphrase-file "$work/wrong" xpub
KURA_PASSPHRASE_FILE=$work/pass expect "passphrase from KURA_PASSPHRASE_FILE" 0 '' -- \
  "$cold" --dir "$work/i" xpub
chmod 644 "$work/wrong"
expect "readable passphrase file" 2 'chmod 600' -- \
  "$cold" --dir "$work/i" --passphrase-file "$work/wrong" xpub
expect "no passphrase at all" 2 'no passphrase' -- "$cold" --dir "$work/i" xpub
printf 'short\n' >"$work/short"
chmod 600 "$work/short"
stdin=$work/bip84.words
printf 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\n' >"$stdin"
expect "short passphrase for a new keystore" 2 'shorter than 8' -- \
  "$cold" --dir "$work/s" --passphrase-file "$work/short" restore
unset stdin

cp -r "$work/i" "$work/c1"
printf '\xff' | dd of="$work/c1/keystore" bs=1 seek=100 conv=notrunc status=none
expect "a flipped ciphertext byte" 2 'wrong passphrase (or the keystore file was altered' -- kc --dir "$work/c1" xpub
cp -r "$work/i" "$work/c2"
printf 'X' | dd of="$work/c2/keystore" bs=1 seek=0 conv=notrunc status=none
expect "a bad magic" 2 'corrupt keystore' -- kc --dir "$work/c2" xpub
cp -r "$work/i" "$work/c3"
truncate -s 100 "$work/c3/keystore"
expect "a truncated keystore" 2 'corrupt keystore' -- kc --dir "$work/c3" xpub
cp -r "$work/i" "$work/c4"
chmod 640 "$work/c4/keystore"
expect "a group-readable keystore" 2 'kura-cold: xpub: ' -- kc --dir "$work/c4" xpub
expect "no keystore" 2 'no keystore in' -- kc --dir "$work/none" xpub

# A wrong word names its position, never a word.
stdin=$work/badwords
printf '%s\n' "${words[*]:1} ${words[0]}" >"$stdin"
expect "restore with a bad checksum" 2 'kura-cold: restore: ' -- kc --dir "$work/bad" restore
unset stdin
leak=0
for w in "${words[@]}"; do grep -qw -- "$w" "$work/err" && leak=1; done
check "no word in the error" $leak

expect "unknown command" 2 'unknown command' -- "$cold" frobnicate
expect "option of another command" 2 'does not apply' -- "$cold" --dir "$work/i" xpub --policy x
expect "missing option value" 2 'needs a value' -- "$cold" xpub --path
finish
