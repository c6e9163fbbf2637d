#!/usr/bin/env bash
# apflow serve --process with Argilla configured: the worker pushes after
# each merge (the core of `apflow push`), so uploads end up as records in
# Argilla and GET /api/documents/<id> says "pushed"; a push refused by the
# server leaves its documents "failed" and the next round pushes them.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"
export APFLOW_DATA_DIR=$T_DIR/data
DS=vessels_ocr_up
"$APFLOW_TOP/scripts/gen-sample.sh" "$T_DIR/sample" >/dev/null
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY

"$APFLOW" serve --listen 127.0.0.1:0 --process=$DS 2>serve.log &
SRV_PID=$!
T_CLEANUP+=("kill $SRV_PID")
serve_listening 200
up() { curl -sS -o /dev/null -w '%{http_code} ' -F "file=@$1" "$URL/upload"; }
stage() { curl -sS "$URL/api/documents/$1" | jq -r .stage; }
ids() { for f in "$@"; do sha256sum "$f" | cut -c1-20; done; }
wait_stage() {	# STAGE doc_ids...: until each is at STAGE (at most 40 s)
	local want=$1 id ok
	shift
	for _ in $(seq 400); do
		ok=1
		for id in "$@"; do [ "$(stage "$id")" = "$want" ] || { ok=0; break; }; done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
# The ids of the records in Argilla; those the documents' pages should
# have (the page count from the sample's text); those of the merged file.
fake_ids() { afake_records $DS | jq -r '.items[].external_id' | sort | tr '\n' ' '; }
want_ids() {
	local f n i
	for f in "$@"; do
		n=$(($(grep -c '^=== page ===$' "$APFLOW_TOP/examples/sample/text/$(basename "$f" .pdf).txt") + 1))
		for i in $(seq "$n"); do echo "$(ids "$f"):$i"; done
	done | sort | tr '\n' ' '
}
merged_ids() {
	echo "SELECT id FROM read_parquet('$T_DIR/data/lake/argilla/in/$DS/argilla_records.parquet') ORDER BY id;" |
		"$APFLOW" sql - --csv | tail -n +2 | sort | tr '\n' ' '
}

t_match "serve says it pushes" "processing uploads into dataset $DS, pushed to Argilla" "$(cat serve.log)"
first=("$T_DIR"/sample/0[1-4]-*.pdf)
t_eq "four uploads" "201 201 201 201 " "$(for f in "${first[@]}"; do up "$f"; done)"
t_ok "every document gets pushed" wait_stage pushed $(ids "${first[@]}")
t_eq "Argilla holds a record per page of the 4 documents" "$(want_ids "${first[@]}")" "$(fake_ids)"
t_eq "the records carry the rules' suggestions" "apflow-rules-v1" \
	"$(afake_records $DS | jq -r '[.items[].suggestions[].agent] | unique | join(",")')"
t_match "the log tells the push" "process: push '$DS': 6 records: [0-9]+ created, 0 updated, [0-9]+ unchanged, 0 failed" "$(cat serve.log)"

# Argilla refuses the next bulk request: the new document shows "failed".
actl _fault "type=reject&count=1&position=0&detail=test" >/dev/null
id7=$(ids "$T_DIR"/sample/07-*.pdf)
t_eq "one more upload" "201 " "$(up "$T_DIR"/sample/07-*.pdf)"
t_ok "a refused push leaves it failed" wait_stage failed "$id7"
t_match "the log says why" "process: push of dataset '$DS' failed \(again in 30 s\): .*test" "$(cat serve.log)"
t_eq "the earlier documents stay pushed" pushed "$(stage "$(ids "${first[0]}")")"
# The next upload's round pushes both.
id8=$(ids "$T_DIR"/sample/08-*.pdf)
t_eq "another upload" "201 " "$(up "$T_DIR"/sample/08-*.pdf)"
t_ok "both are pushed by the next round" wait_stage pushed "$id7" "$id8"
t_eq "Argilla holds every page once" "$(want_ids "${first[@]}" "$T_DIR"/sample/0[78]-*.pdf)" "$(fake_ids)"
t_eq "9 records" 9 "$(fake_ids | wc -w)"
kill -TERM $SRV_PID
wait $SRV_PID 2>/dev/null
t_eq "they are the merged file's records" "$(merged_ids)" "$(fake_ids)"
t_eq "one warning: the refused push" 1 "$(grep -c 'warn' serve.log)"
t_eq "no push scratch left, refused push included" "" "$(ls -A "$APFLOW_DATA_DIR/tmp" 2>/dev/null | grep apflow-ds-)"
t_done
