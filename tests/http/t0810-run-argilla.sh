#!/usr/bin/env bash
# The end-to-end flow: sample corpus -> apflow run (push to the fake
# Argilla) -> an SME submits the suggestions of every page and discards
# one -> apflow run --until load (pull and load) -> check passes -> the
# panels show the numbers of the sample.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"
export APFLOW_DATA_DIR=$T_DIR/data
DS=vessels_ocr_sample
"$APFLOW_TOP/scripts/gen-sample.sh" "$T_DIR/sample" >/dev/null
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY

t_ok "run with Argilla configured" "$APFLOW" run --dataset $DS --input "$T_DIR/sample" -j 2
t_match "push: 15 records created" "push '$DS': 15 records: 15 created, 0 updated, 0 unchanged, 0 failed" "$(cat "$T_OUT")"
t_match "push in the table" "push +done +15 " "$(cat "$T_OUT")"
t_match "closing line: 6 stages" "run $DS: 6 stages in [0-9.]+ s, 0 failures" "$(cat "$T_OUT")"
afake_records $DS >fake.json
t_eq "15 records in Argilla" 15 "$(jq '.items | length' fake.json)"

curl -sS -X POST "$AURL/_users" -d '{"username":"sme.anna","role":"annotator","api_key":"key-anna"}' >/dev/null
codes=""
for id in $(jq -r '.items[] | .id' fake.json); do
	rec=$(jq -c --arg id "$id" '.items[] | select(.id==$id)' fake.json)
	if [ "$(jq -r .external_id <<<"$rec")" = "$(jq -r '[.items[].external_id] | sort | .[0]' fake.json)" ]; then
		body='{"status":"discarded"}'
	else
		body="{\"status\":\"submitted\",\"values\":{\"entities\":{\"value\":$(jq -c '.suggestions[0].value // []' <<<"$rec")}}}"
	fi
	codes+=$(curl -sS -o /dev/null -w '%{http_code} ' -X POST -H 'X-Argilla-Api-Key: key-anna' "$AURL/api/v1/records/$id/responses" -d "$body")
done
t_eq "the SME answered every record" "$(printf '201 %.0s' $(seq 1 15))" "$codes"

t_ok "run --until load" "$APFLOW" run --dataset $DS --until load
out=$(cat "$T_OUT")
t_match "push: nothing new" "15 unchanged" "$out"
t_match "pull: 14 responses" "pull '$DS': 15 records, 14 responses \(14 submitted\)" "$out"
t_match "load: 14 annotated pages" "14 annotated pages" "$out"
t_match "table: pull 15 records, load 14 pages" "pull +done +15 .*load +done +14 " "$(tr '\n' ' ' <<<"$out")"
t_match "closing line: 7 stages (no ingest)" "run $DS: 7 stages in [0-9.]+ s, 0 failures" "$out"
t_ok "check passes" "$APFLOW" check
t_ok "panel ocr_coverage" "$APFLOW" panels --name ocr_coverage --csv
t_eq "ocr coverage: 12 documents, 15 pages, 100%" "12,12,15,15,100.0" "$(tail -1 "$T_OUT")"
t_ok "panel engine_mix" "$APFLOW" panels --name engine_mix --csv
t_match "engine mix: 2 tesseract pages" "tesseract,2," "$(cat "$T_OUT")"
t_match "engine mix: 13 text-layer pages" ",13," "$(cat "$T_OUT")"
t_ok "panel annotator_throughput" "$APFLOW" panels --name annotator_throughput --csv
t_match "sme.anna submitted 14 pages" ",sme.anna,14$" "$(cat "$T_OUT")"
t_ok "panel suggestion_quality" "$APFLOW" panels --name suggestion_quality --json
t_eq "the SME accepted every suggestion: precision and recall 1 for every label" "1 1" \
	"$(jq -r '[.[] | .precision] | unique | map(tostring) | join(",")' "$T_OUT") $(jq -r '[.[] | .recall] | unique | map(tostring) | join(",")' "$T_OUT")"
t_ok "status after the flow" "$APFLOW" status --dataset $DS
t_match "status: load from the last run" "^load +records +14 .*done" "$(cat "$T_OUT")"
t_done
