#!/usr/bin/env bash
# bench/upload.sh: upload throughput of `apflow serve` against s3rver.
#
# 16 concurrent clients (bench/upload-load.c: libcurl, keep-alive, the
# lightest client we have, since it shares the CPUs with the server) send 1,000
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
# The servers take turns, BENCH_ROUNDS rounds (default 3), each on fresh
# directories, and each keeps its best round: a burst of other load on this
# shared machine hits one round, not the verdict.  Every round's rate is
# printed, and every round must have zero errors and one row per object.
#
#   bench/upload.sh [N] [CLIENTS]      defaults 1000 and 16
#   BENCH_ROUNDS=5 bench/upload.sh
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
# The load client, built from bench/upload-load.c when it changed.
client=$top/build/bench/upload-load
if [ ! -x "$client" ] || [ "$top/bench/upload-load.c" -nt "$client" ]; then
	mkdir -p "$(dirname "$client")"
	${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror "$top/bench/upload-load.c" \
		$(pkg-config --cflags --libs libcurl libcrypto) -o "$client"
fi

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
		"$client" "$mode" "$url" "$clients" "${warmfiles[@]}" \
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
	"$client" "$mode" "$url" "$clients" "${files[@]}" \
		>"$work/$label.json" 2>>"$work/$label.errors"
	echo $(($(ticks "$pid") - t0)) >"$work/$label.ticks"
	kb "$pid" VmHWM >"$work/$label.hwm"
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	# Eight samples spread over the run, in MiB: flat means no growth per upload.
	awk '{v[NR] = $1} END {for (i = 1; i <= 8; i++) {k = int((NR - 1) * (i - 1) / 7) + 1; printf "%d ", v[k] / 1024}}' \
		"$work/$label.rss-samples" >"$work/$label.rss"
}

# One round of each server, in turn: apflow serve (a fresh data directory),
# then s3rver (a fresh bucket directory).  Nothing is deleted before the
# end of the whole run (see cleanup above).
rounds=${BENCH_ROUNDS:-3}
run_apflow() {	# round
	local r=$1 port apid
	export APFLOW_DATA_DIR=$work/apflow.$r
	"$apflow" init >/dev/null
	port=$(free_port)
	"$apflow" serve --listen "127.0.0.1:$port" 2>"$work/serve.$r.log" &
	apid=$!
	pids+=("$apid")
	for _ in $(seq 100); do grep -q '^listening' "$work/serve.$r.log" && break; sleep 0.1; done
	run_load "apflow.$r" "$apid" apflow "http://127.0.0.1:$port"
	ls "$work/apflow.$r/lake/raw" | wc -l >"$work/apflow.$r.stored"
	kill -TERM "$apid"
	wait "$apid" || true
	echo "SELECT count(*) AS n FROM md_raw_ocr.main.documents" >"$work/q.sql"
	"$apflow" sql "$work/q.sql" --csv | tr -d '\r' | tail -1 >"$work/apflow.$r.rows"
}
run_s3rver() {	# round
	local r=$1 s3port spid
	s3port=$(free_port)
	mkdir -p "$work/s3.$r"
	node "$top/third_party/npm/node_modules/s3rver/bin/s3rver.js" -d "$work/s3.$r" -a 127.0.0.1 -p "$s3port" -s \
		--configure-bucket bench >"$work/s3rver.$r.log" 2>&1 &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.1; done
	run_load "s3rver.$r" "$spid" s3 "http://127.0.0.1:$s3port/bench"
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
}
# How long this filesystem takes to create a file, now: ext4 without a
# journal skips every inode freed in the last 5 minutes (see cleanup
# above), so right after a mass delete (a previous run) creating a file
# can cost hundreds of microseconds instead of ~20, for both servers.
create_us() {
	local d=$work/create-probe t0 t1
	mkdir -p "$d"
	t0=$(date +%s%N)
	for i in $(seq 200); do : >"$d/f$i"; done
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 200000))
}
probe_us=$(create_us)
# The load averages around each run: the machine is shared, and both
# servers (and the client) compete with whatever else runs.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
for r in $(seq "$rounds"); do
	l0=$(loadavg)
	run_apflow "$r"
	l1=$(loadavg)
	run_s3rver "$r"
	echo "$l0 -> $l1" >"$work/apflow.$r.load"
	echo "$l1 -> $(loadavg)" >"$work/s3rver.$r.load"
done
load_end=$(loadavg)
# The best round of each.
best() {	# label
	local r bestr=1
	for r in $(seq "$rounds"); do
		jq -e --slurpfile b "$work/$1.$bestr.json" '.rate > $b[0].rate' "$work/$1.$r.json" >/dev/null && bestr=$r
	done
	echo "$bestr"
}
ra=$(best apflow) rs=$(best s3rver)
for x in json hwm rss ticks; do
	cp "$work/apflow.$ra.$x" "$work/apflow.$x"
	cp "$work/s3rver.$rs.$x" "$work/s3rver.$x"
done
cat "$work"/apflow.*.errors >"$work/apflow.errors"
cat "$work"/s3rver.*.errors >"$work/s3rver.errors"
stored=$(cat "$work/apflow.$ra.stored") rows=$(cat "$work/apflow.$ra.rows")

# ---- report ----
echo
echo "upload benchmark: $n PDFs of ~${avg_kb} KB, $clients concurrent clients, loopback, $(nproc) CPUs" \
	"(after $warm warm-up uploads each); best of $rounds rounds each" \
	"(apflow round $ra, s3rver round $rs); creating a file took ${probe_us} us at the start"
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
for label in apflow s3rver; do
	printf '%s rounds, uploads/s (load average before -> after):' "$label"
	for r in $(seq "$rounds"); do printf ' %s (%s)' "$(jq .rate "$work/$label.$r.json")" "$(cat "$work/$label.$r.load")"; done
	echo
done
echo "load average (1, 5, 15 min): $load_start at the start, $load_end at the end"
echo "apflow answers after an fsync of the PDF and a warehouse commit; s3rver does not fsync"
echo "apflow stored $stored objects, documents table has $rows rows (including $warm warm-up uploads)"
if [ "$probe_us" -gt 100 ]; then
	echo "note: creating a file takes ${probe_us} us on this filesystem right now (a mass delete in the last"
	echo "      5 minutes, on ext4 without a journal): both servers are slowed; run again later for clean figures"
fi
errs=$(cat "$work/apflow.errors" "$work/s3rver.errors" | wc -l)
if [ "$errs" -gt 0 ]; then
	echo "errors:"; head -20 "$work/apflow.errors" "$work/s3rver.errors"
fi
# RESULT|stage|apflow|peer|ratio|target|met rows for bench/run-all.
ar=$(jq .rate "$work/apflow.json") sr=$(jq .rate "$work/s3rver.json")
hwm=$(awk -v k="$(cat "$work/apflow.hwm")" 'BEGIN {printf "%.0f", k / 1024}')
echo "RESULT|upload: apflow serve, $n PDFs of ~${avg_kb} KB, $clients clients|$ar uploads/s|$sr uploads/s (s3rver)|$(awk -v a="$ar" -v b="$sr" 'BEGIN {printf "%.2f", a / b}')|>= 2x|$(awk -v a="$ar" -v b="$sr" 'BEGIN {print (a >= 2 * b) ? "yes" : "no"}')"
echo "RESULT|upload: apflow serve peak RSS|$hwm MB|-|-|flat (RSS samples in the log)|see log"
fail=0
for r in $(seq "$rounds"); do
	[ "$(jq .errors "$work/apflow.$r.json")" -eq 0 ] && [ "$(jq .errors "$work/s3rver.$r.json")" -eq 0 ] &&
		[ "$(cat "$work/apflow.$r.stored")" -eq $((n + warm)) ] && [ "$(cat "$work/apflow.$r.rows")" -eq $((n + warm)) ] ||
		{ echo "round $r: errors, or objects and rows do not match" >&2; fail=1; }
done
exit $fail
