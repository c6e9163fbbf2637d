#!/usr/bin/env bash
# gen-sample.sh: make the bundled sample corpus, examples/sample/*.pdf, from
# the text we wrote in examples/sample/text/ (so the licences are clean).
# The repository commits the text, not the PDFs; `make run` and the tests
# run this.  Needs mutool (Debian mupdf-tools).
#
#   scripts/gen-sample.sh [OUTDIR]      (default examples/sample)
#
# Each text file is one document; a line "=== page ===" starts a new page.
# NAME.txt becomes a born-digital PDF (Helvetica 10 pt, lines folded at 90
# characters); NAME.scan.txt becomes an image-only PDF: the same page
# rendered to a 200 dpi gray PNG and placed at A4 size, as a scanner
# would, so OCR needs Tesseract.  Output is deterministic for a given
# mutool, and files already made are kept (a re-run is instant).
set -euo pipefail
export LC_ALL=C.UTF-8
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/examples/sample/text
out=${1:-$top/examples/sample}
command -v mutool >/dev/null || { echo "gen-sample: mutool not found (apt-get install mupdf-tools)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# page_files TEXT PREFIX SIZE: one mutool page file per page; prints their names.
page_files() {
	local text=$1 prefix=$2 size=$3 lead=$(( $3 + 4 )) n=1 f
	f=$prefix.p$n.txt
	printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\nBT /F1 %d Tf %d TL 56 790 Td\n' "$size" "$lead" >"$f"
	echo "$f"
	while IFS= read -r line; do
		if [ "$line" = "=== page ===" ]; then
			echo "ET" >>"$f"
			n=$((n + 1)); f=$prefix.p$n.txt
			printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\nBT /F1 %d Tf %d TL 56 790 Td\n' "$size" "$lead" >"$f"
			echo "$f"
			continue
		fi
		printf '%s\n' "$line" | fold -s -w 90 | while IFS= read -r part; do
			printf '(%s) Tj T*\n' "$(printf '%s' "$part" | sed 's/[\\()]/\\&/g')" >>"$f"
		done
	done <"$text"
	echo "ET" >>"$f"
}

made=0
for text in "$src"/*.txt; do
	base=$(basename "$text" .txt)
	name=${base%.scan}
	pdf=$out/$name.pdf
	[ -s "$pdf" ] && [ "$pdf" -nt "$text" ] && continue
	mapfile -t pages < <(page_files "$text" "$work/$name" "$([ "$base" != "$name" ] && echo 12 || echo 10)")
	if [ "$base" = "$name" ]; then
		mutool create -o "$pdf.tmp" "${pages[@]}"
	else
		mutool create -o "$work/$name.src.pdf" "${pages[@]}"
		scans=()
		for ((k = 1; k <= ${#pages[@]}; k++)); do
			mutool draw -r 200 -c gray -o "$work/$name.s$k.png" "$work/$name.src.pdf" "$k" >/dev/null 2>&1
			printf '%%%%MediaBox 0 0 595 842\n%%%%Image Im0 %s\nq 595 0 0 842 0 0 cm /Im0 Do Q\n' \
				"$work/$name.s$k.png" >"$work/$name.s$k.txt"
			scans+=("$work/$name.s$k.txt")
		done
		mutool create -O compress -o "$pdf.tmp" "${scans[@]}"
	fi
	mv "$pdf.tmp" "$pdf"
	made=$((made + 1))
done
echo "gen-sample: $(ls "$out"/*.pdf | wc -l) PDFs in $out ($made made now, $(du -ck "$out"/*.pdf | tail -1 | cut -f1) KiB)"
