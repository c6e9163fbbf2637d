#!/usr/bin/env bash
# apflow preannotate --engine ollama against tests/fakes/fake-ollama.js: the
# request (JSON-schema format, temperature 0, seed, num_ctx), alignment of
# the returned texts to code-point offsets, unknown labels and hallucinated
# texts dropped and counted, long pages split with overlap, the cache
# (a re-run sends nothing), retries, timeouts, the deadline, a dead server,
# a missing model, concurrency, shards, --stdin-jsonl equal to the batch.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/pages.sh"

export APFLOW_DATA_DIR=$T_DIR/data
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
LAKE=$T_DIR/data/lake
DS=vessels_ocr_t0610
ONE=vessels_ocr_t0610_one
AGENT=ollama-llama3.3-70b
S=$LAKE/argilla/in/$DS/suggestions/$AGENT
D1=d1d1d1d1d1d1d1d1d1d1 D2=d2d2d2d2d2d2d2d2d2d2 D3=d3d3d3d3d3d3d3d3d3d3

cat >script.json <<'JSON'
{"entities": [
  {"text": "Nordic Star", "label": "VESSEL_NAME"}, {"text": "9321483", "label": "IMO_NUMBER"},
  {"text": "Rotterdam", "label": "PORT"}, {"text": "12 March 2024", "label": "DATE"},
  {"text": "Ærø Søfart A/S", "label": "ORGANIZATION"}, {"text": "東京港", "label": "PORT"},
  {"text": "Panama", "label": "FLAG_STATE"}, {"text": "Kota Wirawan", "label": "VESSEL_NAME"},
  {"text": "Singapore", "label": "PORT"}, {"text": "Liberia", "label": "FLAG_STATE"}],
 "extra": [
  {"when": "Nordic", "text": "Atlantis", "label": "PORT"},
  {"when": "Nordic", "text": "Nordic Star", "label": "SHIP"},
  {"when": "arrival", "text": "Ærø   Star", "label": "vessel name"},
  {"when": "arrival", "text": "ærø star", "label": "VESSEL_NAME"}]}
JSON
node "$APFLOW_TOP/tests/fakes/fake-ollama.js" --port-file ol.port --script script.json 2>ol.err &
ol=$!
T_CLEANUP+=("kill $ol")
for _ in $(seq 1 200); do [ -s ol.port ] && break; sleep 0.05; done
URL=http://127.0.0.1:$(cat ol.port)
ctl() { curl -sS -o /dev/null -X POST "$URL/$1"; }
stats() { curl -sS "$URL/stats"; }
pa() { "$APFLOW" preannotate --engine ollama --ollama-url "$URL" "$@"; }
rows() { q "SELECT doc_id, page_num, label, start, \"end\", span_text FROM read_parquet('$1') ORDER BY ALL"; }

t_ok "init" "$APFLOW" init
T1=$'MV Nordic Star (IMO 9321483) left Rotterdam on 12 March 2024.\nThe Nordic Star is owned by Ærø Søfart A/S.'
T2=$'東京港 arrival: 😀 Ærø Star, flag Panama. Rotterdamse haven e\u0301tait'
W='The holds were inspected and found clean and dry. '
T3="Bulk carrier Kota Wirawan loaded coal. $W$W${W}She sailed for Singapore under the flag of Liberia. $W$W${W}End of report Kota Wirawan."
addpage $D1 1 "$T1"
addpage $D1 2 "$T2"
addpage $D2 1 "$T3"
addpage $D2 2 'No entities here, just text.'
addpage $D3 1 'Short page about Panama.'
t_ok "export" "$APFLOW" export --dataset $DS --doc $D1 --doc $D2
t_ok "export a one-page dataset" "$APFLOW" export --dataset $ONE --doc $D3

# --- the server is checked first ---
dead=$(t_free_port)
start=$(date +%s%N)
t_rc 1 "a dead server fails" "$APFLOW" preannotate --dataset $DS --engine ollama --ollama-url "http://127.0.0.1:$dead"
t_match "... at once, without retrying" "^[0-5]$" "$(( ($(date +%s%N) - start) / 1000000000 ))"
t_match "... saying where and what" \
	"^apflow: error: cannot reach Ollama at 'http://127.0.0.1:$dead': .*(Connection refused|connect).*\(is 'ollama serve' running\?\)$" "$(cat "$T_ERR")"
t_rc 1 "a model the server lacks fails" pa --dataset $DS --model nope:1b
t_eq "... naming it" "apflow: error: model 'nope:1b' is not available at '$URL': run 'ollama pull nope:1b'" "$(cat "$T_ERR")"
t_eq "no chat request was sent" 0 "$(stats | jq .chat)"
t_rc 1 "a dataset never exported" pa --dataset vessels_ocr_none
t_eq "... says so" "apflow: error: dataset 'vessels_ocr_none' has no exported pages: run 'apflow export --dataset vessels_ocr_none' first" \
	"$(cat "$T_ERR")"
t_rc 2 "rules options with ollama's flags are usage errors" "$APFLOW" preannotate --dataset $DS --model x

# --- a first run ---
t_rc 0 "preannotate --engine ollama --chunk-chars 200" pa --dataset $DS --chunk-chars 200
t_match "summary" "^preannotate $DS: $AGENT: 4 pages, 13 spans \(VESSEL_NAME 5, IMO_NUMBER 1, FLAG_STATE 2, PORT 3, DATE 1, ORGANIZATION 1\), [0-9.]+ s, [0-9.]+ MB/s; ollama: 7 requests, 0 retries, 0 cached pages, dropped 1 unknown label, 3 not in page, 0 malformed$" "$(cat "$T_OUT")"
t_eq "seven chat requests: 1 + 1 + 4 chunks + 1" 7 "$(stats | jq .chat)"
req=$(stats | jq -c '.requests[0]')
t_eq "stream false, model" "false llama3.3:70b" "$(jq -r '"\(.stream) \(.model)"' <<<"$req")"
t_eq "options: temperature 0, seed, explicit num_ctx" '{"temperature":0,"seed":42,"num_ctx":8192,"num_predict":2048}' \
	"$(jq -c .options <<<"$req")"
t_eq "format is the JSON schema {entities:[{text,label}]}" \
	'{"type":"object","properties":{"entities":{"type":"array","items":{"type":"object","properties":{"text":{"type":"string"},"label":{"type":"string","enum":["VESSEL_NAME","IMO_NUMBER","MMSI","CALL_SIGN","FLAG_STATE","PORT","DATE","ORGANIZATION","VESSEL_TYPE","TONNAGE"]}},"required":["text","label"]}}},"required":["entities"]}' \
	"$(jq -c .format <<<"$req")"
t_match "the instructions name the labels and ask for JSON" "IMO_NUMBER: IMO ship identification number.*Respond using JSON" \
	"$(jq -r .system <<<"$req" | tr '\n' ' ')"
t_eq "no chunk passes 200 code points" 0 "$(stats | jq '[.requests[].content | select(length > 200)] | length')"
t_eq "the long page in 4 chunks that overlap and cover it" "4 true true" \
	"$(stats | jq -r --arg t "$T3" '[.requests[].content | select(. as $c | $t | contains($c))] as $c |
		"\($c | length) \($t | startswith($c[0])) \($t | endswith($c[-1]))"')"
t_eq "the agent's files" "_pages/part-0-of-1.parquet part-0-of-1.parquet" "$(cd "$S" && find . -name '*.parquet' | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"
expected="$D1,1,VESSEL_NAME,3,14,Nordic Star
$D1,1,IMO_NUMBER,20,27,9321483
$D1,1,PORT,34,43,Rotterdam
$D1,1,DATE,47,60,12 March 2024
$D1,1,VESSEL_NAME,66,77,Nordic Star
$D1,1,ORGANIZATION,90,104,Ærø Søfart A/S
$D1,2,PORT,0,3,東京港
$D1,2,VESSEL_NAME,15,23,Ærø Star
$D1,2,FLAG_STATE,30,36,Panama
$D2,1,VESSEL_NAME,13,25,Kota Wirawan
$D2,1,PORT,204,213,Singapore
$D2,1,FLAG_STATE,232,239,Liberia
$D2,1,VESSEL_NAME,405,417,Kota Wirawan"
t_eq "exact spans: every occurrence, code points, whitespace-flexible, once across overlapping chunks, not inside Rotterdamse" \
	"$expected" "$(q "SELECT doc_id, page_num, label, start, \"end\", span_text FROM read_parquet('$S/part-0-of-1.parquet') ORDER BY doc_id, page_num, start")"
t_eq "span_text is the code-point slice of the exported text, on every row" 0 \
	"$(q "SELECT count(*) FROM read_parquet('$S/part-0-of-1.parquet') s JOIN md_raw_ocr.main.vw_argilla_pages p USING (doc_id, page_num)
		WHERE s.span_text <> substring(p.text, s.start + 1, s.\"end\" - s.start) OR s.text_sha256 <> p.text_sha256")"
t_eq "the schema's constant fields, no score from an LLM" "entities,$AGENT,model,v1,13,0" \
	"$(q "SELECT DISTINCT question_name, agent, type, labelset_version, count(*) OVER (), count(score) OVER () FROM read_parquet('$S/part-0-of-1.parquet')")"
t_eq "processed pages, zero-span page included" "$D1,1,6 $D1,2,3 $D2,1,4 $D2,2,0" \
	"$(q "SELECT doc_id, page_num, spans FROM read_parquet('$S/_pages/part-0-of-1.parquet') ORDER BY ALL" | tr '\n' ' ' | sed 's/ $//')"
t_eq "the answers are cached in the warehouse, one per page" "4,4" \
	"$(q "SELECT count(*), count(DISTINCT text_sha256) FROM md_raw_ocr.main.preannotate_cache WHERE model = 'llama3.3:70b' AND prompt_version = 'apflow-ner-p1'")"

# --- a re-run costs nothing and replaces, never adds ---
cp "$S/part-0-of-1.parquet" "$S/part-00000-spark.parquet"
before=$(rows "$S/part-0-of-1.parquet")
ctl _reset
t_rc 0 "re-run" pa --dataset $DS --chunk-chars 200
t_match "... from the cache" "; ollama: 0 requests, 0 retries, 4 cached pages, dropped 1 unknown label, 3 not in page" "$(cat "$T_OUT")"
t_eq "... no request at all" 0 "$(stats | jq .chat)"
t_eq "... the same rows" "$before" "$(rows "$S/part-0-of-1.parquet")"
t_eq "... and the agent's other files are gone" "_pages/part-0-of-1.parquet part-0-of-1.parquet" \
	"$(cd "$S" && find . -name '*.parquet' | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"

t_rc 0 "a re-run the cache answers needs no server" pa --dataset $DS --chunk-chars 200 --ollama-url "http://127.0.0.1:$dead"
t_match "... 4 cached pages" "; ollama: 0 requests, 0 retries, 4 cached pages" "$(cat "$T_OUT")"

# --- concurrency ---
ctl "_fault?type=slow&ms=300&count=20"
t_rc 0 "--concurrency 2 --no-cache" pa --dataset $DS --chunk-chars 200 --no-cache --concurrency 2
t_eq "two requests in flight at most, and two at once" "7 2" "$(stats | jq -r '"\(.chat) \(.max_inflight)"')"
ctl _reset

# --- failures: retries, timeouts, the deadline, bad answers ---
one=$LAKE/argilla/in/$ONE/suggestions/$AGENT
ctl "_fault?type=status&status=500&count=2"
t_rc 0 "two 500s are retried" "$APFLOW" -c ollama_retries=2 preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
t_match "... and counted" "1 page, 1 span \(FLAG_STATE 1\).*ollama: 3 requests, 2 retries" "$(cat "$T_OUT")"
t_match "... with a warning each" "warning: model 'llama3.3:70b' at '$URL': Ollama at '$URL' answered HTTP 500: fake fault: HTTP 500; retrying in" "$(cat "$T_ERR")"
good=$(sha256sum "$one/part-0-of-1.parquet")
ctl _reset
ctl "_fault?type=status&status=503&count=20"
t_rc 1 "a server that keeps failing fails the run" "$APFLOW" -c ollama_retries=1 preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
t_match "... writing nothing, saying why" "^apflow: error: 1 of 1 page failed, so nothing was written \(the others' answers are cached; run again\): first $D3:1: model 'llama3.3:70b' failed 2 times: Ollama at '$URL' answered HTTP 503: fake fault: HTTP 503$" "$(tail -1 "$T_ERR")"
t_eq "... the earlier output stays" "$good" "$(sha256sum "$one/part-0-of-1.parquet")"
ctl _reset
ctl "_fault?type=status&status=400&count=1"
t_rc 1 "a 400 is not retried" "$APFLOW" preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
t_eq "... one request" 1 "$(stats | jq .chat)"
ctl _reset
ctl "_fault?type=slow&ms=2500&count=1"
t_rc 0 "a slow answer times out and is retried" "$APFLOW" -c ollama_timeout=1 preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
t_match "... once" "ollama: 2 requests, 1 retry" "$(cat "$T_OUT")"
ctl _reset
ctl "_fault?type=hang&count=20"
start=$(date +%s%N)
t_rc 1 "a hanging server stops at the deadline" "$APFLOW" -c ollama_timeout=1 -c ollama_deadline=2 -c ollama_retries=50 \
	preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
t_match "... saying so" "model 'llama3.3:70b': deadline of 2 s passed after [0-9]+ attempts?: " "$(tail -1 "$T_ERR")"
t_match "... in time" "^[2-4]$" "$(( ($(date +%s%N) - start) / 1000000000 ))"
for f in "length|was cut at 2048 tokens \(done_reason length\)" "notjson|is not \{\"entities\": \[\.\.\.\]\}: Sure! Here" \
	"malformed|malformed answer from Ollama at '$URL'"; do
	ctl _reset
	ctl "_fault?type=${f%%|*}&count=1"
	t_rc 1 "a ${f%%|*} answer fails the page" "$APFLOW" -c ollama_retries=0 preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
	t_match "... with a clear error" "${f#*|}" "$(tail -1 "$T_ERR")"
done
ctl _reset
t_rc 0 "-c ollama_num_ctx is sent" "$APFLOW" -c ollama_num_ctx=16384 preannotate --dataset $ONE --engine ollama --ollama-url "$URL" --no-cache
t_eq "... as options.num_ctx" 16384 "$(stats | jq '.requests[0].options.num_ctx')"

# --- shards ---
t_ok "--shard 0/2" pa --dataset $DS --chunk-chars 200 --shard 0/2
t_ok "--shard 1/2" pa --dataset $DS --chunk-chars 200 --shard 1/2
t_eq "two parts, the unsharded output replaced" "_pages/part-0-of-2.parquet _pages/part-1-of-2.parquet part-0-of-2.parquet part-1-of-2.parquet" \
	"$(cd "$S" && find . -name '*.parquet' | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"
t_eq "together the same rows" "$before" "$(rows "$S/part-*.parquet")"
t_eq "each document in one shard, each page processed once" "1 4 4" \
	"$(q "SELECT (SELECT max(n) FROM (SELECT count(DISTINCT filename) AS n FROM read_parquet('$S/_pages/part-*.parquet', filename = true) GROUP BY doc_id)), count(*), count(DISTINCT (doc_id, page_num)) FROM read_parquet('$S/_pages/part-*.parquet')" | tr , ' ')"
t_ok "back to one run" pa --dataset $DS --chunk-chars 200

# --- --stdin-jsonl gives the batch's rows ---
printf '%s\n' "SELECT doc_id, page_num, text, text_sha256 FROM read_parquet('$LAKE/argilla/in/$DS/pages/*/*.parquet', hive_partitioning = true, hive_types = {'doc_id': VARCHAR}) ORDER BY doc_id, page_num" >p.sql
"$APFLOW" sql p.sql --json | jq -c '.[]' >pages.jsonl
t_eq "four pages as JSON lines" 4 "$(wc -l <pages.jsonl)"
ctl _reset
t_rc 0 "--stdin-jsonl" sh -c "'$APFLOW' preannotate --stdin-jsonl --engine ollama --ollama-url '$URL' --chunk-chars 200 <pages.jsonl"
cp "$T_OUT" rows.jsonl
t_match "the summary on stderr" "^preannotate stdin: $AGENT: 4 pages, 13 spans" "$(tail -1 "$T_ERR")"
norm='[.doc_id, .page_num, .text_sha256, .question_name, .label, .start, .end, .span_text, .score, .agent, .type, .labelset_version]'
printf '%s\n' "SELECT * FROM read_parquet('$S/part-0-of-1.parquet') ORDER BY doc_id, page_num, start, \"end\", label" >b.sql
t_eq "row for row the batch's rows" "$("$APFLOW" sql b.sql --json | jq -c ".[] | $norm")" "$(jq -c "$norm" rows.jsonl)"
t_eq "every field of the schema, in order" "doc_id page_num text_sha256 question_name label start end span_text score agent type labelset_version created_at" \
	"$(head -1 rows.jsonl | jq -r 'keys_unsorted | join(" ")')"
{ head -1 pages.jsonl; echo '{"doc_id": "x", "page_num": 1'; } >bad1.jsonl
{ head -2 pages.jsonl; echo '{"doc_id": "x", "page_num": 1, "text": "abc"}'; } >bad2.jsonl
{ head -1 pages.jsonl; head -1 pages.jsonl | jq -c '.text += "!"'; } >bad3.jsonl
{ head -1 pages.jsonl; echo '{"doc_id": "x", "page_num": 0, "text": "", "text_sha256": ""}'; } >bad4.jsonl
for b in "1|line 2: not JSON: " "2|line 3: missing field 'text_sha256'" "3|line 2: 'text_sha256' is not the SHA-256 of 'text'" \
	"4|line 2: 'page_num' is not a positive integer"; do
	t_rc 1 "bad input ${b%%|*} fails" sh -c "'$APFLOW' preannotate --stdin-jsonl --engine ollama --ollama-url '$URL' <bad${b%%|*}.jsonl"
	t_match "... naming the line" "^apflow: error: standard input: ${b#*|}" "$(cat "$T_ERR")"
	t_eq "... and writing nothing" "" "$(cat "$T_OUT")"
done
t_rc 2 "--stdin-jsonl with --dataset" "$APFLOW" preannotate --stdin-jsonl --dataset $DS
t_match "help" "usage: apflow preannotate --dataset NAME" "$("$APFLOW" preannotate --help)"
t_done
