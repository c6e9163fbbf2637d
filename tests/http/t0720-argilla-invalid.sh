#!/usr/bin/env bash
# Invalid input to apflow push and pull: a clear error naming what is wrong,
# a non-zero exit, and nothing written to Argilla: bad API key (401),
# unknown workspace, a span past the end of its text, an unknown label,
# overlapping spans, a dataset whose settings differ, a missing or damaged
# Parquet file, a record the server refuses (422).  The API key never shows
# in output, errors or --verbose logs.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
fake_argilla_start
BADKEY="wrong-key-$RANDOM$RANDOM"
push() { "$APFLOW" push --api-url "$AURL" --api-key "$AKEY" "$@"; }
ndatasets() { curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/me/datasets" | jq '.items | length'; }
bulk_requests() { curl -sS "$AURL/_stats" | jq .bulk_requests; }
all_out=$T_DIR/all-output.txt
keep() { cat "$T_OUT" "$T_ERR" >>"$all_out"; }

S='\"question_name\":\"entities\",\"agent\":\"apflow-rules-v1\",\"type\":\"model\"'
cat >good.jsonl <<EOF
{"doc_id":"d1","page_num":1,"text":"MV Ærø Star 🚢 in 東京港","suggestions_json":"[{$S,\"value\":[{\"start\":3,\"end\":11,\"label\":\"VESSEL_NAME\"},{\"start\":17,\"end\":20,\"label\":\"PORT\"}],\"score\":0.9}]"}
{"doc_id":"d1","page_num":2,"text":"Nothing here","suggestions_json":"[]"}
EOF
records_from_jsonl good.jsonl good.parquet
# "MV Ærø Star 🚢 in 東京港" is 20 code points: end 21 is past it.
sed 's/"end\\":20/"end\\":21/' good.jsonl >pastend.jsonl
records_from_jsonl pastend.jsonl pastend.parquet
sed 's/PORT/HARBOUR/' good.jsonl >label.jsonl
records_from_jsonl label.jsonl label.parquet
sed 's/"start\\":17/"start\\":10/' good.jsonl >overlap.jsonl
records_from_jsonl overlap.jsonl overlap.parquet
sed 's/\\"score\\":0.9/\\"score\\":[0.9]/' good.jsonl >scores.jsonl
records_from_jsonl scores.jsonl scores.parquet

# --- usage ---
t_rc 2 "no --dataset: usage error" "$APFLOW" push --parquet good.parquet
t_rc 2 "--batch-size 501: usage error" push --dataset x --parquet good.parquet --batch-size 501
t_match "--batch-size 501: says the range" "batch-size must be 1 to 500" "$(cat "$T_ERR")"

# --- the key and the workspace ---
t_rc 1 "bad API key: exit 1" "$APFLOW" push --api-url "$AURL" --api-key "$BADKEY" --dataset ds1 --parquet good.parquet --verbose
t_match "bad API key: says so" "Argilla at 'http://127.0.0.1:[0-9]+' refused the API key \(HTTP 401\)" "$(cat "$T_ERR")"
keep
t_rc 1 "no API key at all: exit 1" "$APFLOW" push --api-url "$AURL" --dataset ds1 --parquet good.parquet
t_match "no API key at all: says where to set it" "no Argilla API key: use --api-key or ARGILLA_API_KEY" "$(cat "$T_ERR")"
t_rc 1 "a URL with a password: exit 1" "$APFLOW" push --api-url "http://user:$AKEY@127.0.0.1:1" --api-key "$AKEY" --dataset ds1 --parquet good.parquet
t_match "a URL with a password: refused without showing it" "bad Argilla API URL: it holds a user name or password" "$(cat "$T_ERR")"
keep
t_rc 1 "unknown workspace: exit 1" push --dataset ds1 --parquet good.parquet --workspace nowhere --verbose
t_match "unknown workspace: named" "no Argilla workspace 'nowhere' for this API key" "$(cat "$T_ERR")"
keep
t_rc 1 "unreachable server: exit 1" "$APFLOW" push --api-url http://127.0.0.1:9 --api-key "$AKEY" --dataset ds1 --parquet good.parquet --retries 0
t_match "unreachable server: the connection error" "GET /api/v1/me: .*(connect|Connection refused)" "$(cat "$T_ERR")"
keep
t_eq "nothing created so far" 0 "$(ndatasets)"

# --- bad files ---
t_rc 1 "missing Parquet file: exit 1" push --dataset ds1 --parquet nope.parquet
t_match "missing Parquet file: named" "cannot read 'nope.parquet': No such file or directory" "$(cat "$T_ERR")"
head -c 300 good.parquet >damaged.parquet
t_rc 1 "damaged Parquet file: exit 1" push --dataset ds1 --parquet damaged.parquet
t_match "damaged Parquet file: named" "cannot read 'damaged.parquet': " "$(cat "$T_ERR")"
printf 'SELECT 1 AS doc_id;\n' >q.sql
"$APFLOW" sql q.sql >/dev/null
printf "COPY (SELECT 'd' AS doc_id, 1 AS page_num) TO 'cols.parquet' (FORMAT parquet);\n" >q.sql
"$APFLOW" sql q.sql >/dev/null
t_rc 1 "Parquet without the columns: exit 1" push --dataset ds1 --parquet cols.parquet
t_match "Parquet without the columns: names the column" "cannot push 'cols.parquet': it has no column 'text'" "$(cat "$T_ERR")"
t_rc 1 "missing store file (--dataset alone): exit 1" push --dataset ds1
t_match "missing store file: names the key" "argilla/in/ds1/argilla_records.parquet" "$(cat "$T_ERR")"

# --- bad records: every one named, nothing sent, no dataset created ---
t_rc 1 "span past the end of the text: exit 1" push --dataset ds1 --parquet pastend.parquet
t_match "span past the end: record, span and length" "record 'd1:1': suggestion 0: span 1 \[17, 21\) PORT: past the end of the text \(20 code points\)" "$(cat "$T_ERR")"
t_match "span past the end: nothing sent" "1 of 2 records are not valid; nothing was sent" "$(cat "$T_ERR")"
t_rc 1 "unknown label: exit 1" push --dataset ds1 --parquet label.parquet
t_match "unknown label: named" "record 'd1:1': suggestion 0: span 1: label 'HARBOUR' is not in labelset v1" "$(cat "$T_ERR")"
t_rc 1 "overlapping spans of one agent: exit 1" push --dataset ds1 --parquet overlap.parquet
t_match "overlapping spans: named" "record 'd1:1': suggestion 0: spans overlap: \[3, 11\) and \[10, 20\)" "$(cat "$T_ERR")"
t_rc 1 "one score for two spans given as a list: exit 1" push --dataset ds1 --parquet scores.parquet
t_match "score list length: named" "record 'd1:1': suggestion 0: suggestions_json: 1 scores for 2 spans" "$(cat "$T_ERR")"
printf "COPY (SELECT 'd1:1' AS id, 'd1' AS doc_id, 1 AS page_num, 'abc' AS text, repeat('0', 64) AS text_sha256) TO 'sha.parquet' (FORMAT parquet);\n" >q.sql
"$APFLOW" sql q.sql >/dev/null
t_rc 1 "text_sha256 that is not the text's: exit 1" push --dataset ds1 --parquet sha.parquet
t_match "text_sha256: named" "record 'd1:1': text_sha256 000000000000... is not the SHA-256 of the text" "$(cat "$T_ERR")"
# the same page twice (and a bad record beside it): each extra copy counted and named, in file order
{ cat good.jsonl; sed -n 1p good.jsonl; sed -n 2p good.jsonl; sed -n 2p good.jsonl; sed -n 1p pastend.jsonl | sed 's/"d1"/"d2"/'; } >dup.jsonl
records_from_jsonl dup.jsonl dup.parquet
t_rc 1 "a page twice in the file: exit 1" push --dataset ds1 --parquet dup.parquet
t_match "a page twice: counted with the bad record" "4 of 6 records are not valid; nothing was sent" "$(cat "$T_ERR")"
t_match "a page twice: each extra copy named" "record 'd1:1': appears more than once in the file.*record 'd1:2': appears more than once in the file.*record 'd1:2': appears more than once in the file" "$(tr '\n' ' ' <"$T_ERR")"
t_match "a page twice: the bad record named too" "record 'd2:1': suggestion 0: span 1 \[17, 21\) PORT: past the end" "$(cat "$T_ERR")"
t_eq "bad records: no dataset created, no record sent" "0 0" "$(ndatasets) $(bulk_requests)"

# --- a dataset with other settings is reported, never modified ---
ws=$(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/me/workspaces" | jq -r '.items[0].id')
api() { curl -sS -o /dev/null -w '%{http_code}' -X "$1" -H "X-Argilla-Api-Key: $AKEY" -H 'Content-Type: application/json' "$AURL/api/v1$2" ${3:+-d "$3"}; }
other=$(curl -sS -X POST -H "X-Argilla-Api-Key: $AKEY" -H 'Content-Type: application/json' "$AURL/api/v1/datasets" -d "{\"name\":\"other\",\"workspace_id\":\"$ws\"}" | jq -r .id)
api POST "/datasets/$other/fields" '{"name":"text","title":"Text","settings":{"type":"text"}}' >/dev/null
api POST "/datasets/$other/questions" '{"name":"entities","title":"E","settings":{"type":"span","field":"text","options":[{"value":"PER","text":"Person"},{"value":"PORT","text":"Port"}]}}' >/dev/null
t_eq "fake: the other dataset publishes" 200 "$(api PUT "/datasets/$other/publish")"
t_eq "fake: a second publish is 422" 422 "$(api PUT "/datasets/$other/publish")"
t_rc 1 "dataset with other settings: exit 1" push --dataset other --parquet good.parquet
t_match "dataset with other settings: what differs" "Argilla dataset 'other' in workspace 'argilla' does not have the settings of labelset v1 \(label VESSEL_NAME missing; .*label 'PER' is not in labelset v1; no metadata property 'doc_id'.*\); it was not modified" "$(cat "$T_ERR")"
t_eq "dataset with other settings: untouched (2 options, 0 metadata properties, 0 records)" "2 0 0" \
	"$(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/datasets/$other/questions" | jq '.items[0].settings.options | length') $(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/me/datasets/$other/metadata-properties" | jq '.items | length') $(afake_records other | jq .count)"

# --- a draft left by an interrupted creation is completed ---
draft=$(curl -sS -X POST -H "X-Argilla-Api-Key: $AKEY" -H 'Content-Type: application/json' "$AURL/api/v1/datasets" -d "{\"name\":\"halfmade\",\"workspace_id\":\"$ws\"}" | jq -r .id)
api POST "/datasets/$draft/fields" '{"name":"text","title":"Text","settings":{"type":"text"}}' >/dev/null
t_rc 0 "a draft dataset is completed and used" push --dataset halfmade --parquet good.parquet
t_eq "the draft got its question, metadata and records" "ready 9 2" \
	"$(afake_records halfmade | jq -r '.dataset.status') $(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/me/datasets/$draft/metadata-properties" | jq '.items | length') $(afake_records halfmade | jq .count)"

# --- the fake validates as Argilla does (what the tests above rely on) ---
fake=$(afake_records halfmade)
hid=$(jq -r .dataset.id <<<"$fake")
qid=$(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/datasets/$hid/questions" | jq -r '.items[0].id')
bulkput() {	# body -> "code detail"
	local code
	code=$(curl -sS -o resp.json -w '%{http_code}' -X PUT -H "X-Argilla-Api-Key: $AKEY" -H 'Content-Type: application/json' \
		"$AURL/api/v1/datasets/$hid/records/bulk" -d "$1")
	echo "$code $(jq -c -r '.detail | if type == "string" then . else (.params.errors[0].msg // .code) end' resp.json)"
}
rec() {	# external id, metadata JSON, suggestion JSON
	echo "{\"external_id\":\"$1\",\"fields\":{\"text\":\"Ærø 🚢 東京\"},\"metadata\":$2${3:+,\"suggestions\":[$3]}}"
}
sug() { echo "{\"question_id\":\"$qid\",\"value\":$1,\"score\":$2,\"agent\":\"${3:-rules}\",\"type\":\"model\"}"; }
t_eq "fake: float metadata written as an integer is 422" \
	"422 Record at position 0 is not valid because metadata is not valid: 'agreement' metadata property validation failed because '1' is not a float." \
	"$(bulkput "{\"items\":[$(rec v1 '{"agreement":1}')]}")"
t_eq "fake: the same as 1.0 is fine" "200" "$(bulkput "{\"items\":[$(rec v1 '{"agreement":1.0}')]}" | cut -d' ' -f1)"
t_eq "fake: a span past the end, in code points (8, not 11 UTF-16 units)" \
	"422 Record at position 1 is not valid because record does not have valid suggestions: span question response value \`end\` must have a value lower or equal than record field \`text\` length that is \`8\`" \
	"$(bulkput "{\"items\":[$(rec v2 '{}'),$(rec v3 '{}' "$(sug '[{"label":"PORT","start":5,"end":9}]' '[0.5]')")]}")"
t_eq "fake: end at the length is fine (end exclusive)" 200 \
	"$(bulkput "{\"items\":[$(rec v5 '{}' "$(sug '[{"label":"PORT","start":6,"end":8}]' '[0.5]')")]}" | cut -d' ' -f1)"
t_eq "fake: all or nothing (v2 of that batch was not written)" "null" "$(afake_records halfmade | jq '.items[] | select(.external_id=="v2") | .id' | head -1 | grep . || echo null)"
t_eq "fake: one score for a list of spans is 422" \
	"422 Record at position 0 is not valid because record does not have valid suggestions: a single score value is not allowed for a suggestion with a multiple items value" \
	"$(bulkput "{\"items\":[$(rec v4 '{}' "$(sug '[{"label":"PORT","start":4,"end":6}]' '0.5')")]}")"
t_eq "fake: score list of another length is 422" \
	"422 Record at position 0 is not valid because record does not have valid suggestions: number of items on value and score attributes doesn't match" \
	"$(bulkput "{\"items\":[$(rec v4 '{}' "$(sug '[{"label":"PORT","start":4,"end":6}]' '[0.5,0.6]')")]}")"
t_eq "fake: overlapping spans are 422" \
	"422 Record at position 0 is not valid because record does not have valid suggestions: overlapping values found between spans at index idx=0 and idx=1" \
	"$(bulkput "{\"items\":[$(rec v4 '{}' "$(sug '[{"label":"PORT","start":0,"end":3},{"label":"DATE","start":2,"end":4}]' 'null')")]}")"
bulkput "{\"items\":[$(rec v4 '{}' "$(sug '[{"label":"HARBOUR","start":0,"end":3}]' 'null')")]}" >label.txt
t_match "fake: an unknown label is 422" "^422 .*undefined label 'HARBOUR' for span question\.$" "$(head -1 label.txt)"
t_match "fake: ... with the valid labels on the next line" "^Valid labels are: \['VESSEL_NAME', 'IMO_NUMBER'" "$(sed -n 2p label.txt)"
t_eq "fake: an agent outside Argilla's pattern is 422 (pydantic)" "422 string does not match regex \"^(?=.*[a-zA-Z0-9])[a-zA-Z0-9\-_:./\s]+\$\"" \
	"$(bulkput "{\"items\":[$(rec v4 '{}' "$(sug '[]' 'null' 'model@home')")]}")"
t_eq "fake: 501 items is 422 (pydantic)" "422 ensure this value has at most 500 items" \
	"$(bulkput "{\"items\":[$(for i in $(seq 1 501); do printf '%s{}' "${i#1}" | sed 's/^[0-9]*{}/,{}/'; done | sed 's/^,//')]}")"
t_eq "fake: 0 items is 422 (pydantic)" "422 ensure this value has at least 1 items" "$(bulkput '{"items":[]}')"
t_eq "fake: suggestions that are not a list are 422 (pydantic)" "422 value is not a valid list" \
	"$(bulkput '{"items":[{"external_id":"v9","fields":{"text":"a"},"suggestions":{}}]}')"
t_eq "fake: an upsert leaves the text alone (fields are immutable)" "200 Ærø 🚢 東京" \
	"$(bulkput '{"items":[{"external_id":"v1","fields":{"text":"other"},"metadata":{"agreement":0.5}}]}' | cut -d' ' -f1) $(afake_records halfmade | jq -r '.items[] | select(.external_id=="v1") | .fields.text')"
# the fake reads bulk bodies item by item and echoes fields as they came; other shapes go through JSON.parse whole
echo_text() { jq -r ".items[] | select(.external_id==\"$1\") | .fields.text" resp.json; }
t_eq "fake: a body with spaces and newlines between tokens, fields echoed" "200 a \"q\" é" \
	"$(bulkput "$(printf '{ "items" :\n [ {"external_id":"w1" ,\t"fields": {"text":"a \\"q\\" \\u00e9"} } ] }\n')" | cut -d' ' -f1) $(echo_text w1)"
t_eq "fake: a key spelt with escapes (\\u0065) is the same key" "200 escaped 1" \
	"$(bulkput '{"items":[{"external_id":"w2","fi\u0065lds":{"text":"escaped"},"metadata":{"agreement":1.0}}]}' | cut -d' ' -f1) $(echo_text w2) $(afake_records halfmade | jq '[.items[] | select(.external_id=="w2")] | length')"
t_eq "fake: another top-level key beside items" "200 other" \
	"$(bulkput '{"x":[1.0],"items":[{"external_id":"w3","fields":{"text":"other"}}]}' | cut -d' ' -f1) $(echo_text w3)"
t_eq "fake: a duplicate fields key: the last one wins, as in JSON.parse" "200 second" \
	"$(bulkput '{"items":[{"external_id":"w4","fields":{"text":"first"},"fields":{"text":"second"}}]}' | cut -d' ' -f1) $(echo_text w4)"
t_eq "fake: bytes between items that are not JSON are 422 (pydantic)" "422 Expecting value" \
	"$(bulkput '{"items":[{"external_id":"w5","fields":{"text":"x"}} x {"external_id":"w6","fields":{"text":"y"}}]}')"
t_eq "fake: a bad item is 422 (pydantic)" "422 Expecting value" "$(bulkput '{"items":[{"external_id":"w7","fields":{"text":"x"},}]}')"
t_eq "fake: the listing shows the fields that were echoed" "a \"q\" é|escaped|other|second" \
	"$(curl -sS -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/datasets/$hid/records?limit=1000" | jq -r '[.items[] | select(.external_id | test("^w")) | .fields.text] | join("|")')"
t_eq "fake: an uppercase metadata property name is 422" 422 "$(api POST "/datasets/$hid/metadata-properties" '{"name":"Agreement2","title":"x","settings":{"type":"float"}}')"
t_eq "fake: a question after publish is 422" 422 "$(api POST "/datasets/$hid/questions" '{"name":"q2","title":"x","settings":{"type":"span","field":"text","options":[{"value":"A","text":"A"}]}}')"

# --- a record the server refuses (422) stops the push and is named ---
t_ok "a good push" push --dataset ds2 --parquet good.parquet --verbose
keep
sed 's/Nothing here/Nothing here at all/' good.jsonl >changed.jsonl
records_from_jsonl changed.jsonl changed.parquet
actl _config "fault_paths=/records/bulk" >/dev/null
actl _fault "type=reject&count=1&position=0&detail=metadata%20is%20not%20valid:%20'n_spans'%20metadata%20property%20validation%20failed%20because%20'1.5'%20is%20not%20an%20integer." >/dev/null
t_rc 1 "server 422: exit 1" push --dataset ds2 --parquet changed.parquet --replace-changed --verbose
t_match "server 422: the record <doc_id>:<page_num> and the server's detail" "record 'd1:2' refused by Argilla \(HTTP 422\): Record at position 0 is not valid because metadata is not valid: 'n_spans' metadata property validation failed because '1.5' is not an integer." "$(cat "$T_ERR")"
t_match "server 422: the summary counts the failed record" "0 created, 0 updated, 1 unchanged, 1 failed" "$(cat "$T_ERR")"
keep

# --- pull's own errors ---
t_rc 2 "pull --status bogus: usage error" "$APFLOW" pull --dataset ds2 --status bogus
t_rc 1 "pull with a bad key: exit 1" "$APFLOW" pull --api-url "$AURL" --api-key "$BADKEY" --dataset ds2 --out p.parquet --verbose
t_match "pull with a bad key: says so" "refused the API key" "$(cat "$T_ERR")"
keep
t_eq "pull with a bad key: no file" no "$([ -e p.parquet ] && echo yes || echo no)"

# --- the key never shows ---
t_nomatch "the API key never appears in any output" "$AKEY" "$(cat "$all_out")"
t_nomatch "nor the wrong key" "$BADKEY" "$(cat "$all_out")"
t_match "--verbose did log requests" "argilla|GET|PUT|retry" "$(cat "$all_out")"
t_done
