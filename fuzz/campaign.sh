#!/usr/bin/env bash
# campaign.sh: one long run of a libFuzzer target, with the figures
# docs/internals/fuzzing.md quotes.
#
#   fuzz/campaign.sh TARGET [SECONDS]     (default 600)
#
# Runs build/fuzz/fuzz_TARGET (make fuzz) at low priority (nice 15) for
# SECONDS on build/fuzz/campaign/TARGET/corpus, which it keeps between
# campaigns, seeded from fuzz/corpus/TARGET (and the generated PDFs for
# pdf).  Failing inputs go to build/fuzz/campaign/TARGET/; the log is
# build/fuzz/campaign/TARGET/log.  Prints one summary line: executions,
# executions per second, coverage (edges, features), corpus (files, bytes),
# seconds, and how it ended.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
t=$1 secs=${2:-600}
bin=$top/build/fuzz/fuzz_$t dir=$top/build/fuzz/campaign/$t
[ -x "$bin" ] || { echo "campaign: $bin is missing (make fuzz)" >&2; exit 1; }
mkdir -p "$dir/corpus"
extra=()
[ "$t" = pdf ] && extra+=("$top/build/fuzz/seeds/pdf")
start=$(date +%s)
# The sanitizers as tests/run.sh sets them (strict_string_checks finds a
# strndup() of a buffer without a NUL, as make test would).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# A copy runs, so that make fuzz may relink the target meanwhile.
cp "$bin" "$dir/fuzz_$t.bin"
nice -n 15 "$dir/fuzz_$t.bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$dir/" "$dir/corpus" "$top/fuzz/corpus/$t" "${extra[@]}" >"$dir/log" 2>&1 </dev/null
rc=$?
end=$(date +%s)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
last=$(grep -aE '^#[0-9]+' "$dir/log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
files=$(find "$dir/corpus" -type f | wc -l)
bytes=$(find "$dir/corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
crashes=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
echo "fuzz_$t: ${runs:-0} runs, ${eps:-0} exec/s, cov ${cov:-?} ft ${ft:-?}, corpus $files files $bytes bytes, $((end - start)) s, exit $rc, $crashes failing inputs"
[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]
