#!/usr/bin/env bash
# The whole Argilla leg on the fake server: pages in md_raw_ocr -> export ->
# preannotate (rules) -> merge -> push -> an SME annotates (accepts, adds a
# span after an emoji, discards a page) -> pull into the store -> load into
# md_annotated -> check: the spans the SME submitted, in code points.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY
DS=vessels_ocr_flow
D1=aaaaaaaaaaaaaaaaaaaa
D2=bbbbbbbbbbbbbbbbbbbb
q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --json | jq -r '.[] | to_entries[0].value | tostring'
}

t_ok "init" "$APFLOW" init
cat >seed.sql <<SQL
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
VALUES ('$D1', 'x', 'a.pdf', 10, 2), ('$D2', 'y', 'b.pdf', 10, 1);
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
SELECT doc_id, page_num, 1, 'mupdf', text, sha256(text), length(text) FROM (VALUES
 ('$D1', 1, 'MV Ever Given (IMO 9811000) arrived at Rotterdam on 2024-03-05.'),
 ('$D1', 2, '🚢 The vessel Ærø Star, flag Panama, left Hamburg 東京 on 12 May 2023.'),
 ('$D2', 1, 'Nothing to see on this page.')) t(doc_id, page_num, text);
SQL
t_ok "pages in md_raw_ocr" "$APFLOW" sql seed.sql
t_ok "export" "$APFLOW" export --dataset $DS
t_ok "preannotate with the rules" "$APFLOW" preannotate --dataset $DS --engine rules
t_ok "merge" "$APFLOW" merge --dataset $DS
t_rc 0 "push the store's merged file" "$APFLOW" push --dataset $DS
t_match "push: 3 created" "^push '$DS': 3 records: 3 created, 0 updated, 0 unchanged, 0 failed" "$(cat "$T_OUT")"
afake_records $DS >fake.json
t_eq "the rules' suggestion for $D1:1 arrived, engine is the OCR engine" "apflow-rules-v1 mupdf 1" \
	"$(jq -r --arg id "$D1:1" '.items[] | select(.external_id==$id) | "\(.suggestions[0].agent) \(.metadata.engine) \(.metadata.agreement)"' fake.json)"
n1=$(jq -r --arg id "$D1:1" '.items[] | select(.external_id==$id) | .suggestions[0].value | length' fake.json)
n2=$(jq -r --arg id "$D1:2" '.items[] | select(.external_id==$id) | .suggestions[0].value | map(select(.start >= 21 or .end <= 13)) | length' fake.json)
t_match "the rules suggested spans on $D1:1" '^[1-9]' "$n1"

# The SME: accepts the suggestion on D1:1; on D1:2 keeps what does not
# touch the vessel and adds it after the emoji (code points 13..21);
# discards D2:1 without values.
curl -sS -X POST "$AURL/_users" -d '{"username":"sme.anna","role":"annotator","api_key":"key-anna"}' >/dev/null
answer() {	# external id, status, extra spans (JSON list)
	local rec id val body
	rec=$(jq -c --arg id "$1" '.items[] | select(.external_id==$id)' fake.json)
	id=$(jq -r .id <<<"$rec")
	val=$(jq -c --argjson extra "$3" '[((.suggestions[0].value // []) | map(select(($extra | length) == 0 or .start >= 21 or .end <= 13)))[], $extra[]] | sort_by(.start)' <<<"$rec")
	if [ "$2" = discarded ]; then body='{"status":"discarded"}'; else body="{\"status\":\"$2\",\"values\":{\"entities\":{\"value\":$val}}}"; fi
	curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'X-Argilla-Api-Key: key-anna' "$AURL/api/v1/records/$id/responses" -d "$body"
}
t_eq "SME answers" "201 201 201" \
	"$(answer "$D1:1" submitted '[]') $(answer "$D1:2" submitted '[{"label":"VESSEL_NAME","start":13,"end":21}]') $(answer "$D2:1" discarded '[]')"

t_rc 0 "pull into the store" "$APFLOW" pull --dataset $DS
t_match "pull: 2 responses (the discard without values is no entry)" "^pull '$DS': 3 records, 2 responses \(2 submitted\)" "$(cat "$T_OUT")"
t_rc 0 "load the newest pull" "$APFLOW" load --dataset $DS
t_match "load: one export run" "as export run 1: 3 records, 2 annotated pages" "$(cat "$T_OUT")"
t_eq "the vessel after the emoji is loaded as the SME drew it" "13 21 Ærø Star" \
	"$(q "SELECT start || ' ' || \"end\" || ' ' || span_text FROM md_annotated.main.annotations_spans WHERE doc_id = '$D1' AND page_num = 2 AND label = 'VESSEL_NAME'")"
t_eq "every loaded span is its text's substring" 0 \
	"$(q "SELECT count(*) FROM md_annotated.main.annotations_spans s JOIN md_raw_ocr.main.pages p USING (doc_id, page_num) WHERE substr(p.text, s.start + 1, s.\"end\" - s.start) <> s.span_text")"
t_eq "spans of sme.anna per page" "$D1:1 $n1|$D1:2 $((n2 + 1))" \
	"$(q "SELECT string_agg(k || ' ' || n, '|' ORDER BY k) FROM (SELECT doc_id || ':' || page_num AS k, count(*) AS n FROM md_annotated.main.annotations_spans WHERE annotator = 'sme.anna' GROUP BY ALL)")"
t_rc 0 "check: all ok" "$APFLOW" check
t_done
