#!/usr/bin/env bash
# gen-corpus.sh: make the PDF test and bench corpus, with the text each page
# should give.  The repository commits no PDF: tests and benches run this
# into a temporary directory.  Needs mutool (Debian mupdf-tools), iconv and
# fonts-dejavu-core.
#
#   scripts/gen-corpus.sh [options] DIR
#
#   (no option)      the test corpus (below), a few seconds
#   --born N         also bench-born.pdf: N born-digital pages (Helvetica),
#                    with bench-born.p<K>.txt for each page
#   --scan M         also bench-scan.pdf: M image-only pages at 300 dpi,
#                    with bench-scan.p<K>.txt
#   --big            also big-1000.pdf: 1,000 born-digital pages (no .txt)
#   --bench-only     skip the test corpus
#
# The test corpus, in DIR:
#   scripts.pdf      born digital, one script a page: 1 Latin with accents
#                    (DejaVu Sans, WinAnsi), 2 Greek, 3 Cyrillic (DejaVu Sans
#                    with MuPDF's Greek and KOI8-U encodings), 4 Chinese,
#                    Japanese, Korean (%%CJKFont: Adobe CID fonts, not
#                    embedded, UTF-16 CMaps), 5 Latin in standard-14
#                    Helvetica with several paragraphs
#   scan.pdf         2 image-only pages: 300 dpi gray PNGs of rendered
#                    English text, placed at A4 size (a "clean scan")
#   mixed.pdf        4 pages: text, scan, text, scan
#   garbage.pdf      1 page whose font maps to no Unicode (Type3 glyphs
#                    named /g1.., and /uniE0xx: private use) plus a page
#                    number in Helvetica
#   badxref.pdf      scripts.pdf page 5 with a garbage xref and trailer:
#                    MuPDF repairs it
#   damaged.pdf      a PDF header followed by junk: nothing to repair
#   truncated.pdf    3 pages cut before the last page's object: opens
#                    (repaired), pages 1-2 read, page 3 reads as empty
#                    (MuPDF takes the missing object as null) with a note
#   empty.pdf        a well-formed PDF with 0 pages
#   encrypted.pdf    AES-256, user password "apflow-user"
#   owneronly.pdf    AES-256 with an owner password only: opens
#   notpdf.pdf       a text file
#   huge.pdf         one 14400 x 14400 pt page (the largest PDF allows)
#   <name>.p<K>.txt  the normalised text of page K (no final newline)
#   MANIFEST         one line per page: "<file> <page> text|scan|garbage"
set -euo pipefail
export LC_ALL=C.UTF-8

usage() { sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }

born=0 scan=0 big=0 tests=1
while [ $# -gt 1 ]; do
	case $1 in
	--born) born=$2; shift 2 ;;
	--scan) scan=$2; shift 2 ;;
	--big) big=1; shift ;;
	--bench-only) tests=0; shift ;;
	*) usage ;;
	esac
done
[ $# -eq 1 ] || usage
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
command -v mutool >/dev/null || { echo "gen-corpus: mutool not found (apt-get install mupdf-tools)" >&2; exit 1; }
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
[ -f "$FONT" ] || { echo "gen-corpus: $FONT not found (apt-get install fonts-dejavu-core)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pdfstr ENCODING TEXT: TEXT in ENCODING as a PDF string.  Printable ASCII
# (the same in every encoding used here) becomes a literal (...) without a
# subprocess, which matters for the thousand-page bench files; anything
# else goes through iconv into a hex string <...>, which needs no escaping.
pdfstr() {
	local t=$2
	if [[ $t =~ ^[\ -~]*$ && $1 != UTF-16BE ]]; then
		t=${t//\\/\\\\}
		t=${t//(/\\(}
		t=${t//)/\\)}
		printf '(%s)' "$t"
	else
		printf '<%s>' "$(printf '%s' "$t" | iconv -f UTF-8 -t "$1" | od -An -v -tx1 | tr -d ' \n')"
	fi
}

# page_lines FONT SIZE ENCODING LINE...: a content stream that writes the
# lines from the top of an A4 page, 1.2 x SIZE apart; an empty LINE leaves
# a blank line, which MuPDF reads as the end of a text block.
page_lines() {
	local font=$1 size=$2 enc=$3 l
	shift 3
	printf 'BT /%s %s Tf %d.%d TL 72 770 Td\n' "$font" "$size" $((size * 12 / 10)) $((size * 12 % 10))
	for l in "$@"; do
		[ -n "$l" ] && { pdfstr "$enc" "$l"; printf ' Tj\n'; }
		printf 'T*\n'
	done
	printf 'ET\n'
}

# expect FILE LINE...: the text the lines should give, normalised: lines
# joined by \n, an empty LINE (a block break) as a blank line, runs of
# spaces collapsed, no final newline.
expect() {
	local f=$1 l sep=''
	shift
	: >"$f"
	for l in "$@"; do
		printf '%s%s' "$sep" "$l" >>"$f"
		sep=$'\n'
	done
}

# raw_pdf OUT OBJECT...: writes a PDF whose objects 1, 2, ... are the
# arguments (bodies without "N 0 obj"/"endobj"), with a correct xref table.
# Object 1 is the catalog.
raw_pdf() {
	local o=$1 i=1 off hdr body
	shift
	local offs=()
	hdr=$'%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'
	printf '%s' "$hdr" >"$o"
	off=$(wc -c <"$o")
	for body in "$@"; do
		offs+=("$off")
		printf '%d 0 obj\n%s\nendobj\n' "$i" "$body" >>"$o"
		off=$(wc -c <"$o")
		i=$((i + 1))
	done
	{
		printf 'xref\n0 %d\n0000000000 65535 f \n' "$i"
		for off in "${offs[@]}"; do printf '%010d 00000 n \n' "$off"; done
		printf 'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n' "$i"
	} >>"$o.xref"
	printf '%s\n%%%%EOF\n' "$(wc -c <"$o")" >>"$o.xref"
	cat "$o.xref" >>"$o"
	rm -f "$o.xref"
}

# stream BODY: a stream object body with the right /Length.
stream() { printf '<< /Length %d >>\nstream\n%s\nendstream' "$(printf '%s' "$1" | wc -c)" "$1"; }

manifest() { printf '%s %s %s\n' "$1" "$2" "$3" >>"$out/MANIFEST"; }

# Maritime text, reused by later stages (rules, gazetteers).
VESSELS=("Nordic Star" "Baltic Trader" "Maersk Kendal" "Cape Orchid" "Pacific Dawn" "Stena Vinga"
	"Atlantic Crown" "Hoegh Jeddah" "Ocean Pioneer" "Sea Falcon" "Aurora Borealis" "Cosco Harmony")
FLAGS=("Denmark" "Liberia" "Panama" "Marshall Islands" "Malta" "Singapore" "Norway" "Greece" "Bahamas" "Cyprus")
PORTS=("Rotterdam" "Antwerp" "Hamburg" "Piraeus" "Singapore" "Santos" "Le Havre" "Gothenburg" "Valencia"
	"Felixstowe" "Algeciras" "Gdansk")
TYPES=("bulk carrier" "container ship" "crude oil tanker" "LNG carrier" "ro-ro cargo ship" "general cargo ship")
CLASS=("DNV" "Lloyd's Register" "Bureau Veritas" "ABS" "ClassNK" "RINA")

# IMO numbers carry a check digit: the digits times 7..2, summed, mod 10.
imo_number() {	# SEED: sets IMO to a valid 7-digit IMO number
	local base=$((910000 + (($1 + 17) * 7919) % 89999)) s=0 i d
	for ((i = 0; i < 6; i++)); do
		d=${base:i:1}
		s=$((s + d * (7 - i)))
	done
	IMO=$base$((s % 10))
}

# maritime_lines K: about 30 lines of an English vessel report, varied by K,
# in a (ASCII) subset that Tesseract's eng model and WinAnsi both cover.
maritime_lines() {
	local k=$1 v f p q t c imo i
	v=${VESSELS[k % ${#VESSELS[@]}]}
	f=${FLAGS[k % ${#FLAGS[@]}]}
	p=${PORTS[k % ${#PORTS[@]}]}
	q=${PORTS[(k + 5) % ${#PORTS[@]}]}
	t=${TYPES[k % ${#TYPES[@]}]}
	c=${CLASS[k % ${#CLASS[@]}]}
	imo_number "$k"
	imo=$IMO
	LINES=("Vessel particulars and voyage report $((k + 1))" ""
		"The $t MV $v, IMO $imo, sails under the flag of $f."
		"Her call sign is $(printf 'V%dQ%d' $((k % 9 + 1)) $((k % 7 + 2))) and her MMSI is $((219000000 + k * 37))."
		"She is classed with $c and managed from $p."
		"Gross tonnage $((20000 + k * 113)), deadweight $((30000 + k * 157)) tonnes."
		""
		"On $((k % 28 + 1)) March 2024 the vessel left $p bound for $q."
		"The master reported fair weather and a speed of $((k % 6 + 11)) knots."
		"Pilot boarded at the fairway buoy and the ship berthed alongside."
		"Cargo operations began the same evening under the supervision of the chief officer."
		"")
	for ((i = 0; i < 6; i++)); do
		LINES+=("Item $((i + 1)): inspection of hold $((i + 1)) found no damage to the coatings or frames.")
	done
	LINES+=("" "Signed for the owners in $q by the port captain.")
}

make_scan_page() {	# SRC.pdf PAGE OUT.txt: renders one page to PNG and wraps it in a page file
	local src=$1 pg=$2 pagefile=$3 png
	png="${pagefile%.txt}.png"
	mutool draw -r 300 -c gray -o "$png" "$src" "$pg" >/dev/null 2>&1
	printf '%%%%MediaBox 0 0 595 842\n%%%%Image Im0 %s\nq 595 0 0 842 0 0 cm /Im0 Do Q\n' "$png" >"$pagefile"
}

test_corpus() {
	local w=$work/t p
	mkdir -p "$w"
	: >"$out/MANIFEST"

	# scripts.pdf
	local lat=("Ærø Søfart — São Paulo, Genève" ""
		"MV Nordic Star, IMO 9321483, flag Denmark, call sign OXYZ2."
		"Bound from Århus to Genève via São Paulo; ETA 15 März 2024."
		""
		"Owner: Ærø Søfart A/S. Manager: Société Générale de Navigation."
		"Crew: Ødegård, Nuñez, Çelik and Müller’s relief — “all well”.")
	local gr=("Δελτίο πλοίου" "" "Το δεξαμενόπλοιο Ποσειδών, IMO 9283734, σημαία Ελλάδας."
		"Λιμάνι νηολόγησης: Πειραιάς. Προορισμός: Θεσσαλονίκη.")
	local cy=("Судовой отчёт" "" "Танкер Адмирал Макаров, IMO 9610780, флаг России."
		"Порт приписки: Новороссийск. Назначение: Одесса, Україна.")
	{ printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 %s Latin\n' "$FONT"; page_lines F1 12 CP1252 "${lat[@]}"; } >"$w/s1.txt"
	{ printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 %s Greek\n' "$FONT"; page_lines F1 12 ISO-8859-7 "${gr[@]}"; } >"$w/s2.txt"
	{ printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 %s Cyrillic\n' "$FONT"; page_lines F1 12 KOI8-U "${cy[@]}"; } >"$w/s3.txt"
	local zh="集装箱船 海洋之星 驶往 上海港" ja="東京港 コンテナ船 さくら丸" ko="부산항 선박 한바다호"
	{
		printf '%%%%MediaBox 0 0 595 842\n%%%%CJKFont C1 zh-Hans H sans\n%%%%CJKFont J1 ja H sans\n%%%%CJKFont K1 ko H sans\n'
		printf 'BT /C1 14 Tf 72 770 Td %s Tj ET\n' "$(pdfstr UTF-16BE "$zh")"
		printf 'BT /J1 14 Tf 72 730 Td %s Tj ET\n' "$(pdfstr UTF-16BE "$ja")"
		printf 'BT /K1 14 Tf 72 690 Td %s Tj ET\n' "$(pdfstr UTF-16BE "$ko")"
	} >"$w/s4.txt"
	maritime_lines 0
	local hv=("${LINES[@]}")
	{ printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\n'; page_lines F1 11 CP1252 "${hv[@]}"; } >"$w/s5.txt"
	mutool create -o "$out/scripts.pdf" "$w"/s{1,2,3,4,5}.txt
	expect "$out/scripts.p1.txt" "${lat[@]}"
	expect "$out/scripts.p2.txt" "${gr[@]}"
	expect "$out/scripts.p3.txt" "${cy[@]}"
	expect "$out/scripts.p4.txt" "$zh" "" "$ja" "" "$ko"
	expect "$out/scripts.p5.txt" "${hv[@]}"
	for p in 1 2 3 4 5; do manifest scripts.pdf $p text; done

	# scan.pdf: English maritime pages, rendered and wrapped as images.
	local srcs=()
	for p in 1 2; do
		maritime_lines $((p + 2))
		{ printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\n'; page_lines F1 11 CP1252 "${LINES[@]}"; } >"$w/src$p.txt"
		expect "$out/scan.p$p.txt" "${LINES[@]}"
		srcs+=("$w/src$p.txt")
	done
	mutool create -o "$w/scansrc.pdf" "${srcs[@]}"
	make_scan_page "$w/scansrc.pdf" 1 "$w/scan1.txt"
	make_scan_page "$w/scansrc.pdf" 2 "$w/scan2.txt"
	mutool create -o "$out/scan.pdf" "$w/scan1.txt" "$w/scan2.txt"
	for p in 1 2; do manifest scan.pdf $p scan; done

	# mixed.pdf: text, scan, text, scan.
	mutool create -o "$out/mixed.pdf" "$w/s5.txt" "$w/scan1.txt" "$w/s1.txt" "$w/scan2.txt"
	cp "$out/scripts.p5.txt" "$out/mixed.p1.txt"
	cp "$out/scan.p1.txt" "$out/mixed.p2.txt"
	cp "$out/scripts.p1.txt" "$out/mixed.p3.txt"
	cp "$out/scan.p2.txt" "$out/mixed.p4.txt"
	manifest mixed.pdf 1 text; manifest mixed.pdf 2 scan; manifest mixed.pdf 3 text; manifest mixed.pdf 4 scan

	# garbage.pdf: a Type3 font whose glyph names say nothing (/g1, /g2)
	# or name private-use code points (/uniE001, /uniE002).
	local glyph='750 0 0 0 600 700 d1 50 0 500 700 re f' codes='' widths='750 750 750 750' i
	for ((i = 0; i < 10; i++)); do codes+='\001\002\003\004 '; done
	for ((i = 5; i < 32; i++)); do widths+=' 0'; done
	widths+=' 300'   # /FirstChar 1 /LastChar 32: 32 widths
	raw_pdf "$out/garbage.pdf" \
		'<< /Type /Catalog /Pages 2 0 R >>' \
		'<< /Type /Pages /Kids [3 0 R] /Count 1 >>' \
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /T3 5 0 R /F1 8 0 R >> >> /Contents 4 0 R >>' \
		"$(stream "BT /T3 14 Tf 72 700 Td ($codes) Tj ET BT /F1 10 Tf 280 40 Td (Page 1) Tj ET")" \
		'<< /Type /Font /Subtype /Type3 /FontBBox [0 0 750 750] /FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << /g1 6 0 R /g2 6 0 R /uniE001 7 0 R /uniE002 7 0 R /space 6 0 R >> /Encoding << /Type /Encoding /Differences [1 /g1 /g2 /uniE001 /uniE002 32 /space] >> /FirstChar 1 /LastChar 32 /Widths ['"$widths"'] /Resources << >> >>' \
		"$(stream "$glyph")" \
		"$(stream "$glyph")" \
		'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'
	manifest garbage.pdf 1 garbage

	# badxref.pdf: a good file whose xref and trailer are junk.
	mutool create -o "$w/one.pdf" "$w/s5.txt"
	local size xref
	size=$(wc -c <"$w/one.pdf")
	xref=$(grep -abo '^xref' "$w/one.pdf" | tail -1 | cut -d: -f1)
	head -c "$xref" "$w/one.pdf" >"$out/badxref.pdf"
	printf 'xref\n0 zz\ngarbage garbage\ntrailer\n<< junk >>\nstartxref\n%d\n%%%%EOF\n' $((size * 3)) >>"$out/badxref.pdf"
	cp "$out/scripts.p5.txt" "$out/badxref.p1.txt"

	# damaged.pdf: a header, then nothing MuPDF can rebuild a file from.
	{ printf '%%PDF-1.7\n'; for ((i = 0; i < 64; i++)); do printf 'this is not a pdf object, only junk %d\n' $i; done; } >"$out/damaged.pdf"
	# truncated.pdf: three pages cut just before the last page object, as
	# an interrupted download would: MuPDF repairs it, pages 1 and 2 read,
	# page 3 is gone.
	mutool create -o "$w/three.pdf" "$w/s5.txt" "$w/s5.txt" "$w/s5.txt"
	head -c "$(grep -abo '^[0-9]* 0 obj' "$w/three.pdf" | tail -1 | cut -d: -f1)" "$w/three.pdf" >"$out/truncated.pdf"
	cp "$out/scripts.p5.txt" "$out/truncated.p1.txt"
	cp "$out/scripts.p5.txt" "$out/truncated.p2.txt"

	raw_pdf "$out/empty.pdf" '<< /Type /Catalog /Pages 2 0 R >>' '<< /Type /Pages /Kids [] /Count 0 >>'

	mutool create -O compress,encrypt=aes-256,user-password=apflow-user,owner-password=apflow-owner \
		-o "$out/encrypted.pdf" "$w/s5.txt"
	# owneronly.pdf: encrypted, but with an empty user password ("no
	# copying" PDFs): readers open it without asking.
	mutool create -O compress,encrypt=aes-256,owner-password=apflow-owner -o "$out/owneronly.pdf" "$w/s5.txt"
	cp "$out/scripts.p5.txt" "$out/owneronly.p1.txt"

	printf 'This is a plain text file, not a PDF.\n' >"$out/notpdf.pdf"

	# huge.pdf: the largest page PDF allows (200 x 200 inches).
	{ printf '%%%%MediaBox 0 0 14400 14400\n%%%%Font F1 Helvetica\n'; page_lines F1 400 CP1252 "Chart"; } >"$w/huge.txt"
	mutool create -o "$out/huge.pdf" "$w/huge.txt"
}

# bench_born N OUT: N pages of maritime text in Helvetica.
bench_born() {
	local n=$1 o=$2 k files=() w=$work/born
	mkdir -p "$w"
	for ((k = 1; k <= n; k++)); do
		maritime_lines $((k + 100))
		LINES+=("" "Page $k of $n")
		{ printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\n'; page_lines F1 11 CP1252 "${LINES[@]}"; } >"$w/p$k.txt"
		[ "$3" = txt ] && expect "${o%.pdf}.p$k.txt" "${LINES[@]}"
		files+=("$w/p$k.txt")
	done
	mutool create -o "$o" "${files[@]}"
	rm -rf "$w"
}

# bench_scan M OUT: M image-only pages at 300 dpi.
bench_scan() {
	local m=$1 o=$2 k files=() w=$work/scan
	mkdir -p "$w"
	bench_born "$m" "$w/src.pdf" txt
	for ((k = 1; k <= m; k++)); do
		make_scan_page "$w/src.pdf" "$k" "$w/s$k.txt"
		files+=("$w/s$k.txt")
		mv "$w/src.p$k.txt" "${o%.pdf}.p$k.txt"
	done
	mutool create -o "$o" "${files[@]}"
	rm -rf "$w"
}

[ "$tests" -eq 1 ] && test_corpus
[ "$born" -gt 0 ] && bench_born "$born" "$out/bench-born.pdf" txt
[ "$scan" -gt 0 ] && bench_scan "$scan" "$out/bench-scan.pdf"
[ "$big" -eq 1 ] && bench_born 1000 "$out/big-1000.pdf" notxt
exit 0
