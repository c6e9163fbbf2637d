#!/usr/bin/env bash
# gen-pdf-seeds.sh: the PDF target's generated seeds (the repository
# commits no PDF but the few hand-written ones in fuzz/corpus/pdf/).
#
#   fuzz/gen-pdf-seeds.sh DIR
#
# DIR gets the test corpus of scripts/gen-corpus.sh (files under 100 KiB:
# every script, damaged, repaired, truncated, encrypted, Type3), each also
# with its streams decompressed (mutool clean -d), so that the fuzzer's
# mutations reach content streams as text, plus a few tests/lib/mkpdf.sh
# files.  Needs mutool (Debian mupdf-tools).
set -euo pipefail
[ $# -eq 1 ] || { sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$top/scripts/gen-corpus.sh" "$tmp/c" >/dev/null
# shellcheck source=../tests/lib/mkpdf.sh
. "$top/tests/lib/mkpdf.sh"
mkpdf "$tmp/c/mk-one.pdf" 1 "Rotterdam to Ålesund"
mkpdf "$tmp/c/mk-three.pdf" 3

rm -rf "$out"
mkdir -p "$out"
for f in "$tmp"/c/*.pdf; do
	[ "$(stat -c %s "$f")" -le 102400 ] || continue
	name=$(basename "$f" .pdf)
	cp "$f" "$out/$name.pdf"
	if mutool clean -d "$f" "$tmp/d.pdf" >/dev/null 2>&1 && [ "$(stat -c %s "$tmp/d.pdf")" -le 102400 ]; then
		cmp -s "$f" "$tmp/d.pdf" || cp "$tmp/d.pdf" "$out/$name.d.pdf"
	fi
done
echo "gen-pdf-seeds: $(find "$out" -name '*.pdf' | wc -l) seeds in $out" >&2
