#!/usr/bin/env bash
# The server's limits against hostile clients: out of file descriptors
# (ulimit -n 64 and 55 idle sockets: no spin, /healthz answers, the log
# stays small), slow heads (a total deadline), slow bodies (a minimum
# rate), a per-address cap, and the token rules (empty token, --open).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
slow="$APFLOW_TOP/tests/http/slow-client.js"
TOKEN=t0420-token-77c1

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init" "$APFLOW" init

start_server() {	# ulimit, args...; sets PORT, SRV_PID
	local nofile=$1; shift
	rm -f serve.log
	( ulimit -n "$nofile"; exec "$APFLOW" "$@" ) 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill $SRV_PID")
	serve_listening
}
stop_server() {
	kill -TERM "$SRV_PID"
	wait "$SRV_PID"
	local rc=$?
	sed 's/^/# server: /' serve.log | head -40
	return $rc
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
temps() { find data/tmp data/lake/.apflow-tmp-spool -type f 2>/dev/null; }

# ---- the token rules ----
t_rc 1 "an empty --upload-token is an error" "$APFLOW" serve --listen 127.0.0.1:0 --upload-token ""
t_match "... saying so" "upload token from flag --upload-token is empty" "$(cat "$T_ERR")"
APFLOW_UPLOAD_TOKEN= t_rc 1 "an empty APFLOW_UPLOAD_TOKEN is an error" "$APFLOW" serve --listen 127.0.0.1:0
t_match "... naming the variable" "APFLOW_UPLOAD_TOKEN is empty" "$(cat "$T_ERR")"
t_rc 2 "a non-loopback address without a token is refused" "$APFLOW" serve --listen 0.0.0.0:0
t_match "... saying how to mean it" "without an upload token.*--open" "$(cat "$T_ERR")"

# ---- out of file descriptors ----
start_server 64 --log-level debug serve --listen 127.0.0.1:0 --header-timeout 3
t_match "ulimit -n 64: the server starts and says how many connections it allows" \
	"64 file descriptors \(ulimit -n\) allow [0-9]+ connections" "$(cat serve.log)"
node "$slow" idle "$PORT" 55 8000 >idle.out &
idle_pid=$!
for _ in $(seq 100); do grep -q '^opened' idle.out && break; sleep 0.1; done
sleep 0.7 # older than a fresh connection, so their slots may be taken
c0=$(cpu_ticks "$SRV_PID")
ok=0
for i in 1 2 3; do
	read -r st ms < <(node "$slow" get "$PORT" /healthz)
	[ "$st" = 200 ] && [ "$ms" -lt 2000 ] && ok=$((ok + 1))
	sleep 0.3
done
t_eq "55 idle sockets on 64 descriptors: /healthz answers 200 within 2 s, 3 times" 3 "$ok"
sleep 1
c1=$(cpu_ticks "$SRV_PID")
t_ok "... and the server does not spin (used $((c1 - c0)) ticks of CPU in ~2.5 s)" test $((c1 - c0)) -lt 100
wait "$idle_pid"
t_match "every idle socket was closed: 503 past the cap, 408 at the head's deadline or when its slot was needed" \
	"^closed 55 of 55; answered:( (408|503))+$" "$(tail -1 idle.out)"
for i in 1 2 3 4 5 6 7 8; do mkpdf "u$i.pdf" 1 "fd limit $i"; done
curls=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS -m 20 -o "u$i.json" -w '%{http_code}\n' -F "file=@u$i.pdf" "http://127.0.0.1:$PORT/upload" >"u$i.code" &
	curls+=($!)
done
wait "${curls[@]}"
codes=$(cat u?.code | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
t_match "8 concurrent uploads on 64 descriptors: each stored (201) or refused with 503 ($codes)" \
	'^(201x[0-9]+ )?(503x[0-9]+ )?$' "$codes"
t_ok "... and at least 4 stored" test "$(cat u?.code | grep -c 201)" -ge 4
t_eq "... a refusal says why, as JSON" "" "$(for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "u$i.code")" = 503 ] && ! jq -e '.code == "EUNAVAIL"' "u$i.json" >/dev/null && echo "u$i"; done)"
t_ok "the debug log stays small ($(wc -c <serve.log) bytes)" test "$(wc -c <serve.log)" -lt 20000
stop_server
t_eq "the server stops cleanly" 0 "$?"

# ---- slow heads, slow bodies, one address ----
start_server 1024 serve --listen 127.0.0.1:0 --upload-token "$TOKEN" --header-timeout 2 --min-rate 2000 \
	--max-per-address 4
node "$slow" head "$PORT" 3 100 >head.out
t_eq "three heads trickled a byte per 100 ms: all answered 408" "408 408 408" "$(cut -d' ' -f1 head.out | tr '\n' ' ' | sed 's/ $//')"
t_ok "... at the 2 s deadline, not after each byte's timeout ($(cut -d' ' -f2 head.out | tr '\n' ' ')ms)" \
	awk '$2 < 1800 || $2 > 3500 { exit 1 }' head.out

read -r state ms sent < <(node "$slow" body "$PORT" "$TOKEN" 200)
t_eq "a body at 200 B/s (minimum 2000) is cut off" closed "$state"
t_ok "... soon after the head's 2 s ($ms ms, $sent bytes)" test "$ms" -lt 4500
sleep 0.3
t_eq "... and leaves no temp file" "" "$(temps)"

sleep 1.5 # the connections answered above have finished lingering
node "$slow" idle "$PORT" 10 1000 0 >peraddr.out
t_match "10 idle sockets from one address, 4 allowed: 6 refused at once with 503" \
	"^closed 6 of 10; answered: 503 503 503 503 503 503$" "$(tail -1 peraddr.out)"
read -r st ms < <(node "$slow" get "$PORT" /healthz)
t_eq "after all that /healthz answers" 200 "$st"
stop_server
t_eq "the server stops cleanly" 0 "$?"
t_nomatch "the token never appears in the log" "$TOKEN" "$(cat serve.log)"

t_done
