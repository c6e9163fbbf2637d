#!/usr/bin/env bash
# tests/run.sh: runs every test and ends with the single line "N passed, N failed".
#
# Unit tests are cmocka binaries built under AddressSanitizer and
# UndefinedBehaviorSanitizer (build/asan/tests/unit/*); command-line and HTTP
# tests are shell scripts (tests/cli/t*.sh, tests/http/t*.sh) that drive the
# sanitizer build of apflow, each in its own temporary directory; tests/fuzz/
# runs each libFuzzer target (make fuzz) for a few seconds; tests/hostile/ is
# the hostile suite (docs/security.md).  Every test
# speaks TAP ("ok N - what" / "not ok N - what"); a script or binary that
# dies without saying so counts as one failure.  Output of each goes to
# build/test-out/<name>.log; failures are shown in full.
#
#   tests/run.sh [PATTERN]   only tests whose file name contains PATTERN
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/test-out"
mkdir -p "$out"
pattern=${1:-}

export APFLOW_TOP="$top"
export APFLOW_BIN="$top/build/asan/apflow"
export ASAN_OPTIONS="exitcode=99:detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="exitcode=99:print_stacktrace=1:halt_on_error=1"
# A sanitizer abort exits 99, so no test can mistake it for an expected failure.
export CMOCKA_MESSAGE_OUTPUT=TAP
export TEST_OUT="$out"

passed=0
failed=0
skipped=0
failed_names=()

run_one() {	# name, command...
	local name=$1; shift
	local log="$out/$name.log" rc p f k start
	mkdir -p "$(dirname "$log")"
	rm -f "$log"
	start=$(date +%s)
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	p=$(grep -cE '^ok( |$)' "$log")
	f=$(grep -cE '^not ok( |$)' "$log")
	# "ok N - what # SKIP why": not run here (fuzz targets without make fuzz).
	k=$(grep -cE '^ok .*# SKIP' "$log")
	p=$((p - k))
	# Sanitizer reports fail the test even when every assertion passed.
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
		echo "not ok - $name: sanitizer report (see $log)" >>"$log"
		f=$((f + 1))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc" >>"$log"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$k" -eq 0 ]; then
		echo "not ok - $name ran no test" >>"$log"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
	printf '%-44s %3d passed %3d failed  %3ds%s\n' "$name" "$p" "$f" $(( $(date +%s) - start )) \
		"$([ "$k" -gt 0 ] && echo "  ($k skipped: $(sed -n 's/^ok .*# SKIP //p' "$log" | head -1))")"
	if [ "$f" -ne 0 ]; then
		failed_names+=("$name")
		echo "---- $log"
		grep -vE '^ok( |$)' "$log" | tail -n 60
		echo "----"
	fi
}

for bin in "$top"/build/asan/tests/unit/test_*; do
	[ -x "$bin" ] || continue
	name=unit/$(basename "$bin")
	case "$name" in *"$pattern"*) ;; *) continue ;; esac
	run_one "$name" "$bin"
done

for script in "$top"/tests/cli/t*.sh "$top"/tests/http/t*.sh "$top"/tests/browser/t*.sh "$top"/tests/fuzz/t*.sh \
	"$top"/tests/hostile/t*.sh; do
	[ -f "$script" ] || continue
	name=$(basename "$(dirname "$script")")/$(basename "$script" .sh)
	case "$name" in *"$pattern"*) ;; *) continue ;; esac
	run_one "$name" bash "$script"
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
[ "$skipped" -gt 0 ] && echo "$skipped skipped (# SKIP lines in build/test-out)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && { [ "$passed" -gt 0 ] || [ "$skipped" -gt 0 ]; }
