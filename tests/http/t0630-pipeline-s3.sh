#!/usr/bin/env bash
# export, preannotate and merge on an s3:// store (s3rver behind the SigV4
# proxy): the manifest flip and the clean-up without rename, a failed
# export that leaves the old one whole, retries, and the records read back.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/s3.sh"
. "$APFLOW_TOP/tests/lib/pages.sh"

export APFLOW_DATA_DIR=$T_DIR/data
DS=vessels_ocr_t0630
D1=d1d1d1d1d1d1d1d1d1d1 D2=d2d2d2d2d2d2d2d2d2d2
ls_keys() { "$APFLOW" store ls "argilla/in/$DS/$1" | awk '{print $NF}' | sed "s|^argilla/in/$DS/||" | sort; }

t_ok "s3rver and the verifying proxy start" s3_start apflow-test
cat >script.json <<'JSON'
{"entities": [{"text": "Nordic Star", "label": "VESSEL_NAME"}, {"text": "Ærø", "label": "PORT"}]}
JSON
node "$APFLOW_TOP/tests/fakes/fake-ollama.js" --port-file ol.port --script script.json 2>ol.err &
T_CLEANUP+=("kill $!")
for _ in $(seq 1 200); do [ -s ol.port ] && break; sleep 0.05; done
URL=http://127.0.0.1:$(cat ol.port)

t_ok "init" "$APFLOW" init
addpage $D1 1 'MV Nordic Star 😀 at Ærø'
addpage $D2 1 'Nothing here.'
t_rc 0 "export to s3://" "$APFLOW" export --dataset $DS
t_match "summary" "^export $DS: 2 pages of 2 documents, 2 files" "$(cat "$T_OUT")"
E1=$("$APFLOW" store get "argilla/in/$DS/pages/_manifest.json" - 2>/dev/null | jq -r .export_id)
t_match "the manifest is in the bucket" "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$" "$E1"
t_eq "the pages and the manifest" "pages/_manifest.json
pages/doc_id=$D1/$E1-0.parquet
pages/doc_id=$D2/$E1-0.parquet" "$(ls_keys pages/)"

# A failed export (the store refuses the first file) leaves the old one.
s3_fault 'type=status&status=403&code=AccessDenied&count=1&match=PutObject'
t_rc 1 "an export the store refuses fails" "$APFLOW" export --dataset $DS
t_match "... saying so" "AccessDenied|403" "$(cat "$T_ERR")"
t_eq "... and the old export is whole" "pages/_manifest.json
pages/doc_id=$D1/$E1-0.parquet
pages/doc_id=$D2/$E1-0.parquet" "$(ls_keys pages/)"
s3_reset_faults

# 503s are retried; the new export replaces the old without a rename.
s3_fault 'type=status&status=503&count=2&match=PutObject'
t_rc 0 "export again through two 503s" "$APFLOW" export --dataset $DS --doc $D1
E2=$("$APFLOW" store get "argilla/in/$DS/pages/_manifest.json" - 2>/dev/null | jq -r .export_id)
t_eq "only the new export's objects are left" "pages/_manifest.json
pages/doc_id=$D1/$E2-0.parquet" "$(ls_keys pages/)"
t_ok "export both again" "$APFLOW" export --dataset $DS

t_rc 0 "preannotate on s3://" "$APFLOW" preannotate --dataset $DS --engine ollama --ollama-url "$URL"
t_match "summary" "^preannotate $DS: ollama-llama3.3-70b: 2 pages, 2 spans \(VESSEL_NAME 1, PORT 1\)" "$(cat "$T_OUT")"
t_eq "the agent's objects" "suggestions/ollama-llama3.3-70b/_pages/part-0-of-1.parquet
suggestions/ollama-llama3.3-70b/part-0-of-1.parquet" "$(ls_keys suggestions/)"
t_rc 0 "merge on s3://" "$APFLOW" merge --dataset $DS
t_match "summary" "^merge $DS: 2 records, 2 spans from 1 agent \(1 record with spans\)" "$(cat "$T_OUT")"
t_ok "get the records" "$APFLOW" store get "argilla/in/$DS/argilla_records.parquet" rec.parquet
t_eq "the records, offsets in code points" \
	"$D1:1,\"[{\"\"question_name\"\":\"\"entities\"\",\"\"value\"\":[{\"\"start\"\":3,\"\"end\"\":14,\"\"label\"\":\"\"VESSEL_NAME\"\"},{\"\"start\"\":20,\"\"end\"\":23,\"\"label\"\":\"\"PORT\"\"}],\"\"score\"\":null,\"\"agent\"\":\"\"ollama-llama3.3-70b\"\",\"\"type\"\":\"\"model\"\"}]\"
$D2:1,[]" "$(q "SELECT id, suggestions_json FROM read_parquet('rec.parquet') ORDER BY id")"
t_eq "no secret in any output" 0 "$(cat "$T_DIR"/.stdout "$T_DIR"/.stderr | grep -c -- "$AWS_SECRET_ACCESS_KEY")"
t_done
