# shellcheck shell=bash disable=SC2034
# (Variables set here are the sourcing scripts'.)
# incident-lib.sh — sourced by tests/e2e/incident-*.sh: the cast and the
# props of the May 2024 incident, replayed against the real programs.
#
# Programs (from the environment, set by tests/e2e/CMakeLists.txt):
#   KURA_COLD         the offline signer, a test build (--now, cheap KDF)
#   KURA_APPROVE      the approvers' tool
#   KURA              the kura command-line tool (canonical descriptors, addresses)
#   EVIL_COORDINATOR  tests/e2e/evil-coordinator.c: builds, and tampers with, packages
#   PACKAGE_FINALIZE  tests/e2e/package-finalize.c: combine, finalize, verify
#
# The cast: approvers alice (ssh-ed25519), bob (ecdsa-sha2-nistp256), carol
# and dave (ssh-ed25519); administrators admin-one, admin-two, admin-three
# (quorum 2); an outsider; the initiator ops-tanaka. Keys are made with
# ssh-keygen once per script, approvals with kura-approve, wallets with
# kura-cold restore from fixed BIP39 words (so the wallets are the same on
# every run) and kura-cold ceremony.
set -u
for prog in KURA_COLD KURA_APPROVE KURA EVIL_COORDINATOR PACKAGE_FINALIZE; do
  if [ ! -x "${!prog:-}" ]; then
    echo "incident: \$$prog is not set to a program" >&2
    exit 2
  fi
done
# The story runs on a set clock (--now) and cheap keystores: test builds only.
if ! "$KURA_COLD" --version 2>/dev/null | grep -q 'test build'; then
  echo "SKIP: $KURA_COLD is not a test build (no --now)"
  exit 77
fi
work=$(mktemp -d)
# The policy versions the approvers have verified (never the user's own).
export KURA_APPROVE_STATE="$work/known-policies"
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work
# Test build only: libsodium's cheapest Argon2id for the keystores made here.
export KURA_COLD_TEST_KDF=min
cd "$work" || exit 2
started=$(date +%s)

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { # check NAME STATUS
  if [ "$2" = 0 ]; then ok "$1"; else bad "$1"; fi
}
finish() {
  echo "($(($(date +%s) - started)) s)"
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit
}
die() {
  echo "incident: setup failed: $*" >&2
  echo "$pass passed, $((fail + 1)) failed"
  exit 1
}

t() { date -u -d "$1" +%s; } # t 2030-01-15T08:00:00Z -> unix seconds
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
hours() { echo $(($1 * 3600)); }

# The story's clock: the ceremony two days before the transfers.
TC=$(t 2030-01-13T08:00:00Z)
T0=$(t 2030-01-15T08:00:00Z)
NOW=$((T0 + 3600))

printf 'e2e test passphrase\n' >"$work/pass"
chmod 600 "$work/pass"
cold() { "$KURA_COLD" --passphrase-file "$work/pass" "$@"; }

# ---- keys ----
mkdir -p keys
for k in alice carol dave outsider admin1 admin2 admin3 rogue1 rogue2; do
  ssh-keygen -q -t ed25519 -N '' -C "$k" -f "keys/$k" || die "ssh-keygen"
done
ssh-keygen -q -t ecdsa -b 256 -N '' -C bob -f keys/bob || die "ssh-keygen"
pk() { cut -d' ' -f1,2 "keys/$1.pub"; }

# ---- destinations (keys G..5G: nobody's wallet here) ----
addr() { "$KURA" address "$1" --network "${2:-regtest}" | tail -n 1 | sed 's/^.* //'; }
G=79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798
D1=$(addr "wpkh(02$G)")                                                               # P2WPKH
D2=$(addr "tr(c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5)")     # P2TR
D3=$(addr "wsh(pk(02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9))") # P2WSH
D4=$(addr "sh(wpkh(02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13))") # P2SH-P2WPKH
D5=$(addr "pkh(022f8bde4d1a07209355b4a7250a5c5128e88b84bddc619ab7cba8d569b240efe4)")  # P2PKH
D1_TESTNET=$(addr "wpkh(02$G)" testnet)
D2_MAINNET=$(addr "tr(c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5)" bitcoin)
D3_MAINNET=$(addr "wsh(pk(02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9))" bitcoin)
if [ -z "$D1" ] || [ -z "$D5" ]; then die "kura address"; fi

# Fixed seeds (BIP39 test vectors' words).
WORDS_A="abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
WORDS_B="legal winner thank year wave sausage worth useful legal winner thank yellow"
WORDS_C="letter advice cage absurd amount doctor acoustic avoid letter advice cage above"

# ---- policy ----
# policy_text VERSION WALLET CHECKSUM [ALLOW-LINE...]: the wallet's rules.
# Tiers: up to 1 BTC one approval, up to 10 BTC two, more three; at most
# 10 BTC a transfer and 12 BTC a rolling day; fee at most 0.001 BTC and
# 100 sat/vB; intents live at most a day; destinations must be allowlisted
# and wait a day after the signer first accepts them. Lines after the
# checksum override a field ("max-per-24h: ...") or add allow entries.
policy_text() {
  local version=$1 wallet=$2 checksum=$3
  shift 3
  local allow="" over="" line
  for line in "$@"; do
    case $line in
      allow:*) allow="$allow$line"$'\n' ;;
      *) over="$over$line"$'\n' ;;
    esac
  done
  {
    printf 'kura-policy 1\nversion: %s\nnetwork: %s\nwallet: %s #%s\nmode: %s\n' \
      "$version" "${POLICY_NETWORK:-regtest}" "$wallet" "$checksum" "${POLICY_MODE:-cold}"
    printf 'admin: admin-one %s\nadmin: admin-three %s\nadmin: admin-two %s\nadmin-quorum: 2\n' \
      "$(pk admin1)" "$(pk admin3)" "$(pk admin2)"
    printf 'approver: alice %s\napprover: bob %s\napprover: carol %s\napprover: dave %s\n' \
      "$(pk alice)" "$(pk bob)" "$(pk carol)" "$(pk dave)"
    printf 'tier: 100000000 1\ntier: 1000000000 2\ntier: max 3\n'
    printf 'initiator-may-approve: no\nallowlist-required: yes\nallowlist-delay: 86400\n'
    printf '%s' "$allow" | LC_ALL=C sort
    printf 'max-per-transfer: 1000000000\nmax-per-24h: 1200000000\nmax-fee: 100000\n'
    printf 'max-fee-rate: 100\nmax-lifetime: 86400\n'
  } | awk -v over="$over" '
      BEGIN { n = split(over, o, "\n"); for (i = 1; i <= n; i++) if (o[i] != "") {
                k = o[i]; sub(/:.*/, "", k); repl[k] = o[i] } }
      { k = $0; sub(/:.*/, "", k); if (k in repl) print repl[k]; else print }'
}
ALLOW_V1=("allow: $D1 exchange a" "allow: $D2 exchange b" "allow: $D3 cold storage")

# policy_sign FILE SIGNER...: administrators' signatures FILE.SIGNER.sig.
policy_sign() {
  local file=$1 s
  shift
  for s in "$@"; do
    ssh-keygen -Y sign -f "keys/$s" -n kura-policy-v1 <"$file" >"$file.$s.sig" 2>/dev/null ||
      die "policy signature by $s"
  done
}

# ---- intents and approvals ----
# intent FILE NAME WALLET-LINE CREATED EXPIRES INITIATOR MAX-FEE OUTPUT...
# (OUTPUT is "ADDRESS AMOUNT [LABEL]"; the id is derived from NAME).
intent() {
  local file=$1 name=$2 wallet=$3 created=$4 expires=$5 initiator=$6 maxfee=$7 o
  shift 7
  {
    printf 'kura-intent 1\nid: %s\nnetwork: %s\nwallet: %s\npolicy: %s\ninitiator: %s\n' \
      "$(printf '%s' "$name" | sha256sum | cut -c1-32)" "${INTENT_NETWORK:-regtest}" "$wallet" "${INTENT_POLICY:-1}" \
      "$initiator"
    printf 'created: %s\nexpires: %s\n' "$(iso "$created")" "$(iso "$expires")"
    for o in "$@"; do printf 'output: %s\n' "$o"; done
    printf 'max-fee: %s\n' "$maxfee"
  } >"$file"
}

# approve INTENT NAME...: each approver signs with kura-approve (INTENT.NAME).
approve() {
  local file=$1 a
  shift
  for a in "$@"; do
    "$KURA_APPROVE" approve "$file" --key "keys/$a" -o "$file.$a" --yes >/dev/null 2>&1 ||
      die "kura-approve: $a cannot approve $file"
  done
}
# Used unquoted, $(approvals ...) splits into arguments: file names here
# never hold blanks.
approvals() { # approvals INTENT NAME... -> --approval INTENT.NAME ...
  local file=$1 a
  shift
  for a in "$@"; do printf -- '--approval\n%s\n' "$file.$a"; done
}

# package OUT DESCRIPTOR INTENT [evil-coordinator options...]
package() {
  local out=$1 desc=$2 int=$3
  shift 3
  "$EVIL_COORDINATOR" --descriptor "$desc" --intent "$int" -o "$out" "$@" >"$work/evil.log" 2>&1 ||
    die "evil-coordinator $*: $(cat "$work/evil.log")"
}

# ---- wallets ----
# restore DIR WORDS: a keystore for regtest from fixed words.
restore() {
  echo "$2" | cold --dir "$1" restore --network regtest >/dev/null 2>&1 || die "restore $1"
}
xpub() { cold --dir "$1" xpub --path "$2" 2>/dev/null || die "xpub $1"; }
# ceremony DIR DESCRIPTOR POLICY-FILE NAME: the wallet and its first policy.
ceremony() {
  echo yes | cold --dir "$1" --now "$TC" ceremony --descriptor "$2" --policy "$3" --wallet "$4" \
    >"$work/ceremony.log" 2>&1 || die "ceremony $1: $(tail -n 3 "$work/ceremony.log")"
}
canonical() { "$KURA" descriptor "$1" | sed -n 's/^descriptor: //p'; }

# ---- signing ----
# sign_ok NAME DIR PACKAGE OUT [NOW]: the signer signs (exit 0, OUT written).
sign_ok() {
  local name=$1 dir=$2 pkg=$3 out=$4 now=${5:-$NOW}
  echo yes | cold --dir "$dir" --now "$now" sign "$pkg" -o "$out" >"$work/so" 2>"$work/se"
  local rc=$?
  if [ "$rc" = 0 ] && [ -s "$out" ] && grep -q '^signed: ' "$work/so"; then
    ok "$name"
  else
    bad "$name: exit $rc, stderr: $(head -c 600 "$work/se")"
  fi
}

# refused NAME REASON DIR PACKAGE [NOW]: the signer refuses with exit 1 and
# "kura-cold: sign: refused: KURA_REFUSE_<REASON>:", writes no output file,
# and prints no signature. The operator would answer yes if asked: a refusal
# is the check's, not the operator's.
refused() {
  local name=$1 reason=$2 dir=$3 pkg=$4 now=${5:-$NOW} out
  out=$work/out-$RANDOM$RANDOM.psbt
  echo yes | cold --dir "$dir" --now "$now" sign "$pkg" -o "$out" >"$work/so" 2>"$work/se"
  local rc=$?
  if [ "$rc" = 1 ] && grep -q "^kura-cold: sign: refused: KURA_REFUSE_$reason: " "$work/se" &&
    [ ! -e "$out" ] && ! grep -q '^signed: ' "$work/so" &&
    [ -z "$(find "$(dirname "$out")" -maxdepth 1 -name "$(basename "$out")*")" ]; then
    ok "$name: KURA_REFUSE_$reason ($(sed -n "s/^kura-cold: sign: refused: KURA_REFUSE_$reason: //p" "$work/se" | head -n 1 | cut -c1-160))"
  else
    bad "$name: exit $rc (want 1, KURA_REFUSE_$reason), output $([ -e "$out" ] && echo WRITTEN || echo none), stderr: $(head -c 600 "$work/se")"
  fi
}

# finalize NAME DESCRIPTOR INTENT PSBT...: combine, finalize, check every
# signature and that the outputs are the intent's (package-finalize).
finalize() {
  local name=$1 desc=$2 int=$3
  shift 3
  "$PACKAGE_FINALIZE" --descriptor "$desc" --intent "$int" -o "$work/tx.hex" "$@" \
    >"$work/fin" 2>&1
  local rc=$?
  if [ "$rc" = 0 ] && grep -q '^signatures: .* all valid$' "$work/fin"; then
    ok "$name"
  else
    bad "$name: exit $rc: $(head -c 600 "$work/fin")"
  fi
}
