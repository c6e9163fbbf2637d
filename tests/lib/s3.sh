# tests/lib/s3.sh: an S3 endpoint for tests, sourced after tests/lib.sh.
#
# s3rver (npm) keeps the objects; tests/fakes/s3proxy.js sits in front of
# it, verifies every SigV4 signature and payload hash with the secret, and
# can inject faults.  apflow talks to the proxy only.  Both listen on
# 127.0.0.1 on free ports and stop when the test script exits.
#
#   s3_start [BUCKET]     starts both, waits until they accept connections,
#                         exports AWS_* and APFLOW_STORE=s3://BUCKET
#   s3_kill               kills both at once (SIGKILL), as a crash would
#   s3_restart            starts both again on the same ports and data
#   s3_fault QUERY        arms a proxy fault, e.g. 'type=status&status=503&count=2'
#   s3_reset_faults       drops armed faults
#   s3_pending_uploads    prints how many multipart uploads are pending
#   s3_log_count REGEX    prints how many proxy log lines match REGEX
#
# The secret and the session token ($S3_TOKEN, accepted when a request
# carries one) are random per run, so that a test can grep every output for
# them.
S3_NODE_MODULES=$APFLOW_TOP/third_party/npm/node_modules
S3_FAKES=$APFLOW_TOP/tests/fakes
S3_BASE=$T_DIR/.s3
S3_DIR=$S3_BASE/data
S3_LOG=$S3_BASE/requests.log
S3_SERVER_PID=
S3_PROXY_PID=
S3_SERVER_PORT=0
S3_PROXY_PORT=0
# libcurl honours proxy variables: keep the loopback traffic direct.
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

_s3_wait_port() {	# file pid: waits for the port file, prints the port
	local i
	for i in $(seq 1 200); do
		if [ -s "$1" ]; then
			cat "$1"
			return 0
		fi
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	echo "s3.sh: server did not start; its log:" >&2
	cat "$S3_BASE"/*.out >&2
	return 1
}

_s3_launch() {
	rm -f "$S3_BASE/server.port" "$S3_BASE/proxy.port"
	node "$S3_FAKES/s3server.js" --dir "$S3_DIR" --bucket "$S3_BUCKET" --port "$S3_SERVER_PORT" \
		--port-file "$S3_BASE/server.port" >>"$S3_BASE/server.out" 2>&1 &
	S3_SERVER_PID=$!
	S3_SERVER_PORT=$(_s3_wait_port "$S3_BASE/server.port" "$S3_SERVER_PID") || return 1
	S3PROXY_ACCESS_KEY_ID=$S3_ACCESS_KEY S3PROXY_SECRET_ACCESS_KEY=$S3_SECRET S3PROXY_SESSION_TOKEN=$S3_TOKEN \
		node "$S3_FAKES/s3proxy.js" --upstream-port "$S3_SERVER_PORT" --port "$S3_PROXY_PORT" \
		--port-file "$S3_BASE/proxy.port" --log "$S3_LOG" --s3-dir "$S3_DIR" \
		--spool-dir "$S3_BASE/spool" >>"$S3_BASE/proxy.out" 2>&1 &
	S3_PROXY_PID=$!
	S3_PROXY_PORT=$(_s3_wait_port "$S3_BASE/proxy.port" "$S3_PROXY_PID") || return 1
}

s3_start() {
	S3_BUCKET=${1:-apflow-test}
	mkdir -p "$S3_DIR"
	: >"$S3_LOG"
	S3_ACCESS_KEY=AKIAAPFLOWTEST$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
	S3_SECRET=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	S3_TOKEN=token$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')	# valid with the keys, for temporary-credential tests
	T_CLEANUP+=("s3_stop")
	_s3_launch || return 1
	export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PROXY_PORT APFLOW_STORE=s3://$S3_BUCKET
	S3_CONTROL=http://127.0.0.1:$S3_PROXY_PORT/__control
}

s3_kill() {
	local p
	for p in $S3_PROXY_PID $S3_SERVER_PID; do kill -9 "$p" 2>/dev/null; done
	for p in $S3_PROXY_PID $S3_SERVER_PID; do wait "$p" 2>/dev/null; done
	S3_PROXY_PID= S3_SERVER_PID=
}

s3_restart() {
	s3_kill
	_s3_launch
}

s3_stop() {
	local p
	for p in $S3_PROXY_PID $S3_SERVER_PID; do kill "$p" 2>/dev/null; done
	for p in $S3_PROXY_PID $S3_SERVER_PID; do wait "$p" 2>/dev/null; done
	S3_PROXY_PID= S3_SERVER_PID=
}

s3_fault() { curl -fsS -X POST "$S3_CONTROL/fault?$1" >/dev/null; }
s3_reset_faults() { curl -fsS -X POST "$S3_CONTROL/reset" >/dev/null; }
s3_pending_uploads() { curl -fsS "$S3_CONTROL/uploads"; }
s3_log_count() { grep -cE -- "$1" "$S3_LOG"; }
