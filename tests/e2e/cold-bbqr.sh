#!/usr/bin/env bash
# cold-bbqr.sh KURA-COLD PACKAGE-HELPER BBQR-TOOL — the air gap as BBQr
# (docs/bbqr.md): a package read from BBQr parts typed or scanned one a line,
# shuffled, with repeats, a misread and a part of another series in between,
# signs exactly as the package file does; parts that stop early or carry
# another file type sign nothing and journal nothing; a file of parts is a
# package too. The QR codes kura-cold draws (sign --qr, qr show) are checked
# module by module against libqrencode's symbols of the printed parts, and
# the parts join back to the signed PSBT. bbqr-tool's split and join round
# trip in every encoding.
cold=$1 pkg=$2 tool=$3
. "$(dirname "$0")/cold-lib.sh"
require_hooks

cold_keys || { echo "FAILED: ssh-keygen"; exit 1; }
cold_signers || { echo "FAILED: signers"; exit 1; }
A=$work/a
cold_ceremony; check "ceremony" $?
D1=$("$pkg" addr regtest 1)
cold_package p1 --pay "$D1:50000000:withdrawal 1" --change 1000000 --change-index 3
P=$work/pk/p1/pkg.psbt
# The package as binary PSBT (BBQr type P carries the binary form).
if head -c 5 "$P" | grep -q '^psbt'; then cp "$P" "$work/pkg.bin"; else base64 -d "$P" >"$work/pkg.bin"; fi
for s in 2 3 4 5; do cp -a "$A" "$work/s$s"; done
journal_of() { kc --dir "$1" journal show --raw | sha256sum; }

# ---- the reference: the package file signed as before ----
echo yes >"$work/yes"
stdin=$work/yes expect "sign the package file" 0 '' -- kc --dir "$A" sign "$work/pkg.bin" -o "$work/ref.psbt"

# ---- parts on stdin: shuffled, repeated, with noise; then the confirmation ----
"$tool" split "$work/pkg.bin" --encoding Z --type P --max 300 >"$work/parts" 2>/dev/null
check "bbqr-tool split" $?
n=$(wc -l <"$work/parts")
[ "$n" -ge 3 ]; check "the package takes several parts ($n)" $?
{
  shuf "$work/parts" | head -n 2
  echo ""                                          # an empty scan
  head -n 1 "$work/parts" | tr 'A-Z' 'a-z'         # a misread: lower case
  echo "B\$HT0200ABCD"                            # a part of another series
  shuf "$work/parts"                               # everything, again shuffled
} >"$work/scan"
echo yes >>"$work/scan"
stdin=$work/scan expect "sign --bbqr-in with shuffled parts" 0 'BBQr part read' -- \
  kc --dir "$work/s2" sign --bbqr-in -o "$work/s2.psbt" --qr --qr-text
grep -q 'part refused: bbqr: KURA_BBQR_MIXED_HEADER' "$work/err"; check "another series' part is refused and reading goes on" $?
grep -q 'part refused: bbqr: KURA_BBQR_BAD_HEADER' "$work/err"; check "a misread part is refused and reading goes on" $?
cmp -s "$work/s2.psbt" "$work/ref.psbt"; check "signed from parts == signed from the file" $?
grep -q '^signed: 1 signature(s)' "$work/out"; check "sign --bbqr-in reports the signature" $?
cp "$work/out" "$work/s2.stdout"

# ---- the QR codes kura-cold drew decode to the signed PSBT ----
"$tool" qrcheck "$work/s2.stdout" >"$work/s2.fromqr" 2>"$work/qr.err"
check "sign --qr: every QR code is libqrencode's symbol of its part ($(cat "$work/qr.err" | head -1))" $?
cmp -s "$work/s2.fromqr" "$work/s2.psbt"; check "sign --qr: the parts join to the signed PSBT" $?
grep -q '^part 1/' "$work/s2.stdout"; check "sign --qr shows a part counter" $?

expect "qr show" 0 '' -- kc --dir "$work/s2" qr show "$work/s2.psbt" --qr-text
"$tool" qrcheck "$work/out" >"$work/show.fromqr" 2>/dev/null; check "qr show draws its parts" $?
cmp -s "$work/show.fromqr" "$work/s2.psbt"; check "qr show: the parts join to the file" $?
base64 -w0 "$work/s2.psbt" >"$work/s2.b64"
expect "qr show of base64" 0 '' -- kc qr show "$work/s2.b64" --qr-text
"$tool" qrcheck "$work/out" >"$work/b64.fromqr" 2>/dev/null && cmp -s "$work/b64.fromqr" "$work/s2.psbt"
check "qr show of base64 shows the binary PSBT" $?
expect "qr show of garbage" 2 'is not a PSBT' -- kc qr show "$work/scan"

# The check can fail: one module flipped in one drawing.
awk 'BEGIN{done=0} /\xe2\x96\x88/ && !done && NR>8 {sub(/\xe2\x96\x88/, " "); done=1} {print}' \
  "$work/s2.stdout" >"$work/tampered"
! "$tool" qrcheck "$work/tampered" >/dev/null 2>"$work/qr.err"; check "qrcheck finds a flipped module" $?
grep -q 'is drawn light' "$work/qr.err"; check "qrcheck names the module" $?

# ---- parts that stop early or are not a PSBT: nothing signed, nothing journaled ----
before=$(journal_of "$work/s3")
head -n $((n - 1)) "$work/parts" >"$work/short"
stdin=$work/short expect "parts end early" 2 "ended with $((n - 1)) of $n BBQr parts" -- \
  kc --dir "$work/s3" sign --bbqr-in -o "$work/s3.psbt"
[ ! -e "$work/s3.psbt" ] && [ "$(journal_of "$work/s3")" = "$before" ]
check "an incomplete series signs and journals nothing" $?
"$tool" split "$work/pkg.bin" --encoding 2 --type T >"$work/tparts" 2>/dev/null
cat "$work/tparts" "$work/yes" >"$work/tscan"
stdin=$work/tscan expect "a series of type T" 2 'not a PSBT' -- \
  kc --dir "$work/s3" sign --bbqr-in -o "$work/s3.psbt"
[ ! -e "$work/s3.psbt" ] && [ "$(journal_of "$work/s3")" = "$before" ]
check "a non-PSBT series signs and journals nothing" $?
expect "PACKAGE and --bbqr-in together" 2 'usage' -- \
  kc --dir "$work/s3" sign "$work/pkg.bin" --bbqr-in -o "$work/s3.psbt"

# ---- a file of parts (as a scanner app saves them) is a package ----
shuf "$work/parts" >"$work/parts.txt"
stdin=$work/yes expect "sign a file of BBQr parts" 0 '' -- \
  kc --dir "$work/s4" sign "$work/parts.txt" -o "$work/s4.psbt"
cmp -s "$work/s4.psbt" "$work/ref.psbt"; check "signed from a parts file == signed from the package" $?
head -n $((n - 1)) "$work/parts" >"$work/short.txt"
stdin=$work/yes expect "a file of too few parts" 2 "ended with" -- \
  kc --dir "$work/s5" sign "$work/short.txt" -o "$work/s5.psbt"

# ---- bbqr-tool: split and join in every encoding, both ways ----
head -c 50000 /dev/urandom >"$work/rand"
for enc in H 2 Z; do
  for max in 0 100 4296; do
    opt=""; [ "$max" != 0 ] && opt="--max $max"
    "$tool" split "$work/rand" --encoding $enc --type P $opt 2>/dev/null | shuf | "$tool" join >"$work/back" 2>/dev/null \
      && cmp -s "$work/back" "$work/rand"
    check "bbqr-tool round trip $enc max $max" $?
  done
  "$tool" split "$work/pkg.bin" --encoding $enc --type P 2>/dev/null | "$tool" join >"$work/back" 2>/dev/null \
    && cmp -s "$work/back" "$work/pkg.bin"
  check "bbqr-tool round trip of the package, $enc" $?
done
{ head -n 1 "$work/parts"; head -n 1 "$work/tparts"; } | "$tool" join >/dev/null 2>"$work/err"
[ $? = 1 ] && grep -q KURA_BBQR_MIXED_HEADER "$work/err"; check "bbqr-tool join refuses mixed series" $?
head -n 2 "$work/parts" | "$tool" join >/dev/null 2>"$work/err"
[ $? = 1 ] && grep -q KURA_BBQR_MISSING_PARTS "$work/err"; check "bbqr-tool join refuses missing parts" $?

finish
