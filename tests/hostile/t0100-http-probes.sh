#!/usr/bin/env bash
# The hostile suite, HTTP part: some 400 generated requests against one
# server (http-probes.js: malformed heads, framing, paths, tokens, methods,
# content types, multipart abuse, filenames, queries, sizes, heads that
# never end).  Each must end within its bound with the right status and,
# for an error, JSON whose status is the error table's.  Afterwards the
# server still answers, left no temp file, its log stayed small, and the
# store and the warehouse agree.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
TOKEN=hostile-token-3e9a
HT=2

export APFLOW_DATA_DIR=$T_DIR/data
"$APFLOW" init >/dev/null 2>&1 || { echo "not ok 1 - apflow init"; exit 1; }
mkpdf probe.pdf 1 "hostile probe"

"$APFLOW" serve --listen 127.0.0.1:0 --upload-token "$TOKEN" --max-upload-mb 1 --header-timeout $HT \
	--idle-timeout $HT 2>serve.log &
SRV_PID=$!
T_CLEANUP+=("kill -9 $SRV_PID")
serve_listening

start=$(date +%s)
timeout 300 node "$APFLOW_TOP/tests/hostile/http-probes.js" "$PORT" "$TOKEN" probe.pdf \
	"$APFLOW_TOP/include/apflow/err.h" $HT >probes.out
cat probes.out
secs=$(($(date +%s) - start))
# The probes' own lines count as this script's tests.
T_NUM=$(grep -cE '^(not )?ok ' probes.out)
T_FAILED=$(grep -c '^not ok ' probes.out)
t_ok "at least 400 probes ran ($T_NUM)" test "$T_NUM" -ge 400
t_ok "... in under 2 minutes (${secs} s)" test "$secs" -lt 120

code=$(curl -sS -m 5 -o h.json -w '%{http_code}' "$URL/healthz")
t_eq "the server still answers /healthz" 200 "$code"
t_eq "no temp or spool file is left" "" "$(find data -path '*tmp*' -type f)"
t_ok "the log stayed small ($(wc -c <serve.log) bytes)" test "$(wc -c <serve.log)" -lt 100000
t_nomatch "the token never appears in the log" "$TOKEN" "$(cat serve.log)"
kill -TERM "$SRV_PID"
wait "$SRV_PID"
t_eq "the server stops cleanly" 0 "$?"
grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' serve.log | head -20 | sed 's/^/# server: /'
t_nomatch "no sanitizer report from the server" 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$(cat serve.log)"

echo "SELECT doc_id FROM md_raw_ocr.main.documents ORDER BY 1" >docs.sql
"$APFLOW" sql --csv docs.sql | tail -n +2 >rows.txt
ls data/lake/raw 2>/dev/null | sed 's/\.pdf$//' | sort >objects.txt
t_eq "store and warehouse agree: a row for every object, an object for every row" "$(cat objects.txt)" "$(cat rows.txt)"
t_ok "... and the probes stored something ($(wc -l <objects.txt) documents)" test "$(wc -l <objects.txt)" -ge 2
t_done
