#!/usr/bin/env bash
# Faults under `apflow serve`: kill -9 during 16 concurrent uploads then a
# restart; a full disk during an upload; a foreign process holding the
# warehouse.  Each ends with a clear answer, nothing half-written, and a
# next run that completes.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
client="$APFLOW_TOP/tests/http/upload-client.js"
TOKEN=t0430-token-0b3d

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init" "$APFLOW" init

start_server() {	# args...; sets PORT, SRV_PID, URL
	rm -f serve.log
	"$APFLOW" "$@" serve --listen 127.0.0.1:0 --upload-token "$TOKEN" 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill -9 $SRV_PID")
	serve_listening
}
stop_server() {
	kill -TERM "$SRV_PID"
	wait "$SRV_PID"
	local rc=$?
	sed 's/^/# server: /' serve.log | head -30
	return $rc
}
up() {	# OUT FILE: raw upload, prints the status
	curl -sS -o "$1" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/pdf' \
		--data-binary @"$2" "$URL/upload"
}
doc() {	# DOC_ID: prints "STATUS UPLOADS"
	local code
	code=$(curl -sS -o doc.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/documents/$1")
	echo "$code $(jq -r '.uploads // 0' doc.json 2>/dev/null)"
}
sha20() { sha256sum "$1" | cut -c1-20; }
temps() { find "${1:-data}" -path '*tmp*' -type f 2>/dev/null; }

# ---- kill -9 during 16 concurrent uploads ----
for i in $(seq 16); do mkpdf_pad "k$i.pdf" 48 "killed $i"; done
start_server
files=()
for i in $(seq 16); do files+=("k$i.pdf"); done
# One client, 16 connections; the i-th upload is spread over i*250 ms.  The
# server is killed once three have been answered.
node "$client" many "$PORT" "$TOKEN" 250 "${files[@]}" >many.out 2>/dev/null &
many_pid=$!
for _ in $(seq 300); do
	[ "$(grep -c ' 201$' many.out)" -ge 3 ] && break
	sleep 0.05
done
kill -9 "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
wait "$many_pid"
answered=() unanswered=()
for i in $(seq 16); do
	if grep -q "^$i 201$" many.out; then answered+=("$i"); else unanswered+=("$i"); fi
done
echo "# answered: ${answered[*]}; unanswered: ${unanswered[*]}"
t_ok "the kill came mid-flight (${#answered[@]} of 16 answered)" test "${#answered[@]}" -ge 1 -a "${#unanswered[@]}" -ge 1
start_server
t_eq "after a restart no temp or spool file is left" "" "$(temps)"
ok=0
for i in "${answered[@]}"; do
	id=$(sha20 "k$i.pdf")
	[ -f "data/lake/raw/$id.pdf" ] && cmp -s "k$i.pdf" "data/lake/raw/$id.pdf" && [ "$(doc "$id")" = "200 1" ] && ok=$((ok + 1))
done
t_eq "every answered upload has its object, byte for byte, and one upload row" "${#answered[@]}" "$ok"
twice=0
for i in "${unanswered[@]}"; do
	read -r code n < <(doc "$(sha20 "k$i.pdf")")
	[ "$code" = 200 ] && [ "$n" -gt 1 ] && twice=$((twice + 1))
done
t_eq "no unanswered upload is recorded twice" 0 "$twice"
# The restart reconciled store and warehouse: an object the kill left
# without its row has it now.
rows=0 objs=0
for i in $(seq 16); do
	id=$(sha20 "k$i.pdf")
	[ -f "data/lake/raw/$id.pdf" ] || continue
	objs=$((objs + 1))
	[ "$(doc "$id" | cut -d' ' -f1)" = 200 ] && rows=$((rows + 1))
done
t_eq "after the restart every object in raw/ has its row ($objs objects)" "$objs" "$rows"
ok=0
for i in $(seq 16); do
	code=$(up r.json "k$i.pdf")
	[ "$code" = 201 ] || [ "$code" = 200 ] && ok=$((ok + 1))
done
t_eq "the next run takes all 16 again" 16 "$ok"
rows=0
for i in $(seq 16); do
	id=$(sha20 "k$i.pdf")
	[ -f "data/lake/raw/$id.pdf" ] && [ "$(doc "$id" | cut -d' ' -f1)" = 200 ] && rows=$((rows + 1))
done
t_eq "then all 16 have their object and their row" 16 "$rows"
stop_server
t_eq "the server stops cleanly" 0 "$?"

# ---- a full disk during an upload ----
mkpdf_pad big.pdf 3072 "too big for the disk"
mkdir -p small
if mount -t tmpfs -o size=2m tmpfs small 2>/dev/null; then
	T_CLEANUP=("umount '$T_DIR/small'" "${T_CLEANUP[@]}")
	how="a 2 MiB tmpfs"
	start_server -c "store=file://$T_DIR/small/lake"
	lake=small/lake
else
	# Not root: the same through RLIMIT_FSIZE (the server ignores SIGXFSZ).
	how="ulimit -f 2048"
	rm -f serve.log
	( ulimit -f 2048; exec "$APFLOW" serve --listen 127.0.0.1:0 --upload-token "$TOKEN" ) 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill -9 $SRV_PID")
	serve_listening
	lake=data/lake
fi
code=$(up full.json big.pdf)
t_eq "a 3 MiB upload on a full disk ($how): 500" 500 "$code"
t_eq "... EIO" EIO "$(jq -r .code full.json)"
t_match "... saying why" "(No space left on device|File too large)" "$(jq -r .error full.json)"
t_eq "... nothing half-written in the store" "" "$(find "$lake" -name '*.pdf' -path '*raw*')"
t_eq "... no temp file left" "" "$(temps "$lake"; temps data)"
t_eq "... no row" "404 0" "$(doc "$(sha20 big.pdf)")"
t_ok "the server goes on: a small upload still works" test "$(up ok.json k1.pdf)" = 200
stop_server
if [ "$how" = "a 2 MiB tmpfs" ]; then
	mount -o remount,size=16m small
	start_server -c "store=file://$T_DIR/small/lake"
else
	start_server
fi
t_eq "with room again, the next run stores it: 201" 201 "$(up again.json big.pdf)"
t_ok "... byte for byte" cmp big.pdf "$lake/raw/$(sha20 big.pdf).pdf"
stop_server

# ---- a foreign process holds the warehouse ----
mkfifo hold.fifo
cat >hold.sql <<'SQL'
COPY (SELECT 1 AS ready) TO 'ready.csv';
SELECT count(*) AS lines FROM read_csv('hold.fifo', header = false, columns = {'line': 'VARCHAR'});
SQL
"$APFLOW" sql --csv hold.sql >holder.out 2>holder.err &
holder=$!
T_CLEANUP+=("kill $holder")
for _ in $(seq 200); do [ -f ready.csv ] && break; sleep 0.05; done
t_ok "the holder has the warehouse open" test -f ready.csv
start_server -c lock_timeout=1
mkpdf locked.pdf 1 "while locked"
start=$(date +%s%N)
code=$(up locked.json locked.pdf)
ms=$((($(date +%s%N) - start) / 1000000))
t_eq "an upload while another process holds the warehouse: 503" 503 "$code"
t_eq "... ELOCKED" ELOCKED "$(jq -r .code locked.json)"
t_eq "... in general terms" "the warehouse is busy (locked by another apflow process); retry later" \
	"$(jq -r .error locked.json)"
t_eq "... no path, no PID in the reply" "" "$(jq -r .error locked.json | grep -oE "/|PID|[0-9]")"
t_match "... while the log names the lock" "upload from 127.0.0.1 refused: ELOCKED: .*still locked after 1\.0 s: .*Conflicting lock is held" "$(cat serve.log)"
t_ok "... within lock_timeout (1 s; took $ms ms)" test "$ms" -ge 900 -a "$ms" -lt 4000
code=$(curl -sS -o hz.json -w '%{http_code}' "$URL/healthz")
t_eq "/healthz says 503 meanwhile" 503 "$code"
t_eq "... with only a status" '{"error":"the warehouse is unavailable","code":"EUNAVAIL"}' "$(cat hz.json)"
t_match "... while the log names the lock" "healthz: warehouse: .*Conflicting lock is held" "$(cat serve.log)"
timeout 10 sh -c 'echo go >hold.fifo'
wait "$holder"
t_eq "the holder finished" 0 "$?"
code=$(up locked2.json locked.pdf)
t_ok "once it is free, the upload goes in ($code)" test "$code" = 201 -o "$code" = 200
code=$(curl -sS -o hz.json -w '%{http_code}' "$URL/healthz")
t_eq "/healthz is 200 again" 200 "$code"
stop_server
t_eq "the server stops cleanly" 0 "$?"

t_done
