#!/usr/bin/env bash
# apflow serve --process: uploads go through ocr -> export -> preannotate
# -> merge by themselves while more uploads come; GET /api/documents/<id>
# shows each document's stage; another apflow process gets the warehouse
# meanwhile; a restart goes on without redoing or duplicating anything.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
export APFLOW_DATA_DIR=$T_DIR/data
DS=vessels_ocr_up
"$APFLOW_TOP/scripts/gen-sample.sh" "$T_DIR/sample" >/dev/null

start_server() {
	rm -f serve.log
	"$APFLOW" serve --listen 127.0.0.1:0 "$@" 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill $SRV_PID")
	serve_listening 200
}
stop_server() { kill -TERM $SRV_PID; wait $SRV_PID 2>/dev/null; }
up() { curl -sS -o /dev/null -w '%{http_code} ' -F "file=@$1" "$URL/upload"; }
stage() { curl -sS "$URL/api/documents/$1" | jq -r .stage; }
wait_merged() {	# doc_ids...: until each is merged (at most 60 s, however slow the replies)
	local id ok end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		ok=1
		for id in "$@"; do [ "$(stage "$id")" = merged ] || { ok=0; break; }; done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
ids() { for f in "$@"; do sha256sum "$f" | cut -c1-20; done; }

t_rc 2 "a bad dataset in --process is refused" "$APFLOW" serve --listen 127.0.0.1:0 --process=Bad-Name
t_match "says so" "setting process: bad dataset name 'Bad-Name'" "$(cat "$T_ERR")"

start_server --process=$DS
t_match "serve says it processes" "processing uploads into dataset $DS" "$(cat serve.log)"
first=("$T_DIR"/sample/0[1-6]-*.pdf)
t_eq "six uploads" "201 201 201 201 201 201 " "$(for f in "${first[@]}"; do up "$f"; done)"
id1=$(ids "${first[0]}")
st=$(stage "$id1")
t_match "a fresh upload has a stage" "^(uploaded|ocr|export|preannotate|merge|merged)$" "$st"
# more uploads while the worker works on the first ones
rest=("$T_DIR"/sample/0[7-9]-*.pdf "$T_DIR"/sample/1[0-2]-*.pdf)
t_eq "six more uploads meanwhile" "201 201 201 201 201 201 " "$(for f in "${rest[@]}"; do up "$f"; done)"
t_ok "every document gets merged" wait_merged $(ids "${first[@]}" "${rest[@]}")
t_eq "stage of the scanned notice" merged "$(stage "$(ids "$T_DIR"/sample/10-*.pdf)")"
t_match "the upload page follows each document's stage" 'watchStage\(job, body.doc_id, 0\).*|"/api/documents/" \+ encodeURIComponent\(id\)' "$(curl -sS "$URL/")"
t_eq "ocr state in the API" done "$(curl -sS "$URL/api/documents/$id1" | jq -r .ocr.state)"
# another process asks for the warehouse while the server runs
t_ok "apflow status while the server runs" "$APFLOW" status --dataset $DS
t_match "status: 12 documents read" "^ocr +documents +12 +0 +0 " "$(cat "$T_OUT")"
t_match "status: 15 pages merged" "^merge +pages +15 +0 " "$(cat "$T_OUT")"
stop_server
t_eq "one OCR run per round, no page twice" "15 15" \
	"$(echo "SELECT count(*), count(DISTINCT (doc_id, page_num)) FROM md_raw_ocr.main.pages;" | "$APFLOW" sql - --csv | tail -1 | tr , ' ')"
t_eq "the merged file holds the 15 pages" 15 \
	"$(echo "SELECT count(*) FROM read_parquet('$T_DIR/data/lake/argilla/in/$DS/argilla_records.parquet');" | "$APFLOW" sql - --csv | tail -1)"

# A restart: nothing pending, the documents read before show as merged.
start_server --process=$DS
t_ok "after a restart the old documents are merged" wait_merged "$id1"
stop_server
t_eq "no new OCR run after the restart" 15 \
	"$(echo "SELECT count(*) FROM md_raw_ocr.main.pages;" | "$APFLOW" sql - --csv | tail -1)"
t_nomatch "no warning in the server log" "warn|error" "$(cat serve.log)"
t_done
