#!/usr/bin/env bash
# bench/push.sh: apflow push throughput against tests/fakes/fake-argilla.js.
#
# N records (default 20,000) of about 2 KB of text each, with two agents'
# suggestions, are pushed into a fresh dataset on the fake Argilla server,
# which adds DELAY_MS (default 10 ms) to every answer, the way a remote
# server's latency would.  Printed: records/s, peak RSS (of a push of N/4
# records too, to show that memory does not grow with the file), and the
# ideal rate for the batch size and concurrency (batch x concurrency /
# latency: what a client that spent no time at all would reach), with the
# ratio; the target is >= 80% of the ideal.  Then the same for a naive client
# that sends one record per request, one request at a time (on NAIVE
# records, default 500, at its ideal of 1 / latency).  Each measured push
# goes to its own fresh dataset.  Also printed: the CPU seconds apflow used,
# the time the fake (one Node thread that parses, validates and answers
# every batch, as Argilla does) was busy, and the load average: on a shared
# machine the rates say more about the neighbours than about apflow, the
# CPU seconds less so.  The records are written with row groups of 2,048
# rows, as a Parquet file of pages should be: DuckDB reads a file a row
# group at a time, so one 100,000-row group of 2 KB pages would take
# 200 MB whatever the reader does.  Nothing leaves 127.0.0.1.
#
#   bench/push.sh [N] [BATCH] [CONCURRENCY]     defaults 20000 200 2
#   DELAY_MS=10 NAIVE=500 bench/push.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
batch=${2:-200}
conc=${3:-2}
delay=${DELAY_MS:-10}
naive=${NAIVE:-500}
apflow=$top/apflow
work=$(mktemp -d "${TMPDIR:-/tmp}/apflow-bench.XXXXXX")
fake_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
[ -x "$apflow" ] || { echo "bench/push.sh: build apflow first (make)" >&2; exit 1; }
cd "$work"
export APFLOW_DATA_DIR=$work/data

# The records, made with DuckDB (the same generator as the tests).
APFLOW=$apflow T_DIR=$work APFLOW_TOP=$top
. "$top/tests/lib/argilla.sh"
records_synthetic "$n" big.parquet 1950
records_synthetic $((n / 4)) quarter.parquet 1950
records_synthetic "$naive" naive.parquet 1950
bytes=$(printf "SELECT CAST(avg(strlen(text)) AS INTEGER) FROM 'big.parquet';\n" >q.sql; "$apflow" sql q.sql --csv | tail -1 | tr -d '\r')

key=bench-$RANDOM$RANDOM
node "$top/tests/fakes/fake-argilla.js" --port-file port --api-key "$key" 2>fake.err &
fake_pid=$!
for _ in $(seq 1 200); do [ -s port ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat port)
curl -sS -X POST "$url/_config?delay_ms=$delay" >/dev/null

run() {	# dataset file batch conc -> "seconds records_per_s peak_kb"
	local out
	/usr/bin/time -f '%M %U %S' -o rss.txt "$apflow" push --api-url "$url" --api-key "$key" --dataset "$1" --parquet "$2" \
		--batch-size "$3" --concurrency "$4" >push.out 2>push.err || { cat push.err >&2; exit 1; }
	out=$(cat push.out)
	case "$out" in *" 0 failed"*) ;; *) echo "bench/push.sh: a push failed: $out" >&2; exit 1 ;; esac
	# "push 'x': N records: ... in T s (R records/s, K requests)"
	sec=$(sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' push.out)
	echo "$sec $(tail -1 rss.txt)"
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# A warm-up push (DuckDB loaded, the fake's JIT warm), not measured.
"$apflow" push --api-url "$url" --api-key "$key" --dataset warmup --parquet quarter.parquet >/dev/null 2>&1

busy0=$(curl -sS "$url/_stats" | jq .busy_ms)
read -r s_big rss_big u_big sys_big <<<"$(run bench_big big.parquet "$batch" "$conc")"
busy1=$(curl -sS "$url/_stats" | jq .busy_ms)
read -r s_q rss_q _ _ <<<"$(run bench_quarter quarter.parquet "$batch" "$conc")"
read -r s_naive rss_naive _ _ <<<"$(run bench_naive naive.parquet 1 1)"

ideal=$(awk -v b="$batch" -v c="$conc" -v d="$delay" 'BEGIN { printf "%.0f", b * c * 1000 / d }')
r_big=$(rate "$n" "$s_big")
r_naive=$(rate "$naive" "$s_naive")
ideal_naive=$(awk -v d="$delay" 'BEGIN { printf "%.0f", 1000 / d }')
echo "apflow push: $n records of ~$bytes bytes, batch $batch, concurrency $conc, server latency $delay ms"
echo "  time              $s_big s"
echo "  rate              $r_big records/s"
echo "  ideal             $ideal records/s (batch x concurrency / latency)"
echo "  ratio             $(awk -v r="$r_big" -v i="$ideal" 'BEGIN { printf "%.0f%%", 100 * r / i }') of ideal (target >= 80%)"
echo "  peak RSS          $((rss_big / 1024)) MiB for $n records, $((rss_q / 1024)) MiB for $((n / 4)) (flat when equal)"
echo "  apflow CPU        $(awk -v u="$u_big" -v s="$sys_big" 'BEGIN { printf "%.2f", u + s }') s; fake server busy $(awk -v a="$busy0" -v b="$busy1" 'BEGIN { printf "%.2f", (b - a) / 1000 }') s (one Node thread)"
echo "  load average      $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
echo "naive push (one record per request, one request at a time), $naive records:"
echo "  rate              $r_naive records/s (ideal $ideal_naive), peak RSS $((rss_naive / 1024)) MiB"
echo "  apflow / naive    $(awk -v a="$r_big" -v b="$r_naive" 'BEGIN { printf "%.0fx", a / b }')"
