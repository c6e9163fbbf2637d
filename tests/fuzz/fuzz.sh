# tests/fuzz/fuzz.sh: sourced by tests/fuzz/t*.sh after tests/lib.sh.
#
#   fuzz_run TARGET [SEED_DIR...]
#
# Runs build/fuzz/fuzz_TARGET (make fuzz) for APFLOW_FUZZ_SECONDS seconds
# (default 10) on a scratch corpus seeded from fuzz/corpus/TARGET and the seed
# directories, and reports one TAP line (a skip when the target is not
# built): ok when it ran without a crash,
# a leak, a sanitizer report or a timeout.  A failing input is kept in
# build/test-out/fuzz/ with the command that replays it.  One input may
# take up to 60 s before it counts as a hang: on a loaded machine a PDF
# that reads in 50 ms once took 44 s.
fuzz_run() {
	local t=$1; shift
	local bin=$APFLOW_TOP/build/fuzz/fuzz_$t secs=${APFLOW_FUZZ_SECONDS:-10}
	local keep=${TEST_OUT:-$APFLOW_TOP/build/test-out}/fuzz log=$T_DIR/fuzz-$t.log rc runs art
	if [ ! -x "$bin" ]; then
		# tests/run.sh PATTERN without `make fuzz` (make test builds
		# the targets first, so there it always runs).
		t_skip "fuzz_$t" "build/fuzz/fuzz_$t is not built (make fuzz)"
		return 0
	fi
	mkdir -p "$T_DIR/corpus-$t" "$T_DIR/art-$t"
	"$bin" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$T_DIR/art-$t/" "$T_DIR/corpus-$t" "$APFLOW_TOP/fuzz/corpus/$t" "$@" \
		>"$log" 2>&1 </dev/null
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	art=$(find "$T_DIR/art-$t" -type f | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$art" ] && [ -n "$runs" ] && [ "$runs" -gt 0 ]; then
		_t_report 0 "fuzz_$t: $runs runs in ${secs} s, no crash"
		return 0
	fi
	_t_report 1 "fuzz_$t: exit $rc after ${runs:-0} runs"
	grep -vE '^(#[0-9]+|INFO:|stat::)' "$log" | tail -n 40 | sed 's/^/# /'
	if [ -n "$art" ]; then
		mkdir -p "$keep"
		cp "$art" "$keep/"
		echo "# failing input kept: $keep/$(basename "$art")"
		echo "# replay: build/fuzz/fuzz_$t $keep/$(basename "$art")"
	fi
	return 0
}
