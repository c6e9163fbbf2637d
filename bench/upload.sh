#!/usr/bin/env bash
# bench/upload.sh: upload throughput of `apflow serve` against s3rver.
#
# 16 concurrent clients (bench/upload-load.js, keep-alive) send 1,000
# distinct ~200 KB PDFs over loopback: first as POST /upload to apflow serve
# (release build, file:// store and local DuckDB warehouse, so every upload
# is probed by MuPDF, fsync'ed into the store and committed to the
# warehouse), then as plain PUTs of the same files to s3rver in the same
# run.  For each it prints uploads/s, p50/p99 latency, the CPU time the
# server spent per upload and its peak RSS (VmHWM), plus eight RSS samples
# spread over the run to show that it stays flat.  Nothing leaves 127.0.0.1.
#
# The comparison is kept fair: the same files, the same client program and
# concurrency, the same machine with nothing pinned (each server has both
# CPUs and shares them with the client, one server at a time), and each
# server first gets a warm-up of WARMUP other files (default 64: DuckDB
# opened, the JIT warm), which is not measured.  It is not the same work:
# s3rver writes each object without fsync (it is on disk only when the
# kernel flushes it), while apflow answers only after the PDF is fsync'ed
# and its rows are committed (a WAL fsync); the report says so.
#
#   bench/upload.sh [N] [CLIENTS]      defaults 1000 and 16
# The PDFs are made once (tests/lib/mkpdf.sh, mkpdf_pad) and kept in
# build/bench/pdfs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000}
clients=${2:-16}
warm=${WARMUP:-64}
apflow=$top/apflow
corpus=$top/build/bench/pdfs
work=$(mktemp -d "${TMPDIR:-/tmp}/apflow-bench.XXXXXX")
pids=()
# sync after deleting the run's ~3,000 files, and once before starting:
# ext4 without a journal makes every file creation skip inodes deleted in
# the last 5 s, or 5 min while their inode table is not yet written back,
# and scanning past thousands of them costs each creation more than the
# upload's write does.  Without the sync, a run just after another (or
# after any mass delete) measures that instead of the servers.
cleanup() {
	for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
	sync
}
trap cleanup EXIT
sync
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

[ -x "$apflow" ] || { echo "bench/upload.sh: build apflow first (make)" >&2; exit 1; }

# ---- the corpus: N + WARMUP distinct one-page PDFs of about 200 KB ----
mkdir -p "$corpus"
have=$(find "$corpus" -name 'bench-*.pdf' | wc -l)
if [ "$have" -lt $((n + warm)) ]; then
	echo "making $((n + warm)) PDFs of ~200 KB in $corpus (once) ..."
	export corpus
	seq 1 $((n + warm)) | xargs -P "$(nproc)" -n 25 bash -c '
		. "'"$top"'/tests/lib/mkpdf.sh"
		for i in "$@"; do
			f=$(printf "%s/bench-%05d.pdf" "$corpus" "$i")
			[ -s "$f" ] || mkpdf_pad "$f" 165 "apflow bench document $i" || exit 1
		done' _
fi
files=()
for i in $(seq 1 "$n"); do files+=("$(printf '%s/bench-%05d.pdf' "$corpus" "$i")"); done
warmfiles=()
for i in $(seq $((n + 1)) $((n + warm))); do warmfiles+=("$(printf '%s/bench-%05d.pdf' "$corpus" "$i")"); done
avg_kb=$(du -cb "${files[@]}" | tail -1 | awk -v n="$n" '{printf "%.0f", $1 / n / 1000}')

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
kb() { awk '/^'"$2"':/ {print $2}' "/proc/$1/status"; }
# CPU time of a process, all its threads, user + system, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Warms a server PID up, then runs the load against it while sampling its
# RSS every 0.2 s and counting the CPU time it spends.
run_load() {	# label pid mode url
	local label=$1 pid=$2 mode=$3 url=$4 sampler t0
	if [ "$warm" -gt 0 ]; then
		node "$top/bench/upload-load.js" "$mode" "$url" "$clients" "${warmfiles[@]}" \
			>"$work/$label.warm.json" 2>"$work/$label.errors"
	fi
	(
		while kill -0 "$pid" 2>/dev/null; do
			kb "$pid" VmRSS
			sleep 0.2
		done
	) >"$work/$label.rss-samples" 2>/dev/null &
	sampler=$!
	t0=$(ticks "$pid")
	node "$top/bench/upload-load.js" "$mode" "$url" "$clients" "${files[@]}" \
		>"$work/$label.json" 2>>"$work/$label.errors"
	echo $(($(ticks "$pid") - t0)) >"$work/$label.ticks"
	kb "$pid" VmHWM >"$work/$label.hwm"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	# Eight samples spread over the run, in MiB: flat means no growth per upload.
	awk '{v[NR] = $1} END {for (i = 1; i <= 8; i++) {k = int((NR - 1) * (i - 1) / 7) + 1; printf "%d ", v[k] / 1024}}' \
		"$work/$label.rss-samples" >"$work/$label.rss"
}

# ---- apflow serve ----
export APFLOW_DATA_DIR=$work/apflow
"$apflow" init >/dev/null
port=$(free_port)
"$apflow" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
apid=$!
pids+=("$apid")
for _ in $(seq 100); do grep -q '^listening' "$work/serve.log" && break; sleep 0.1; done
run_load apflow "$apid" apflow "http://127.0.0.1:$port"
stored=$(ls "$work/apflow/lake/raw" | wc -l)
kill -TERM "$apid"
wait "$apid" || true
echo "SELECT count(*) AS n FROM md_raw_ocr.main.documents" >"$work/q.sql"
rows=$("$apflow" sql "$work/q.sql" --csv | tr -d '\r' | tail -1)

# ---- s3rver, the same files ----
s3port=$(free_port)
mkdir -p "$work/s3"
node "$top/third_party/npm/node_modules/s3rver/bin/s3rver.js" -d "$work/s3" -a 127.0.0.1 -p "$s3port" -s \
	--configure-bucket bench >"$work/s3rver.log" 2>&1 &
spid=$!
pids+=("$spid")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.1; done
run_load s3rver "$spid" s3 "http://127.0.0.1:$s3port/bench"

# ---- report ----
echo
echo "upload benchmark: $n PDFs of ~${avg_kb} KB, $clients concurrent clients, loopback, $(nproc) CPUs" \
	"(after $warm warm-up uploads each)"
printf '%-14s %10s %10s %10s %8s %12s %14s  %s\n' server "uploads/s" "p50 ms" "p99 ms" errors "CPU ms/up" \
	"peak RSS MiB" "RSS during the run, MiB"
for label in apflow s3rver; do
	node -e '
		const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const hwm = Number(process.argv[2]) / 1024;
		const cpu = Number(process.argv[5]) * 1000 / Number(process.argv[6]) / r.n;
		const line = [process.argv[3].padEnd(14), String(r.rate).padStart(10), String(r.p50_ms).padStart(10),
			String(r.p99_ms).padStart(10), String(r.errors).padStart(8), cpu.toFixed(2).padStart(12),
			hwm.toFixed(1).padStart(14)].join(" ");
		console.log(line + "  " + process.argv[4].trim());
	' "$work/$label.json" "$(cat "$work/$label.hwm")" "$label" "$(cat "$work/$label.rss")" \
		"$(cat "$work/$label.ticks")" "$(getconf CLK_TCK)"
done
node -e '
	const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	const s = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
	console.log(`apflow/s3rver throughput: ${(a.rate / s.rate).toFixed(2)}x (target >= 2x)`);
' "$work/apflow.json" "$work/s3rver.json"
echo "apflow answers after an fsync of the PDF and a warehouse commit; s3rver does not fsync"
echo "apflow stored $stored objects, documents table has $rows rows (including $warm warm-up uploads)"
errs=$(cat "$work/apflow.errors" "$work/s3rver.errors" | wc -l)
if [ "$errs" -gt 0 ]; then
	echo "errors:"; head -20 "$work/apflow.errors" "$work/s3rver.errors"
fi
[ "$(jq .errors "$work/apflow.json")" -eq 0 ] && [ "$stored" -eq $((n + warm)) ] && [ "$rows" -eq $((n + warm)) ]
