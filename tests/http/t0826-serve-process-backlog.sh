#!/usr/bin/env bash
# apflow serve --process with 20,000 documents in the warehouse: the first
# round reads the whole documents table once; every later round (every
# 500 ms) reads only the rows added since, so a new upload is found and
# merged, and the rounds in between cost a count and an empty range scan
# (the worker's log at stop counts its rounds and its whole-table reads).
# The 20,000 rows go in by `apflow sql`, each with an OCR failure, so they
# are read documents with no text: nothing to OCR, export or merge.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
export APFLOW_DATA_DIR=$T_DIR/data
DS=vessels_ocr_backlog
N=20000

start_server() {
	rm -f serve.log
	"$APFLOW" serve --listen 127.0.0.1:0 "$@" 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill $SRV_PID")
	serve_listening 200
}
stop_server() { kill -TERM $SRV_PID; wait $SRV_PID 2>/dev/null; }
stage() { curl -sS "$URL/api/documents/$1" | jq -r .stage; }
wait_stage() {	# doc_id stage: until the document is at stage (at most 60 s)
	local end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		[ "$(stage "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
sql() { echo "$1" | "$APFLOW" sql - --csv | tail -1 | tr -d '\r'; }

t_ok "init" "$APFLOW" init
cat >backlog.sql <<EOF
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages, uploaded_at)
SELECT printf('%020x', i), printf('%064x', i), 'backlog-' || i || '.pdf', 1000, 1,
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_microseconds(i)
FROM range($N) t(i);
INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, engine, error)
SELECT printf('%020x', i), NULL, 1, 'mupdf', 'backlog row made by the test' FROM range($N) t(i);
EOF
t_ok "$N documents rows, each read (an OCR failure)" "$APFLOW" sql backlog.sql
t_eq "the warehouse holds them" "$N" "$(sql "SELECT count(*) FROM md_raw_ocr.main.documents")"

start_server --process=$DS
first=$(printf '%020x' 0) last=$(printf '%020x' $((N - 1)))
t_ok "the first round seeds every old document as merged" wait_stage "$last" merged
t_eq "the first one too" merged "$(stage "$first")"

mkpdf new.pdf 2 "backlog upload"
id=$(sha256sum new.pdf | cut -c1-20)
t_eq "an upload" 201 "$(curl -sS -o /dev/null -w '%{http_code}' -F "file=@new.pdf" "$URL/upload")"
t_ok "a later round finds it and takes it to merged" wait_stage "$id" merged
sleep 1.5 # a few idle rounds
stop_server

log=$(cat serve.log)
t_match "one OCR run, of the new document only" "process: ocr run [0-9]+: 1 documents, 2 pages, 0 failed" "$log"
t_eq "no other OCR run" 1 "$(grep -c 'process: ocr run' serve.log)"
rounds=$(sed -n 's/.*process: \([0-9]*\) rounds, .*/\1/p' serve.log)
t_ok "several rounds ran ($rounds)" test "${rounds:-0}" -ge 4
t_match "only the first read the whole table, which ends with $((N + 1)) documents" \
	"process: [0-9]+ rounds, 1 of them reading the whole documents table \($((N + 1)) documents\)" "$log"
t_eq "the new document's pages are in the warehouse" 2 \
	"$(sql "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = '$id'")"
t_eq "the merged file holds its pages only" 2 \
	"$(sql "SELECT count(*) FROM read_parquet('$T_DIR/data/lake/argilla/in/$DS/argilla_records.parquet')")"
t_nomatch "no warning in the server log" "warn|error" "$log"
t_done
