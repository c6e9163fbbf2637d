#!/usr/bin/env bash
# bench/flow.sh: the whole flow, PDFs to argilla_records.parquet, with
# `apflow run --until merge` (ingest, text-layer OCR, export, rules,
# merge), on BENCH_PAGES born-digital pages (default 100,000) in documents
# of BENCH_PER pages (default 20).  The pages are those of
# `node tests/data/gen-gold.js --bench N` (the gold corpus's maritime
# document kinds: realistic lengths), typeset by mutool create; made once
# into build/bench/flow-N/.
#
# Printed: wall and CPU seconds, pages/s (wall), peak RSS of the run, and
# the same run on a quarter of the pages (memory flat means the peak RSS
# does not grow with the pages).  Peer: `mutool draw -F txt` over the same
# PDFs, text extraction alone, one process per file as a script would.
# Target on the 2-core box: under 600 s for 100,000 pages (>= 170 pages/s),
# peak RSS of N pages <= 1.5 x that of N/4.
#
# Then the same kind of pages through `apflow serve --process` fed by
# uploads: BENCH_SERVE_PAGES pages (default: the quarter corpus, N/4;
# BENCH_SERVE_PAGES=N takes the whole corpus) are posted by
# bench/upload-load.c (4 in flight) while the worker takes them through
# ocr, export, preannotate and merge in rounds; the time runs from the
# first upload to the log line saying argilla_records.parquet holds every
# page.  Printed: pages/s end to end and the server's peak RSS, with the
# batch run on the same pages as the reference.  A round re-exports,
# re-annotates and re-merges the whole dataset (each step is idempotent
# over the dataset), so the rounds cost more as the dataset grows while
# the uploads come: the figure falls somewhat with N (docs/performance.md).
#
# The last lines are RESULT|... rows for bench/run-all.  On a shared
# machine the wall time measures the neighbours too: the load average is
# printed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_PAGES:-100000}
PER=${BENCH_PER:-20}
# OCR workers: apflow's default (the number of CPUs) unless BENCH_JOBS.
JOBS=${BENCH_JOBS:-}
SN=${BENCH_SERVE_PAGES:-$((N / 4))}
apflow=$top/apflow
work=$top/build/bench/flow-$N
corpus=$work/pdf
export LC_ALL=C.UTF-8

make_corpus() {	# N DIR
	local n=$1 dir=$2 tmp
	[ -f "$dir/.done" ] && return 0
	rm -rf "$dir"; mkdir -p "$dir"
	tmp=$(mktemp -d)
	node "$top/tests/data/gen-gold.js" --bench "$n" "$tmp/pages.jsonl" >/dev/null
	# one mutool per document, as many at a time as there are CPUs
	node "$top/bench/mkflow.js" "$tmp/pages.jsonl" "$tmp" "$PER" |
		xargs -L 1 -P "$(nproc)" sh -c 'd=$1; shift; exec mutool create -o "$0/$d.pdf" "$@"' "$dir"
	rm -rf "$tmp"
	touch "$dir/.done"
}

run_flow() {	# DIR DATA -> "wall cpu rss_kb"
	rm -rf "$2"
	/usr/bin/time -f '%e %U %S %M' -o "$2.time" env APFLOW_DATA_DIR="$2" \
		"$apflow" run --dataset vessels_ocr_bench --input "$1" --until merge ${JOBS:+-j "$JOBS"} >"$2.out" 2>"$2.err"
	awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$2.time"
}

# The upload client (bench/upload.sh builds the same one).
client=$top/build/bench/upload-load
if [ ! -x "$client" ] || [ "$top/bench/upload-load.c" -nt "$client" ]; then
	mkdir -p "$(dirname "$client")"
	${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror "$top/bench/upload-load.c" \
		$(pkg-config --cflags --libs libcurl libcrypto) -o "$client"
fi

run_serve() {	# DIR DATA PAGES -> "wall cpu rss_kb"
	local dir=$1 data=$2 pages=$3 port pid t0 t1 i
	rm -rf "$data" "$data.log"
	/usr/bin/time -f '%e %U %S %M' -o "$data.time" env APFLOW_DATA_DIR="$data" \
		"$apflow" serve --listen 127.0.0.1:0 --process=vessels_ocr_bench 2>"$data.log" &
	pid=$!
	for i in $(seq 600); do grep -q '^listening on ' "$data.log" 2>/dev/null && break; sleep 0.1; done
	port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$data.log")
	t0=$(date +%s.%N)
	find "$dir" -name '*.pdf' -print0 | sort -z | xargs -0 "$client" apflow "http://127.0.0.1:$port" 4 >"$data.upload" 2>&1
	# until a round has merged every page (at most an hour)
	for i in $(seq 36000); do
		kill -0 "$pid" 2>/dev/null || break
		grep -q "records in argilla_records.parquet" "$data.log" &&
			[ "$(grep -o "': [0-9]* records in argilla_records" "$data.log" | tail -1 | tr -dc 0-9)" = "$pages" ] && break
		sleep 0.1
	done
	t1=$(date +%s.%N)
	# the pid is that of time(1): the server is its child
	kill -TERM "$(pgrep -P "$pid")" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	awk -v a="$t0" -v b="$t1" '{printf "%.2f %.2f %s\n", b - a, $2 + $3, $4}' "$data.time"
}

echo "flow: making $N pages ($PER a document) in $corpus" >&2
make_corpus "$N" "$corpus"
q=$((N / 4))
# The quarter: the first documents of the corpus (hard links).
if [ ! -f "$work/quarter/.done" ]; then
	rm -rf "$work/quarter"; mkdir -p "$work/quarter"
	find "$corpus" -name '*.pdf' | sort | awk -v n=$((q / PER)) 'NR <= n' | xargs -I{} ln {} "$work/quarter/"
	touch "$work/quarter/.done"
fi
pages=$(find "$corpus" -name '*.pdf' | wc -l)
echo "OCR jobs: ${JOBS:-apflow default ($(nproc))}"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
read -r wall cpu rss <<<"$(run_flow "$corpus" "$work/data")"
read -r qwall qcpu qrss <<<"$(run_flow "$work/quarter" "$work/qdata")"
if [ "$SN" = "$N" ]; then sdir=$corpus; sref=$wall; srss=$rss
else SN=$q; sdir=$work/quarter; sref=$qwall; srss=$qrss; fi
read -r swall scpu sresrss <<<"$(run_serve "$sdir" "$work/sdata" "$SN")"
tail -9 "$work/data.out"
rec=$(echo "SELECT count(*) FROM read_parquet('$work/data/lake/argilla/in/vessels_ocr_bench/argilla_records.parquet');" |
	APFLOW_DATA_DIR=$work/data "$apflow" sql - --csv | tail -1)
t0=$(date +%s.%N)
find "$corpus" -name '*.pdf' -print0 | xargs -0 -n 1 -P "$(nproc)" mutool draw -q -F txt -o /dev/null 2>/dev/null
t1=$(date +%s.%N)
peer=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
pps=$(awk -v n="$N" -v w="$wall" 'BEGIN {printf "%.0f", n / w}')
ppeer=$(awk -v n="$N" -v w="$peer" 'BEGIN {printf "%.0f", n / w}')
printf '\n%-28s %10s %10s %10s %10s\n' "" "wall s" "CPU s" "pages/s" "peak MB"
printf '%-28s %10s %10s %10s %10.0f\n' "apflow run, $N pages" "$wall" "$cpu" "$pps" "$((rss / 1024))"
printf '%-28s %10s %10s %10s %10.0f\n' "apflow run, $q pages" "$qwall" "$qcpu" "$(awk -v n="$q" -v w="$qwall" 'BEGIN {printf "%.0f", n / w}')" "$((qrss / 1024))"
printf '%-28s %10s %10s %10s %10.0f\n' "serve --process, $SN pages" "$swall" "$scpu" "$(awk -v n="$SN" -v w="$swall" 'BEGIN {printf "%.0f", n / w}')" "$((sresrss / 1024))"
printf '%-28s %10s %10s %10s %10s\n' "mutool draw -F txt (peer)" "$peer" "-" "$ppeer" "-"
echo "records in argilla_records.parquet: $rec of $N pages ($pages documents)"
met=$(awk -v w="$wall" -v n="$N" 'BEGIN {print (n / w >= 170) ? "yes" : "no"}')
flat=$(awk -v a="$rss" -v b="$qrss" 'BEGIN {print (a <= 1.5 * b) ? "yes" : "no"}')
echo "RESULT|flow: PDFs to records ($N pages)|$pps pages/s|$ppeer pages/s (mutool txt)|$(awk -v a="$pps" -v b="$ppeer" 'BEGIN {printf "%.2f", a / b}')|>= 170 pages/s|$met"
echo "uploads: $(cat "$work/sdata.upload")"
srec=$(echo "SELECT count(*) FROM read_parquet('$work/sdata/lake/argilla/in/vessels_ocr_bench/argilla_records.parquet');" |
	APFLOW_DATA_DIR=$work/sdata "$apflow" sql - --csv | tail -1)
echo "serve --process: $srec records in argilla_records.parquet of $SN pages; $(grep -c 'records in argilla_records' "$work/sdata.log") rounds merged"
spps=$(awk -v n="$SN" -v w="$swall" 'BEGIN {printf "%.0f", n / w}')
smet=$(awk -v p="$spps" -v r="$srec" -v n="$SN" 'BEGIN {print (p >= 170 && r == n) ? "yes" : "no"}')
echo "RESULT|flow: serve --process fed by uploads ($SN pages)|$spps pages/s|$(awk -v n="$SN" -v w="$sref" 'BEGIN {printf "%.0f", n / w}') pages/s (apflow run, same pages)|$(awk -v a="$sref" -v b="$swall" 'BEGIN {printf "%.2f", a / b}')|>= 170 pages/s|$smet"
echo "RESULT|flow: serve --process peak RSS ($SN pages)|$((sresrss / 1024)) MB|$((srss / 1024)) MB (apflow run, same pages)|$(awk -v a="$sresrss" -v b="$srss" 'BEGIN {printf "%.2f", a / b}')|<= 1.5x the run|$(awk -v a="$sresrss" -v b="$srss" 'BEGIN {print (a <= 1.5 * b) ? "yes" : "no"}')"
echo "RESULT|flow: peak RSS, N vs N/4|$((rss / 1024)) MB|$((qrss / 1024)) MB at N/4|$(awk -v a="$rss" -v b="$qrss" 'BEGIN {printf "%.2f", a / b}')|<= 1.5x (flat)|$flat"
