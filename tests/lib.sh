# tests/lib.sh: sourced by every shell test.  It makes a private temporary
# directory, cds into it, and offers TAP assertions.  Tests use $APFLOW (the
# sanitizer build) and never touch the network beyond 127.0.0.1.
#
#   t_ok DESC CMD...          passes when CMD exits 0
#   t_rc RC DESC CMD...       passes when CMD exits RC (stdout/stderr kept in $T_OUT/$T_ERR)
#   t_eq DESC EXPECTED ACTUAL passes when the strings are equal
#   t_match DESC REGEX TEXT   passes when TEXT matches the extended REGEX
#   t_nomatch DESC REGEX TEXT passes when it does not
#   t_skip DESC REASON        a TAP skip ("ok N - DESC # SKIP REASON"): the check cannot run here
#   t_done                    prints the plan; exit status says whether all passed
#   t_free_port               prints a free TCP port on 127.0.0.1
set -u
: "${APFLOW_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${APFLOW_BIN:=$APFLOW_TOP/build/asan/apflow}"
APFLOW=$APFLOW_BIN
T_NUM=0
T_FAILED=0
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/apflow-test.XXXXXX")
T_OUT=$T_DIR/.stdout
T_ERR=$T_DIR/.stderr
T_CLEANUP=()
_t_cleanup() {
	local c
	for c in "${T_CLEANUP[@]+"${T_CLEANUP[@]}"}"; do eval "$c" >/dev/null 2>&1; done
	rm -rf "$T_DIR"
}
trap _t_cleanup EXIT
trap 'exit 130' INT TERM
cd "$T_DIR" || exit 1
# A clean environment: no setting leaks in from the developer's shell.
unset APFLOW_CONFIG APFLOW_STORE APFLOW_DATA_DIR APFLOW_WAREHOUSE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
	AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL motherduck_token MOTHERDUCK_TOKEN \
	ARGILLA_API_URL ARGILLA_API_KEY APFLOW_UPLOAD_TOKEN

_t_report() {	# status desc
	T_NUM=$((T_NUM + 1))
	# A sanitizer report on the command's stderr fails the check whatever it exited with.
	if [ -s "$T_ERR" ] && grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T_ERR"; then
		echo "# sanitizer report:"; sed 's/^/#   /' "$T_ERR" | head -40
		set -- 1 "$2"
		: >"$T_ERR"
	fi
	if [ "$1" -eq 0 ]; then
		echo "ok $T_NUM - $2"
	else
		echo "not ok $T_NUM - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

t_ok() {
	local desc=$1; shift
	"$@" >"$T_OUT" 2>"$T_ERR"
	local rc=$?
	_t_report $rc "$desc"
	if [ $rc -ne 0 ]; then
		echo "# command: $*"; echo "# exit $rc"; sed 's/^/# stdout: /' "$T_OUT" | head -20; sed 's/^/# stderr: /' "$T_ERR" | head -20
	fi
	return $rc
}

t_rc() {
	local want=$1 desc=$2; shift 2
	"$@" >"$T_OUT" 2>"$T_ERR"
	local rc=$?
	[ "$rc" -eq "$want" ]
	_t_report $? "$desc"
	if [ "$rc" -ne "$want" ]; then
		echo "# command: $*"; echo "# exit $rc, expected $want"; sed 's/^/# stdout: /' "$T_OUT" | head -20; sed 's/^/# stderr: /' "$T_ERR" | head -20
	fi
	return 0
}

t_eq() {
	[ "$2" = "$3" ]
	local rc=$?
	_t_report $rc "$1"
	[ $rc -eq 0 ] || { echo "# expected: $2"; echo "# actual:   $3"; }
	return 0
}

t_match() {
	printf '%s' "$3" | grep -qE -- "$2"
	local rc=$?
	_t_report $rc "$1"
	[ $rc -eq 0 ] || { echo "# pattern: $2"; printf '%s\n' "$3" | head -20 | sed 's/^/# text: /'; }
	return 0
}

t_nomatch() {
	! printf '%s' "$3" | grep -qE -- "$2"
	local rc=$?
	_t_report $rc "$1"
	[ $rc -eq 0 ] || { echo "# pattern should not match: $2"; printf '%s\n' "$3" | grep -E -- "$2" | head -5 | sed 's/^/# text: /'; }
	return 0
}

t_skip() {
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM - $1 # SKIP $2"
}

t_free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

t_done() {
	echo "1..$T_NUM"
	[ $T_FAILED -eq 0 ]
}
