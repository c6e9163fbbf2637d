#!/usr/bin/env bash
# apflow push -> two annotators respond on the fake Argilla (text with
# accents, combining marks, CJK and emoji) -> apflow pull: the Parquet holds
# exactly the submitted spans, users and statuses; discarded and draft
# responses as the SDK export has them; a second push changes nothing;
# changed text is refused, then replaced with --replace-changed.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY
q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --json | jq -r '.[] | to_entries[0].value | tostring'
}

# Page 1: "MV Ærø Star 🚢 arrived at 東京港 on 2024-01-05" (42 code points, 60 bytes)
# Page 2: "Café Line operates IMO 9074729" with e + U+0301 (31 code points)
# Page 3: no suggestion at all
P1='MV Ærø Star 🚢 arrived at 東京港 on 2024-01-05'
P2=$'Cafe\u0301 Line operates IMO 9074729'
cat >in.jsonl <<EOF
{"doc_id":"docA","page_num":1,"text":"$P1","suggestions_json":"[{\"question_name\":\"entities\",\"value\":[{\"start\":3,\"end\":11,\"label\":\"VESSEL_NAME\"},{\"start\":25,\"end\":28,\"label\":\"PORT\"}],\"score\":0.9,\"agent\":\"apflow-rules-v1\",\"type\":\"model\"},{\"question_name\":\"entities\",\"value\":[{\"start\":3,\"end\":11,\"label\":\"VESSEL_NAME\"},{\"start\":32,\"end\":42,\"label\":\"DATE\"}],\"score\":[0.75,0.5],\"agent\":\"ollama-llama3.3-70b\",\"type\":\"model\"}]"}
{"doc_id":"docA","page_num":2,"text":"$P2","suggestions_json":"[{\"question_name\":\"entities\",\"value\":[{\"start\":20,\"end\":31,\"label\":\"IMO_NUMBER\"}],\"score\":[0.99],\"agent\":\"apflow-rules-v1\",\"type\":\"model\"}]"}
{"doc_id":"docB","page_num":1,"text":"No entities here.","suggestions_json":null}
EOF
t_ok "test input written" records_from_jsonl in.jsonl recs.parquet

# --- push ---
t_rc 0 "push: exit 0" "$APFLOW" push --dataset vessels_ocr_7 --parquet recs.parquet
t_match "push: summary" "^push 'vessels_ocr_7': 3 records: 3 created, 0 updated, 0 unchanged, 0 failed in" "$(cat "$T_OUT")"
t_match "push: says it created the dataset" "created Argilla dataset 'vessels_ocr_7' in workspace 'argilla'" "$(cat "$T_ERR")"
afake_records vessels_ocr_7 >fake.json
t_eq "dataset published with 3 records" "ready 3" "$(jq -r '"\(.dataset.status) \(.count)"' fake.json)"
ds_id=$(jq -r .dataset.id fake.json)
hdr=(-H "X-Argilla-Api-Key: $AKEY")
t_eq "span question: 10 labels, no overlaps, on field text" "span text false 10 VESSEL_NAME" \
	"$(curl -sS "${hdr[@]}" "$AURL/api/v1/datasets/$ds_id/questions" | jq -r '.items[0].settings | "\(.type) \(.field) \(.allow_overlapping) \(.options|length) \(.options[0].value)"')"
t_eq "metadata properties" "agreement:float doc_id:terms engine:terms labelset_version:terms min_score:float n_spans:integer page_num:integer source:terms text_sha256:terms" \
	"$(curl -sS "${hdr[@]}" "$AURL/api/v1/me/datasets/$ds_id/metadata-properties" | jq -r '[.items[] | "\(.name):\(.settings.type)"] | sort | join(" ")')"
t_eq "record docA:1: merged suggestion of both agents, scores per span" \
	'[{"label":"VESSEL_NAME","start":3,"end":11},{"label":"PORT","start":25,"end":28},{"label":"DATE","start":32,"end":42}] [0.9,0.9,0.5] apflow-rules-v1/ollama-llama3.3-70b model' \
	"$(jq -c -r '.items[] | select(.external_id=="docA:1") | .suggestions[0] | "\(.value|tojson) \(.score|tojson) \(.agent) \(.type)"' fake.json)"
t_eq "record docA:1: annotate-first metadata (F1 of {V,P} vs {V,D} = 0.5)" '{"agreement":0.5,"min_score":0.5,"n_spans":3,"page_num":1}' \
	"$(jq -c '.items[] | select(.external_id=="docA:1") | .metadata | {agreement, min_score, n_spans, page_num}' fake.json)"
t_eq "record docB:1: no suggestion, agreement 1.0, min_score null" '[] 1 null 0' \
	"$(jq -c -r '.items[] | select(.external_id=="docB:1") | "\(.suggestions|tojson) \(.metadata.agreement) \(.metadata.min_score) \(.metadata.n_spans)"' fake.json)"
t_eq "float metadata sent as floats (1.0, not 1)" '"agreement":1.0' \
	"$(curl -sS "${hdr[@]}" "$AURL/api/v1/datasets/$ds_id/records?limit=10" | grep -o '"agreement":1[.0-9]*' | sort -u)"

t_rc 0 "second push: exit 0" "$APFLOW" push --dataset vessels_ocr_7 --parquet recs.parquet
t_match "second push changes nothing" "3 records: 0 created, 0 updated, 3 unchanged, 0 failed" "$(cat "$T_OUT")"

# --- two annotators ---
u1=$(curl -sS -X POST "$AURL/_users" -d '{"username":"ann.one","role":"annotator","api_key":"key-ann-1"}' | jq -r .id)
u2=$(curl -sS -X POST "$AURL/_users" -d '{"username":"ann.two","role":"annotator","api_key":"key-ann-2"}' | jq -r .id)
rid() { jq -r --arg e "$1" '.items[] | select(.external_id==$e) | .id' fake.json; }
respond() {	# key record-external-id body -> http code
	curl -sS -o resp.json -w '%{http_code}' -X POST -H "X-Argilla-Api-Key: $1" -H 'Content-Type: application/json' \
		"$AURL/api/v1/records/$(rid "$2")/responses" -d "$3"
}
t_eq "ann.one submits docA:1 (3 spans)" 201 "$(respond key-ann-1 docA:1 '{"status":"submitted","values":{"entities":{"value":[{"label":"VESSEL_NAME","start":3,"end":11},{"label":"PORT","start":25,"end":28},{"label":"DATE","start":32,"end":42}]}}}')"
t_eq "ann.two submits docA:1 (other spans)" 201 "$(respond key-ann-2 docA:1 '{"status":"submitted","values":{"entities":{"value":[{"label":"VESSEL_NAME","start":3,"end":6},{"label":"PORT","start":25,"end":27}]}}}')"
t_eq "ann.one discards docA:2 without values" 201 "$(respond key-ann-1 docA:2 '{"status":"discarded"}')"
t_eq "ann.two leaves a draft on docA:2" 201 "$(respond key-ann-2 docA:2 '{"status":"draft","values":{"entities":{"value":[{"label":"ORGANIZATION","start":0,"end":10}]}}}')"
t_eq "ann.one submits docB:1 with no entity" 201 "$(respond key-ann-1 docB:1 '{"status":"submitted","values":{"entities":{"value":[]}}}')"
# The fake checks spans in code points, as the server does.
t_eq "fake: end past the text (43 > 42 code points) is 422" 422 "$(respond key-ann-2 docB:1 '{"status":"submitted","values":{"entities":{"value":[{"label":"DATE","start":0,"end":43}]}}}')"
t_match "fake: the server's message" "must have a value lower or equal than record field .text. length that is .17." "$(cat resp.json)"

# --- pull ---
t_rc 0 "pull: exit 0" "$APFLOW" pull --dataset vessels_ocr_7 --out all.parquet
t_match "pull: summary" "^pull 'vessels_ocr_7': 3 records, 4 responses \(3 submitted\) to all.parquet in" "$(cat "$T_OUT")"
t_eq "pull: SDK columns, in order" \
	"id status _server_id text doc_id page_num text_sha256 labelset_version source engine agreement min_score n_spans entities.responses entities.responses.users entities.responses.status entities.suggestion entities.suggestion.score entities.suggestion.agent entities.responses.usernames entities.responses.updated_at" \
	"$(q "SELECT string_agg(column_name, ' ') FROM (DESCRIBE SELECT * FROM 'all.parquet')")"
t_eq "pull: nested types" 'STRUCT("label" VARCHAR, "start" BIGINT, "end" BIGINT)[][]|TIMESTAMP WITH TIME ZONE[]|VARCHAR[]' \
	"$(q "SELECT string_agg(column_type, '|' ORDER BY column_name) FROM (DESCRIBE SELECT * FROM 'all.parquet') WHERE column_name IN ('entities.responses', 'entities.responses.users', 'entities.responses.updated_at')")"
t_eq "docA:1: both annotators' spans, users, statuses" \
	"completed|[[{'label': VESSEL_NAME, 'start': 3, 'end': 11}, {'label': PORT, 'start': 25, 'end': 28}, {'label': DATE, 'start': 32, 'end': 42}], [{'label': VESSEL_NAME, 'start': 3, 'end': 6}, {'label': PORT, 'start': 25, 'end': 27}]]|[$u1, $u2]|[submitted, submitted]|[ann.one, ann.two]" \
	"$(q "SELECT concat_ws('|', status, \"entities.responses\", \"entities.responses.users\", \"entities.responses.status\", \"entities.responses.usernames\") FROM 'all.parquet' WHERE id = 'docA:1'")"
t_eq "docA:1: spans cut the text at code points" "Ærø Star,東京港,2024-01-05" \
	"$(q "SELECT string_agg(substr(text, s.start + 1, s.\"end\" - s.start), ',') FROM (SELECT text, unnest(\"entities.responses\"[1]) AS s FROM 'all.parquet' WHERE id = 'docA:1')")"
t_eq "docA:2: the discarded response without values is no entry; the draft is" \
	"pending|[draft]|[ann.two]|[[{'label': ORGANIZATION, 'start': 0, 'end': 10}]]" \
	"$(q "SELECT concat_ws('|', status, \"entities.responses.status\", \"entities.responses.usernames\", \"entities.responses\") FROM 'all.parquet' WHERE id = 'docA:2'")"
t_eq "docB:1: a submitted empty answer is an empty span list" "completed|[[]]|[submitted]" \
	"$(q "SELECT concat_ws('|', status, \"entities.responses\", \"entities.responses.status\") FROM 'all.parquet' WHERE id = 'docB:1'")"
t_eq "suggestion columns: spans, scores, agent; NULL without suggestion" \
	"docA:1 3 [0.9, 0.9, 0.5] apflow-rules-v1/ollama-llama3.3-70b|docA:2 1 [0.99] apflow-rules-v1|docB:1 NULL NULL NULL" \
	"$(q "SELECT string_agg(concat_ws(' ', id, coalesce(CAST(len(\"entities.suggestion\") AS VARCHAR), 'NULL'), coalesce(CAST(\"entities.suggestion.score\" AS VARCHAR), 'NULL'), coalesce(\"entities.suggestion.agent\", 'NULL')), '|' ORDER BY id) FROM 'all.parquet'")"
t_eq "metadata typed as the SDK writes them" "docA|1|0.5|0.5|3|$(printf '%s' "$P1" | sha256sum | cut -d' ' -f1)" \
	"$(q "SELECT concat_ws('|', doc_id, page_num, agreement, min_score, n_spans, text_sha256) FROM 'all.parquet' WHERE id = 'docA:1'")"

t_rc 0 "pull --status submitted: exit 0" "$APFLOW" pull --dataset vessels_ocr_7 --status submitted --out sub.parquet
t_eq "--status submitted: the draft is gone, its record stays with NULL responses" "docA:1 2|docA:2 NULL|docB:1 1" \
	"$(q "SELECT string_agg(id || ' ' || coalesce(CAST(len(\"entities.responses\") AS VARCHAR), 'NULL'), '|' ORDER BY id) FROM 'sub.parquet'")"

t_rc 0 "pull --since the future: exit 0" "$APFLOW" pull --dataset vessels_ocr_7 --since 2999-01-01 --out none.parquet
t_eq "--since the future: no record, the file still has the columns" "0 21" \
	"$(q "SELECT (SELECT count(*) FROM 'none.parquet') || ' ' || (SELECT count(*) FROM (DESCRIBE SELECT * FROM 'none.parquet'))")"
t_rc 0 "pull --since the past, with an offset: exit 0" "$APFLOW" pull --dataset vessels_ocr_7 --since 2000-01-01T02:00:00+02:00 --out all.parquet
t_eq "--since the past: every record" "3" "$(q "SELECT count(*) FROM 'all.parquet'")"
t_rc 2 "pull --since a day that does not exist: usage error" "$APFLOW" pull --dataset vessels_ocr_7 --since 2024-02-30 --out bad.parquet
t_eq "... saying the forms" "apflow: error: bad --since '2024-02-30': use YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]" "$(cat "$T_ERR")"
actl _fault "type=status&count=1&status=400" >/dev/null
t_rc 1 "pull: a page refused (HTTP 400): exit 1" "$APFLOW" pull --dataset vessels_ocr_7 --out failed.parquet --retries 0
t_eq "... no output and no temp file left; the pulls before left none either" "" "$(ls -A | grep -E '^failed\.parquet$|apflow')"

t_rc 0 "pull into the store: exit 0" "$APFLOW" pull --dataset vessels_ocr_7
key=$(cd "$APFLOW_DATA_DIR/lake" && ls argilla/out/vessels_ocr_7/*/records.parquet)
t_match "pull into the store: argilla/out/<dataset>/<export_ts>/records.parquet" '^argilla/out/vessels_ocr_7/[0-9]{8}T[0-9]{6}Z/records\.parquet$' "$key"
t_eq "the store's copy holds the 3 records" 3 "$(q "SELECT count(*) FROM '$APFLOW_DATA_DIR/lake/$key'")"
mkdir -p "$APFLOW_DATA_DIR/tmp/apflow-ds-999999999-00000000deadbeef"
t_rc 0 "pull into the store again" "$APFLOW" pull --dataset vessels_ocr_7
t_eq "... leaves no scratch file, and sweeps the one a killed run left" "" "$(ls -A "$APFLOW_DATA_DIR/tmp")"
t_rc 1 "pull of an unknown dataset: exit 1" "$APFLOW" pull --dataset nope --out nope.parquet
t_match "pull of an unknown dataset: says so" "no Argilla dataset 'nope' in workspace 'argilla'" "$(cat "$T_ERR")"
t_eq "pull of an unknown dataset: no file" "no" "$([ -e nope.parquet ] && echo yes || echo no)"

# --- changed text ---
sed 's/No entities here\./No entities here, really./' in.jsonl >in2.jsonl
records_from_jsonl in2.jsonl recs2.parquet
t_rc 1 "changed text: refused" "$APFLOW" push --dataset vessels_ocr_7 --parquet recs2.parquet
t_match "changed text: names the record and the way out" "record 'docB:1': its text changed since it was pushed .*--replace-changed" "$(cat "$T_ERR")"
t_eq "changed text: nothing sent (the old text stays)" "No entities here." "$(afake_records vessels_ocr_7 | jq -r '.items[] | select(.external_id=="docB:1") | .fields.text')"
t_rc 0 "--replace-changed: exit 0" "$APFLOW" push --dataset vessels_ocr_7 --parquet recs2.parquet --replace-changed
t_match "--replace-changed: counted and said" "3 records: 1 created, 0 updated, 2 unchanged, 0 failed" "$(cat "$T_OUT")"
t_match "--replace-changed: warns that annotations are dropped" "annotations" "$(cat "$T_OUT" "$T_ERR")"
afake_records vessels_ocr_7 >fake2.json
t_eq "--replace-changed: new text, no responses, other records keep theirs" "No entities here, really. 0 3 2" \
	"$(jq -r '[.items[] | select(.external_id=="docB:1")][0] as $b | "\($b.fields.text) \($b.responses|length) \(.count) \([.items[] | select(.external_id=="docA:1")][0].responses|length)"' fake2.json)"

# --- the store's merged file, and the runbook's loader ---
mkdir -p "$APFLOW_DATA_DIR/lake/argilla/in/vessels_ocr_8"
cp recs.parquet "$APFLOW_DATA_DIR/lake/argilla/in/vessels_ocr_8/argilla_records.parquet"
t_rc 0 "push --dataset alone reads the store's merged file" "$APFLOW" push --dataset vessels_ocr_8
t_match "push --dataset alone: 3 created" "3 records: 3 created" "$(cat "$T_OUT")"
t_rc 0 "scripts/load_argilla_records takes the runbook's flags" env -u ARGILLA_API_URL -u ARGILLA_API_KEY APFLOW="$APFLOW" \
	"$APFLOW_TOP/scripts/load_argilla_records" --parquet recs.parquet --dataset vessels_ocr_9 --api-url "$AURL" --api-key "$AKEY"
t_match "scripts/load_argilla_records: 3 created" "push 'vessels_ocr_9': 3 records: 3 created" "$(cat "$T_OUT")"

# --- text that JSON must escape goes through unchanged ---
printf '%s\n' '{"doc_id":"docE","page_num":1,"text":"Quote \" back\\slash tab\t nl\n cr\r ctl\u0001 del\u007f é 🚢","suggestions_json":null}' >esc.jsonl
records_from_jsonl esc.jsonl esc.parquet
t_rc 0 "escapes: push" "$APFLOW" push --dataset escapes --parquet esc.parquet
t_eq "escapes: the text arrives byte for byte" "$(jq -r .text esc.jsonl | od -An -tx1)" \
	"$(afake_records escapes | jq -r '.items[0].fields.text' | od -An -tx1)"
t_rc 0 "escapes: a second push finds it unchanged" "$APFLOW" push --dataset escapes --parquet esc.parquet
t_match "escapes: unchanged" "1 records: 0 created, 0 updated, 1 unchanged" "$(cat "$T_OUT")"

# --- two pushes racing to create the same dataset ---
created0=$(curl -sS "$AURL/_stats" | jq .records_created)
"$APFLOW" push --dataset racing --parquet recs.parquet >race1.out 2>race1.err &
p1=$!
"$APFLOW" push --dataset racing --parquet recs.parquet >race2.out 2>race2.err &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
t_eq "racing pushes: both exit 0" "0 0" "$r1 $r2"
t_eq "racing pushes: one dataset, 3 records, each once, 3 created on the server" "1 3 3 3" \
	"$(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/me/datasets?name=racing" | jq '.items | length') $(afake_records racing | jq -r '"\(.count) \([.items[].external_id] | unique | length)"') $(( $(curl -sS "$AURL/_stats" | jq .records_created) - created0 ))"

# --- a page that lost its suggestions gets an empty one, once ---
t_ok "stale: first push" "$APFLOW" push --dataset stale --parquet recs.parquet
sed '/"page_num":2/s/"suggestions_json":"\[.*\]"}$/"suggestions_json":null}/' in.jsonl >in3.jsonl
records_from_jsonl in3.jsonl recs3.parquet
t_rc 0 "stale: push without docA:2's suggestion" "$APFLOW" push --dataset stale --parquet recs3.parquet
t_match "stale: docA:2 updated" "3 records: 0 created, 1 updated, 2 unchanged, 0 failed" "$(cat "$T_OUT")"
t_eq "stale: its suggestion is now empty" '[] apflow-none' \
	"$(afake_records stale | jq -c -r '.items[] | select(.external_id=="docA:2") | "\(.suggestions[0].value|tojson) \(.suggestions[0].agent)"')"
t_rc 0 "stale: the same push again" "$APFLOW" push --dataset stale --parquet recs3.parquet
t_match "stale: nothing to do" "3 records: 0 created, 0 updated, 3 unchanged, 0 failed" "$(cat "$T_OUT")"
t_done
