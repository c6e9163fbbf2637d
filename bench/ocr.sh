#!/usr/bin/env bash
# bench/ocr.sh: `apflow ocr` against the command-line tools, side by side in
# the same run, on the same corpus (scripts/gen-corpus.sh --born 300 --scan 30
# --big, made once into build/bench/ocr-corpus):
#
#   text engine, 300 born-digital pages as one PDF and as 30 PDFs of 10
#   pages (the same pages, split with mutool merge: what users upload is
#   many small documents), and the 1,000-page PDF:
#       apflow ocr --engine text -j1 | -j2   vs  mutool draw -F txt, pdftotext
#       (the tools run once per file, as a script over a folder would)
#   Tesseract, 30 image-only pages at 300 dpi:
#       apflow ocr --engine tesseract -j1 | -j2
#       vs  pdftoppm -r 300 -gray + tesseract per page (OMP_THREAD_LIMIT=1,
#           one page at a time, and two pages at a time with xargs -P2)
#   peak RSS of every command (GNU time's maximum resident set size; for the
#   shell pipelines, that of their largest process).
#
# apflow's figures include everything a run does: process start, opening
# the warehouse (DuckDB files, attached, WAL and checkpoint on close),
# planning, the ocr_runs row, reading the PDF (in place from the file://
# store), spooling and committing the page rows.  The tools only write
# text to /dev/null.  That total is what the targets compare.  Beside it,
# "read s" is apflow's own account (--json read_seconds) of the time its
# workers spent on the documents (open, read pages, write their records):
# the extraction alone, summed over the workers; "read p/s" is pages per
# second of it.  "fixed cost" is `apflow ocr` with nothing to do (start,
# open, plan, close).
#
# Noise: the fast commands run round-robin, BENCH_REPEAT rounds (default 3),
# and each keeps its fastest round, so a burst of other load hits all of
# them alike; the Tesseract rows run once.  Wall time is measured to the
# millisecond.  The machine's load average is printed before and after:
# on a shared machine compare rows of the same run only, and read the CPU
# seconds (user + system) too, which other processes disturb less.
#
#   bench/ocr.sh            prints a table, then each target of the issue
#                           with its ratio and PASS or FAIL
#   BENCH_REPEAT=5 bench/ocr.sh
#   BENCH_TESSERACT=0 bench/ocr.sh     skips the Tesseract rows (minutes)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
apflow=$top/apflow
corpus=$top/build/bench/ocr-corpus
repeat=${BENCH_REPEAT:-3}
do_tess=${BENCH_TESSERACT:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/apflow-bench-ocr.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

[ -x "$apflow" ] || { echo "bench/ocr.sh: build apflow first (make)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/ocr.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
for t in mutool pdftotext pdftoppm tesseract jq; do
	command -v $t >/dev/null || { echo "bench/ocr.sh: $t not found" >&2; exit 1; }
done

if [ ! -s "$corpus/big-1000.pdf" ] || [ ! -s "$corpus/bench-scan.pdf" ] || [ ! -s "$corpus/bench-born.pdf" ]; then
	echo "making the bench corpus in $corpus (once) ..."
	rm -rf "$corpus"
	"$top/scripts/gen-corpus.sh" --bench-only --born 300 --scan 30 --big "$corpus" >/dev/null
fi
born=$corpus/bench-born.pdf scan=$corpus/bench-scan.pdf big=$corpus/big-1000.pdf
# The same 300 pages as 30 documents of 10 pages.
if [ ! -s "$corpus/docs/part-29.pdf" ]; then
	mkdir -p "$corpus/docs"
	for k in $(seq 0 29); do
		mutool merge -o "$corpus/docs/part-$(printf %02d "$k").pdf" "$born" "$((k * 10 + 1))-$((k * 10 + 10))"
	done
fi
parts=("$corpus"/docs/part-*.pdf)
pages_of() { pdfinfo "$1" 2>/dev/null | awk '/^Pages:/ {print $2}'; }
NBORN=$(pages_of "$born") NSCAN=$(pages_of "$scan") NBIG=$(pages_of "$big")

export APFLOW_DATA_DIR=$work/data
unset APFLOW_STORE APFLOW_WAREHOUSE APFLOW_CONFIG
"$apflow" init >/dev/null
"$apflow" ingest "$born" "$scan" "$big" "${parts[@]}" >/dev/null
id() { sha256sum "$1" | cut -c1-20; }
BORN=$(id "$born") SCAN=$(id "$scan") BIG=$(id "$big")
DOCS=()
for f in "${parts[@]}"; do DOCS+=(--doc "$(id "$f")"); done
NDOCS=0
for f in "${parts[@]}"; do NDOCS=$((NDOCS + $(pdfinfo "$f" | awk '/^Pages:/ {print $2}'))); done
# The scans' text layer (none) makes them done, for the fixed-cost row.
"$apflow" ocr --engine text --doc "$SCAN" >/dev/null 2>&1

# The Tesseract command-line pipeline for page K of FILE into DIR.
cat >"$work/cli-page.sh" <<'EOF'
#!/usr/bin/env bash
# cli-page.sh FILE DIR K: pdftoppm renders page K at 300 dpi, tesseract reads it.
set -e
pdftoppm -r 300 -gray -png -f "$3" -l "$3" -singlefile "$1" "$2/p$3"
OMP_THREAD_LIMIT=1 tesseract "$2/p$3.png" - >/dev/null 2>&1
rm -f "$2/p$3.png"
EOF
chmod +x "$work/cli-page.sh"
mkdir -p "$work/png"

# The commands, by name: PAGES and the command line.
declare -A P CMD
def() { local name=$1 pages=$2; shift 2; P[$name]=$pages; CMD[$name]=$(printf '%q ' "$@"); }
def a1.born "$NBORN" "$apflow" ocr --engine text -j1 --force --doc "$BORN" --json
def mu.born "$NBORN" mutool draw -q -F txt -o /dev/null "$born"
def pt.born "$NBORN" pdftotext "$born" /dev/null
def a2.born "$NBORN" "$apflow" ocr --engine text -j2 --force --doc "$BORN" --json
def a1.docs "$NDOCS" "$apflow" ocr --engine text -j1 --force "${DOCS[@]}" --json
def mu.docs "$NDOCS" bash -c 'for f in "$@"; do mutool draw -q -F txt -o /dev/null "$f"; done' _ "${parts[@]}"
def pt.docs "$NDOCS" bash -c 'for f in "$@"; do pdftotext "$f" /dev/null; done' _ "${parts[@]}"
def a2.docs "$NDOCS" "$apflow" ocr --engine text -j2 --force "${DOCS[@]}" --json
def a1.big "$NBIG" "$apflow" ocr --engine text -j1 --force --doc "$BIG" --json
def mu.big "$NBIG" mutool draw -q -F txt -o /dev/null "$big"
def pt.big "$NBIG" pdftotext "$big" /dev/null
def a2.big "$NBIG" "$apflow" ocr --engine text -j2 --force --doc "$BIG" --json
def auto.big "$NBIG" "$apflow" ocr --engine auto -j1 --force --doc "$BIG" --json
# Every document is done: what a run costs before any page.
def fixed 0 "$apflow" ocr --doc "$BORN" --doc "$SCAN" --doc "$BIG"
def t1.scan "$NSCAN" "$apflow" ocr --engine tesseract -j1 --force --doc "$SCAN" --json
def c1.scan "$NSCAN" bash -c 'for k in $(seq 1 "$1"); do "$2" "$3" "$4" "$k"; done' _ "$NSCAN" "$work/cli-page.sh" "$scan" "$work/png"
def t2.scan "$NSCAN" "$apflow" ocr --engine tesseract -j2 --force --doc "$SCAN" --json
def c2.scan "$NSCAN" bash -c 'seq 1 "$1" | xargs -P2 -n1 "$2" "$3" "$4"' _ "$NSCAN" "$work/cli-page.sh" "$scan" "$work/png"

# once NAME: runs it; keeps its fastest run: wall seconds W, CPU seconds
# (user + system) C, apflow's read_seconds X (empty for the tools); the
# largest peak RSS (KB) of its runs R.
declare -A W C X R
once() {
	local name=$1 t0 t1 e u s m x
	t0=$(date +%s%N)
	eval "/usr/bin/time -f '%U %S %M' -o '$work/time' ${CMD[$name]}" >"$work/out" 2>"$work/err" ||
		{ echo "bench/ocr.sh: '$name' failed:" >&2; tail -5 "$work/err" >&2; exit 1; }
	t1=$(date +%s%N)
	e=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	read -r u s m <"$work/time"
	x=$(tail -1 "$work/out" | jq -r '.read_seconds // empty' 2>/dev/null || true)
	if [ -z "${W[$name]:-}" ] || awk -v a="$e" -v b="${W[$name]}" 'BEGIN { exit !(a < b) }'; then
		W[$name]=$e
		C[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
		X[$name]=$x
	fi
	[ "$m" -gt "${R[$name]:-0}" ] && R[$name]=$m
	return 0
}

row() {
	local name=$1 label=$2 x=${X[$1]:-} xs='' xp=''
	[ -n "$x" ] && xs=$(awk -v x="$x" 'BEGIN { printf "%.3f", x }')
	[ -n "$x" ] && xp=$(awk -v p="${P[$1]}" -v x="$x" 'BEGIN { printf "%.0f", (x > 0 ? p / x : 0) }')
	awk -v n="$label" -v p="${P[$1]}" -v w="${W[$1]}" -v c="${C[$1]}" -v r="${R[$1]}" -v xs="$xs" -v xp="$xp" \
		'BEGIN { printf "%-44s %6d %8.3f %7.2f %9.1f %7s %8s %7.0f\n", n, p, w, c, (w > 0 ? p / w : 0), xs, xp, r / 1024 }'
}
pps() { awk -v p="${P[$1]}" -v w="${W[$1]}" 'BEGIN { print (w > 0 ? p / w : 0) }'; }
# ratio A B: how many times B's wall time A's throughput is.
ratio() { awk -v a="$(pps "$1")" -v b="$(pps "$2")" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# cpu_ratio A B: how many times less CPU A took than B.
cpu_ratio() { awk -v a="${C[$1]}" -v b="${C[$2]}" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }
# read_ratio A B: A's extraction alone (read_seconds) against B's wall time.
read_ratio() { awk -v a="${X[$1]:-}" -v b="${W[$2]}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else printf "n/a" }'; }
mb() { awk -v r="${R[$1]}" 'BEGIN { printf "%.0f", r / 1024 }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=" ? v >= t : v < t); print (ok ? "PASS" : "FAIL") }'; }

echo "bench/ocr.sh: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (before); apflow $("$apflow" version 2>/dev/null | head -1 | awk '{print $2}'); best of $repeat rounds"
fast=(a1.born mu.born pt.born a2.born a1.docs mu.docs pt.docs a2.docs a1.big mu.big pt.big a2.big auto.big fixed)
for ((i = 0; i < repeat; i++)); do
	for n in "${fast[@]}"; do once "$n"; done
done
if [ "$do_tess" != 0 ]; then
	for n in t1.scan c1.scan t2.scan c2.scan; do once "$n"; done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

printf '%-44s %6s %8s %7s %9s %7s %8s %7s\n' "command" "pages" "wall s" "cpu s" "pages/s" "read s" "read p/s" "RSS MB"
row a1.born "apflow ocr --engine text -j1  (born $NBORN)"
row mu.born "mutool draw -F txt            (born $NBORN)"
row pt.born "pdftotext                     (born $NBORN)"
row a2.born "apflow ocr --engine text -j2  (born $NBORN)"
row a1.docs "apflow ocr --engine text -j1  (${#parts[@]} docs)"
row mu.docs "mutool draw -F txt, per file   (${#parts[@]} docs)"
row pt.docs "pdftotext, per file           (${#parts[@]} docs)"
row a2.docs "apflow ocr --engine text -j2  (${#parts[@]} docs)"
row a1.big "apflow ocr --engine text -j1  (big $NBIG)"
row mu.big "mutool draw -F txt            (big $NBIG)"
row pt.big "pdftotext                     (big $NBIG)"
row a2.big "apflow ocr --engine text -j2  (big $NBIG)"
row auto.big "apflow ocr --engine auto -j1  (big $NBIG)"
if [ "$do_tess" != 0 ]; then
	row t1.scan "apflow ocr --engine tesseract -j1 (scan $NSCAN)"
	row c1.scan "pdftoppm -r 300 + tesseract, 1 at a time"
	row t2.scan "apflow ocr --engine tesseract -j2 (scan $NSCAN)"
	row c2.scan "pdftoppm -r 300 + tesseract, 2 at a time"
fi
row fixed "fixed cost: apflow ocr, nothing to do"
echo "load average after: $load_after"

echo
echo "targets (issue), this run:"
# three LABEL THRESHOLD A B: A against B on each text corpus, A's
# throughput over B's (A and B are prefixes: a1 for a1.born, a1.docs ...).
three() {
	local label=$1 t=$2 a=$3 b=$4 out='' c v
	for c in born docs big; do
		v=$(ratio "$a.$c" "$b.$c")
		out="$out$(printf '%5sx %s  ' "$v" "$(verdict "$v" "$t" '>=')")"
	done
	printf '  %-36s %s\n' "$label" "$out"
}
printf '  %-36s  %-13s%-13s%s\n' "" "1 PDF ${NBORN}p" "${#parts[@]} PDFs ${NDOCS}p" "1 PDF ${NBIG}p"
three "text -j1 >= 1.0x mutool draw -F txt:" 1.0 a1 mu
printf '  %-36s CPU %sx / %sx / %sx; apflow reading alone (read s) %s / %s / %s\n' "" \
	"$(cpu_ratio a1.born mu.born)" "$(cpu_ratio a1.docs mu.docs)" "$(cpu_ratio a1.big mu.big)" \
	"$(read_ratio a1.born mu.born)" "$(read_ratio a1.docs mu.docs)" "$(read_ratio a1.big mu.big)"
three "text -j1 >= 2x pdftotext:" 2.0 a1 pt
printf '  %-36s CPU %sx / %sx / %sx; apflow reading alone (read s) %s / %s / %s\n' "" \
	"$(cpu_ratio a1.born pt.born)" "$(cpu_ratio a1.docs pt.docs)" "$(cpu_ratio a1.big pt.big)" \
	"$(read_ratio a1.born pt.born)" "$(read_ratio a1.docs pt.docs)" "$(read_ratio a1.big pt.big)"
three "text -j2 >= 1.7x -j1:" 1.7 a2 a1
if [ "$do_tess" != 0 ]; then
	v=$(ratio t1.scan c1.scan) w=$(ratio t2.scan c2.scan)
	printf '  %-36s %5sx %s (-j1)   %5sx %s (-j2 vs 2 at a time)\n' "tesseract >= 1.1x CLI pipeline:" \
		"$v" "$(verdict "$v" 1.1 '>=')" "$w" "$(verdict "$w" 1.1 '>=')"
	v=$(ratio t2.scan t1.scan)
	printf '  %-36s %5sx %s (tesseract; the CLI pipeline 2 at a time: %sx)\n' "tesseract -j2 >= 1.7x -j1:" \
		"$v" "$(verdict "$v" 1.7 '>=')" "$(ratio c2.scan c1.scan)"
fi
v=$(printf '%s\n' "$(mb a1.big)" "$(mb a2.big)" "$(mb auto.big)" | sort -n | tail -1)
printf '  %-36s text -j1 %s MB, -j2 %s MB, auto %s MB: %s%s\n' "peak RSS < 300 MB ($NBIG pages):" \
	"$(mb a1.big)" "$(mb a2.big)" "$(mb auto.big)" "$(verdict "$v" 300 '<')" \
	"$([ "$do_tess" != 0 ] && echo " (scans, tesseract -j2: $(mb t2.scan) MB)")"

# RESULT|stage|apflow|peer|ratio|target|met rows for bench/run-all (the
# 30-PDF corpus: what users upload; the other corpora are in the table).
yn() { [ "$(verdict "$@")" = PASS ] && echo yes || echo no; }
v=$(ratio a1.docs mu.docs)
echo "RESULT|ocr: text -j1, ${#parts[@]} PDFs ${NDOCS}p|$(pps a1.docs | awk '{printf "%.0f", $1}') pages/s|$(pps mu.docs | awk '{printf "%.0f", $1}') pages/s (mutool draw -F txt)|$v|>= 1.0x|$(yn "$v" 1.0 '>=')"
v=$(ratio a1.docs pt.docs)
echo "RESULT|ocr: text -j1 vs pdftotext, ${#parts[@]} PDFs|$(pps a1.docs | awk '{printf "%.0f", $1}') pages/s|$(pps pt.docs | awk '{printf "%.0f", $1}') pages/s (pdftotext)|$v|>= 2x|$(yn "$v" 2.0 '>=')"
v=$(ratio a2.docs a1.docs)
echo "RESULT|ocr: text -j2 vs -j1, ${#parts[@]} PDFs|$(pps a2.docs | awk '{printf "%.0f", $1}') pages/s|$(pps a1.docs | awk '{printf "%.0f", $1}') pages/s (-j1)|$v|>= 1.7x|$(yn "$v" 1.7 '>=')"
if [ "$do_tess" != 0 ]; then
	v=$(ratio t1.scan c1.scan)
	echo "RESULT|ocr: tesseract -j1, $NSCAN scans|$(pps t1.scan | awk '{printf "%.2f", $1}') pages/s|$(pps c1.scan | awk '{printf "%.2f", $1}') pages/s (pdftoppm + tesseract)|$v|>= 1.1x|$(yn "$v" 1.1 '>=')"
	v=$(ratio t2.scan t1.scan)
	echo "RESULT|ocr: tesseract -j2 vs -j1|$(pps t2.scan | awk '{printf "%.2f", $1}') pages/s|$(pps t1.scan | awk '{printf "%.2f", $1}') pages/s (-j1)|$v|>= 1.7x|$(yn "$v" 1.7 '>=')"
fi
v=$(printf '%s\n' "$(mb a1.big)" "$(mb a2.big)" "$(mb auto.big)" | sort -n | tail -1)
echo "RESULT|ocr: peak RSS, 1 PDF ${NBIG}p|$v MB|-|-|< 300 MB|$(yn "$v" 300 '<')"
