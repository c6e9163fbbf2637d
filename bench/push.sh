#!/usr/bin/env bash
# bench/push.sh: apflow push throughput against tests/fakes/fake-argilla.js.
#
# N records (default 20,000) of about 2 KB of text each (accents, CJK and an
# emoji in every page), with two agents' suggestions, are pushed into fresh
# datasets on the fake Argilla server, which adds DELAY_MS (default 10 ms)
# to every answer, the way a remote server's latency would, without
# holding up other requests.  The ideal rate of a batch size and concurrency
# is batch x concurrency / latency: what a client and a server that spent no
# time at all would reach.  Target: >= 80% of it, and flat memory.
#
# Measured:
#   - the chosen setting BATCH x CONC (default 100 x 2: the smallest batch
#     the issue allows, where the fake's own work per request, which comes
#     on top of the 10 ms, weighs least) and the default of apflow push
#     (200 x 2): records/s against the ideal;
#   - peak RSS of pushes of N/4, N and 4N records (flat: N <= 1.5 x N/4);
#   - a naive client, one record per request, one request at a time, on
#     NAIVE records (default 500), at its ideal of 1 / latency;
#   - CPU time: apflow's (user + system, /usr/bin/time) and the fake's
#     (its process, from /_stats cpu_ms), per record.  The fake is one Node
#     thread that parses, validates, stores and echoes every batch, as
#     Argilla does, on the same 2 CPUs as apflow: its time per request comes
#     on top of the latency.  So also printed: the rate that an infinitely
#     fast client would reach against this fake, batch x concurrency /
#     (latency + batch x the fake's CPU per record), and apflow's share of
#     it; and the bound that the two CPU figures put on any rate on 2 idle
#     cores.  On a shared machine wall-clock rates measure the neighbours
#     too: the load average is printed before and after.
# The last lines are RESULT|stage|apflow|peer|ratio|target|met for
# bench/run-all.  The records are written with row groups of 2,048 rows, as
# a Parquet file of pages should be.  Nothing leaves 127.0.0.1.
#
#   bench/push.sh [N] [BATCH] [CONCURRENCY]     defaults 20000 100 2
#   DELAY_MS=10 NAIVE=500 bench/push.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
batch=${2:-100}
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
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 LC_ALL=C.UTF-8
[ -x "$apflow" ] || { echo "bench/push.sh: build apflow first (make)" >&2; exit 1; }
cd "$work"
export APFLOW_DATA_DIR=$work/data
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# The records, made with DuckDB (the same generator as the tests).
APFLOW=$apflow T_DIR=$work APFLOW_TOP=$top
. "$top/tests/lib/argilla.sh"
q=$((n / 4))
records_synthetic "$n" big.parquet 1950
records_synthetic "$q" quarter.parquet 1950
records_synthetic $((n * 4)) four.parquet 1950
records_synthetic "$naive" naive.parquet 1950
bytes=$(printf "SELECT CAST(avg(strlen(text)) AS INTEGER) FROM 'big.parquet';\n" >q.sql; "$apflow" sql q.sql --csv | tail -1 | tr -d '\r')

key=bench-$RANDOM$RANDOM
node "$top/tests/fakes/fake-argilla.js" --port-file port --api-key "$key" 2>fake.err &
fake_pid=$!
for _ in $(seq 1 200); do [ -s port ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat port)
curl -sS -X POST "$url/_config?delay_ms=$delay" >/dev/null
fake_cpu() { curl -sS "$url/_stats" | jq .cpu_ms; }

run() {	# dataset file batch conc -> "seconds peak_kb apflow_cpu_s fake_cpu_s check_ms dataset_ms list_ms send_ms send_cpu_us"
	local out c0 c1
	c0=$(fake_cpu)
	/usr/bin/time -f '%M %U %S %e' -o rss.txt "$apflow" push --api-url "$url" --api-key "$key" --dataset "$1" --parquet "$2" \
		--batch-size "$3" --concurrency "$4" --verbose >push.out 2>push.err || { cat push.err >&2; exit 1; }
	c1=$(fake_cpu)
	out=$(cat push.out)
	case "$out" in *" 0 updated, 0 unchanged, 0 failed"*) ;; *) echo "bench/push.sh: a push did not create every record: $out" >&2; exit 1 ;; esac
	# the phases apflow push --verbose prints (docs/argilla.md, "Speed")
	ph() { sed -n "s/^apflow: debug: push: $1.*/\\1/p" push.err | head -1; }
	local ck ds ls sn sc
	ck=$(ph '[0-9]* records checked in \([0-9]*\) ms')
	ds=$(ph 'dataset ready in \([0-9]*\) ms')
	ls=$(ph "the server's [0-9]* records listed in [0-9]* ms (\\([0-9]*\\) ms of it after the check)")
	sn=$(ph 'sent [0-9]* records in \([0-9]*\) ms')
	sc=$(ph 'sent .*, \([0-9.]*\) us of CPU a record read)')
	[ -n "$ck" ] && [ -n "$ds" ] && [ -n "$ls" ] && [ -n "$sn" ] && [ -n "$sc" ] ||
		{ echo "bench/push.sh: apflow push --verbose did not print its phases:" >&2; cat push.err >&2; exit 1; }
	# the whole command's wall time (2 decimals; the summary line has 1)
	awk -v a="$c0" -v b="$c1" -v p="$ck $ds $ls $sn $sc" '{ printf "%s %s %.3f %.3f %s\n", $4, $1, $2 + $3, (b - a) / 1000, p }' rss.txt
}
f() { awk "BEGIN { printf \"$1\", $2 }"; }

# A warm-up push (DuckDB loaded, the fake's JIT warm), not measured.
"$apflow" push --api-url "$url" --api-key "$key" --dataset warmup --parquet quarter.parquet >/dev/null 2>&1

read -r s_big rss_big cpu_big fcpu_big ck_big ds_big ls_big sn_big sc_big <<<"$(run chosen big.parquet "$batch" "$conc")"
if [ "$batch $conc" != "200 2" ]; then
	read -r s_def _ cpu_def fcpu_def ck_def ds_def ls_def sn_def sc_def <<<"$(run default big.parquet 200 2)"
else
	s_def=$s_big cpu_def=$cpu_big fcpu_def=$fcpu_big ck_def=$ck_big ds_def=$ds_big ls_def=$ls_big sn_def=$sn_big sc_def=$sc_big
fi
read -r _ rss_q _ _ _ _ _ _ _ <<<"$(run quarter quarter.parquet "$batch" "$conc")"
read -r _ rss_4 _ _ _ _ _ _ _ <<<"$(run four four.parquet "$batch" "$conc")"
read -r s_naive rss_naive _ _ _ _ _ _ _ <<<"$(run naive naive.parquet 1 1)"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

rate() { f "%.0f" "$1 / $2"; }
ideal=$(f "%.0f" "$batch * $conc * 1000 / $delay")
ideal_def=$(f "%.0f" "200 * 2 * 1000 / $delay")
# The headline: the records over the work that grows with them, from the
# start of reading the file to the last answer, without the one-time
# dataset set-up (sign-in, workspace, dataset lookup or creation,
# publish): check + listing wait + send.
work_big=$(f "%.3f" "($ck_big + $ls_big + $sn_big) / 1000")
work_def=$(f "%.3f" "($ck_def + $ls_def + $sn_def) / 1000")
r_big=$(rate "$n" "$work_big")
r_def=$(rate "$n" "$work_def")
# the whole command, everything included
w_big=$(rate "$n" "$s_big")
w_def=$(rate "$n" "$s_def")
fixed_big=$(f "%.0f" "$s_big * 1000 - $ck_big - $ls_big - $sn_big")
fixed_def=$(f "%.0f" "$s_def * 1000 - $ck_def - $ls_def - $sn_def")
r_naive=$(rate "$naive" "$s_naive")
ideal_naive=$(f "%.0f" "1000 / $delay")
# CPU per record, in microseconds
us_c=$(f "%.1f" "$cpu_big * 1e6 / $n")
us_f=$(f "%.1f" "$fcpu_big * 1e6 / $n")
us_cd=$(f "%.1f" "$cpu_def * 1e6 / $n")
us_fd=$(f "%.1f" "$fcpu_def * 1e6 / $n")
# the rate of an infinitely fast client against this fake
fakeideal=$(f "%.0f" "$batch * $conc * 1e6 / ($delay * 1000 + $batch * $us_f)")
fakeideal_def=$(f "%.0f" "200 * 2 * 1e6 / ($delay * 1000 + 200 * $us_fd)")
# the bound of the CPU time on 2 idle cores: the fake on one, both together on two
bound=$(f "%.0f" "1e6 / ($us_f > ($us_c + $us_f) / 2 ? $us_f : ($us_c + $us_f) / 2)")
ratio=$(f "%.2f" "$r_big / $ideal")
ratio_def=$(f "%.2f" "$r_def / $ideal_def")

echo "apflow push: $n records of ~$bytes bytes, server latency $delay ms"
echo "load average $load0 before, $load1 after, on $(nproc) CPUs$(f "%s" "(${load1%% *} > $(nproc) ? \" (loaded: more runnable jobs than CPUs, so the wall-clock rates are low; the CPU figures hold better)\" : \"\")")"
printf '\n%-22s %9s %9s %6s %9s %9s %9s %9s %9s %9s\n' "" "records/s" "ideal" "ratio" "check" "list" "send" "whole" "w/ratio" "fixed"
printf '%-22s %9s %9s %6s %6s ms %6s ms %6s ms %9s %9s %6s ms\n' "batch $batch x $conc" "$r_big" "$ideal" "$ratio" "$ck_big" "$ls_big" "$sn_big" \
	"$w_big" "$(f "%.2f" "$w_big / $ideal")" "$fixed_big"
printf '%-22s %9s %9s %6s %6s ms %6s ms %6s ms %9s %9s %6s ms\n' "batch 200 x 2 (default)" "$r_def" "$ideal_def" "$ratio_def" "$ck_def" "$ls_def" "$sn_def" \
	"$w_def" "$(f "%.2f" "$w_def / $ideal_def")" "$fixed_def"
printf '%-22s %9s %9s %6s\n' "naive, 1 x 1 ($naive)" "$r_naive" "$ideal_naive" "$(f "%.2f" "$r_naive / $ideal_naive")"
echo "  (records/s: N / (check + list + send), the phases apflow push --verbose prints; whole: N / the"
echo "   command's wall time; fixed: the rest of it (start, DuckDB, sign-in, dataset: $ds_big ms and $ds_def ms))"
printf '\n%-22s %12s %12s %12s %13s %9s\n' "" "apflow CPU" "send pass" "fake CPU" "ideal w/fake" "share"
printf '%-22s %9s us %9s us %9s us %13s %8s%%\n' "batch $batch x $conc" "$us_c" "$sc_big" "$us_f" "$fakeideal" \
	"$(f "%.0f" "100 * $r_big / $fakeideal")"
printf '%-22s %9s us %9s us %9s us %13s %8s%%\n' "batch 200 x 2 (default)" "$us_cd" "$sc_def" "$us_fd" "$fakeideal_def" \
	"$(f "%.0f" "100 * $r_def / $fakeideal_def")"
echo "  (CPU per record: apflow's whole command, its send pass alone, the fake's; ideal w/fake: batch x"
echo "   concurrency / (latency + batch x fake CPU per record); share: records/s / ideal w/fake;"
echo "   CPU bound on 2 idle cores: $bound records/s)"
echo "peak RSS: $((rss_q / 1024)) MiB for $q records, $((rss_big / 1024)) MiB for $n, $((rss_4 / 1024)) MiB for $((n * 4)); naive $((rss_naive / 1024)) MiB"
echo "apflow / naive: $(f "%.0fx" "$r_big / $r_naive")"

yn() { f "%s" "($1) ? \"yes\" : \"no\""; }
echo "RESULT|push: records/s over check + send, batch $batch x $conc ($n records, $delay ms)|$r_big records/s|$ideal records/s ideal|$ratio|>= 0.80 of ideal|$(yn "$ratio >= 0.8")"
echo "RESULT|push: records/s over check + send, default batch 200 x 2|$r_def records/s|$ideal_def records/s ideal|$ratio_def|>= 0.80 of ideal|$(yn "$ratio_def >= 0.8")"
echo "RESULT|push: whole command, batch $batch x $conc (fixed set-up $fixed_big ms, of it dataset $ds_big ms)|$w_big records/s|$ideal records/s ideal|$(f "%.2f" "$w_big / $ideal")|-|-"
echo "RESULT|push: whole command, default 200 x 2 (fixed set-up $fixed_def ms, of it dataset $ds_def ms)|$w_def records/s|$ideal_def records/s ideal|$(f "%.2f" "$w_def / $ideal_def")|-|-"
echo "RESULT|push: share of an infinitely fast client's rate vs this fake, $batch x $conc|$r_big records/s|$fakeideal records/s|$(f "%.2f" "$r_big / $fakeideal")|>= 0.80|$(yn "$r_big >= 0.8 * $fakeideal")"
echo "RESULT|push: CPU per record, apflow vs fake (apflow send pass $sc_big us; bound on 2 idle cores: $bound records/s)|$us_c us|$us_f us (fake)|$(f "%.2f" "$us_c / $us_f")|bound >= 0.80 of ideal|$(yn "$bound >= 0.8 * $ideal")"
echo "RESULT|push: peak RSS, N vs N/4|$((rss_big / 1024)) MB|$((rss_q / 1024)) MB at N/4|$(f "%.2f" "$rss_big / $rss_q")|<= 1.5x (flat)|$(yn "$rss_big <= 1.5 * $rss_q")"
echo "RESULT|push: peak RSS, 4N vs N|$((rss_4 / 1024)) MB|$((rss_big / 1024)) MB at N|$(f "%.2f" "$rss_4 / $rss_big")|<= 1.5x (flat)|$(yn "$rss_4 <= 1.5 * $rss_big")"
echo "RESULT|push: vs naive one record per request ($naive records)|$r_big records/s|$r_naive records/s naive (ideal $ideal_naive)|$(f "%.0f" "$r_big / $r_naive")|> naive|$(yn "$r_big > $r_naive")"
