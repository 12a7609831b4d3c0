# cold-lib.sh — shared by the kura-cold end-to-end tests (tests/e2e/cold-*.sh).
# Source it after setting:
#   cold  the kura-cold binary        pkg  the cold-package helper
# It makes a work directory ($work, removed on exit) and offers:
#
#   check NAME STATUS             count a result (STATUS 0 = pass)
#   expect NAME CODE PATTERN -- CMD...
#                                 run CMD (stdin from /dev/null unless $stdin is
#                                 set), expect exit CODE and PATTERN in stderr;
#                                 stdout in $work/out, stderr in $work/err
#   finish                        print the tally, exit 0 only if nothing failed
#   require_hooks                 exit 77 (ctest: skipped) unless kura-cold is a
#                                 test build (--now, cheap KDF, hooks)
#   kc ARGS...                    kura-cold with the test passphrase file and --now $NOW
#   cold_keys                     ssh keys admin1 admin2 carol dave erin in $work/keys
#   cold_signers                  signers a, b, c restored from known words
#                                 ($work/a ...), their xpubs $XA $XB $XC, the 2-of-3
#                                 descriptor $DESC, its checksum $SUM
#   cold_policy VERSION MODE REQUIRED DELAY ['ADDRESS LABEL'...] > FILE
#                                 a canonical policy for test-wallet: mode cold|hot,
#                                 allowlist-required yes|no, allowlist-delay DELAY
#   cold_ceremony                 the ceremony on signer a with policy version 1 (cold)
#   cold_package NAME [make options]
#                                 one package approved by carol: $work/pk/NAME/pkg.psbt,
#                                 intent $work/pk/NAME/0.intent, its hash in $HASH
#   sig_policy FILE ADMIN         admin's kura-policy-v1 signature of FILE to FILE.ADMIN.sig
#
# Times: every command runs at --now $NOW (2026-01-01T00:00:00Z) unless a test
# moves NOW forward; the journal refuses a clock that goes back.

set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
NOW=1767225600
export KURA_COLD_TEST_KDF=min
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset KURA_PASSPHRASE_FILE KURA_COLD_TEST_STOP KURA_COLD_TEST_CRASH KURA_COLD_TEST_NOW

WORDS_A="hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length"
WORDS_B="panda eyebrow bullet gorilla call smoke muffin taste mesh discover soft ostrich alcohol speed nation flash devote level hobby quick inner drive ghost inside"
WORDS_C="void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold"

printf 'correct horse battery staple\n' >"$work/pass"
chmod 600 "$work/pass"

check() {
  if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1"; fi
}

expect() {
  local name=$1 code=$2 pattern=$3 got
  shift 4
  "$@" >"$work/out" 2>"$work/err" <"${stdin:-/dev/null}"
  got=$?
  if [ "$got" != "$code" ] || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$work/err"; }; then
    echo "FAILED: $name: exit $got (want $code), stderr: $(head -c 2000 "$work/err")"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit $?
}

require_hooks() {
  if ! "$cold" --version | grep -q 'test build'; then
    echo "SKIP: $cold is not a test build (no KURA_TEST_HOOKS)"
    exit 77
  fi
}

kc() { "$cold" --passphrase-file "$work/pass" --now "$NOW" "$@"; }

cold_keys() {
  mkdir -p "$work/keys"
  for n in admin1 admin2 carol dave erin; do
    ssh-keygen -q -t ed25519 -N '' -C '' -f "$work/keys/$n" || return 1
  done
}

pubkey() { cut -d' ' -f1,2 "$work/keys/$1.pub"; }

cold_signers() {
  for s in a b c; do
    case $s in a) w=$WORDS_A ;; b) w=$WORDS_B ;; c) w=$WORDS_C ;; esac
    printf '%s\n' "$w" | kc --dir "$work/$s" restore --network regtest >/dev/null || return 1
  done
  XA=$(kc --dir "$work/a" xpub) && XB=$(kc --dir "$work/b" xpub) && XC=$(kc --dir "$work/c" xpub) || return 1
  DESC=$("$pkg" descriptor "wsh(sortedmulti(2,$XA/<0;1>/*,$XB/<0;1>/*,$XC/<0;1>/*))" | head -n 1)
  SUM=${DESC##*#}
}

cold_policy() {
  local version=$1 mode=$2 required=$3 delay=$4
  shift 4
  printf 'kura-policy 1\nversion: %s\nnetwork: regtest\nwallet: test-wallet #%s\nmode: %s\n' \
    "$version" "$SUM" "$mode"
  printf 'admin: admin1 %s\nadmin: admin2 %s\nadmin-quorum: 2\n' "$(pubkey admin1)" "$(pubkey admin2)"
  printf 'approver: carol %s\napprover: dave %s\napprover: erin %s\n' \
    "$(pubkey carol)" "$(pubkey dave)" "$(pubkey erin)"
  printf 'tier: 100000000 1\ntier: max 2\ninitiator-may-approve: no\n'
  printf 'allowlist-required: %s\nallowlist-delay: %s\n' "$required" "$delay"
  [ $# -gt 0 ] && printf 'allow: %s\n' "$@" | sort
  printf 'max-per-transfer: 1000000000\nmax-per-24h: 100000000000\nmax-fee: 100000\n'
  printf 'max-fee-rate: 1000\nmax-lifetime: 86400\n'
}

cold_ceremony() {
  cold_policy 1 cold no 0 >"$work/policy1" || return 1
  echo yes | kc --dir "$work/a" ceremony --descriptor "$DESC" --policy "$work/policy1" \
    --wallet test-wallet >"$work/ceremony.out" 2>&1
}

cold_package() {
  local name=$1 d
  shift
  d=$work/pk/$name
  mkdir -p "$d"
  "$pkg" make --descriptor "$DESC" --wallet test-wallet --chain regtest --out-dir "$d" \
    --created $((NOW - 60)) --expires $((NOW + 3600)) "$@" >"$d/list" || return 1
  HASH=$(cut -d' ' -f2 "$d/list")
  ssh-keygen -Y sign -f "$work/keys/carol" -n kura-intent-v1 <"$d/0.intent" >"$d/0.intent.carol" 2>/dev/null || return 1
  "$pkg" attach "$d/0.psbt" -o "$d/pkg.psbt" --approval "$d/0.intent.carol"
}

sig_policy() {
  ssh-keygen -Y sign -f "$work/keys/$2" -n kura-policy-v1 <"$1" >"$1.$2.sig" 2>/dev/null
}
