#!/usr/bin/env bash
# apflow load: an Argilla export into md_annotated.  Loading twice is one
# export run; a second export is a second run and the latest views pick it;
# a span past the end, an unknown label and a record for a missing page are
# each reported with nothing loaded; UTF-16 offsets on emoji text are
# converted and flagged; an SDK-layout file (other struct field order, no
# pull-only columns) loads as pull's does.
. "$(dirname "$0")/../lib.sh"

D1=aaaaaaaaaaaaaaaaaaaa
D2=bbbbbbbbbbbbbbbbbbbb
T1='MV Ever Given arrived at Rotterdam.'
T2='🚢 MV Ever Given at Rotterdam'          # an emoji: UTF-16 offsets differ after it
T3='Café Maersk Line ا 東京 e'$'\xcc\x81'' Hamburg' # accents, RTL, CJK, a combining mark

t_ok "init" "$APFLOW" init
cat >seed.sql <<EOF
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
VALUES ('$D1', 'x', 'a.pdf', 10, 2), ('$D2', 'y', 'b.pdf', 10, 1);
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
SELECT doc_id, page_num, 1, 'mupdf', text, sha256(text), length(text) FROM (VALUES
 ('$D1', 1, '$T1'), ('$D1', 2, '$T2'), ('$D2', 1, '$T3')) t(doc_id, page_num, text);
EOF
t_ok "pages in md_raw_ocr" "$APFLOW" sql seed.sql

SP='STRUCT(label VARCHAR, start BIGINT, "end" BIGINT)'
# mkexport FILE ROWS: ROWS are VALUES tuples (id, text, responses, users,
# statuses, usernames) in apflow pull's layout.
mkexport() {
	cat >mk.sql <<EOF
COPY (
SELECT id, 'completed' AS status, '00000000-0000-0000-0000-000000000001' AS _server_id, text,
  split_part(id, ':', 1) AS doc_id, TRY_CAST(split_part(id, ':', 2) AS BIGINT) AS page_num,
  sha256(text) AS text_sha256, 'v1' AS labelset_version, 'mupdf' AS source, 'mupdf' AS engine,
  1.0 AS agreement, NULL::DOUBLE AS min_score, 0::BIGINT AS n_spans,
  CAST(resp AS $SP[][]) AS "entities.responses", users AS "entities.responses.users",
  st AS "entities.responses.status",
  CAST([{'label': 'PORT', 'start': 0, 'end': 2}] AS $SP[]) AS "entities.suggestion",
  [0.5] AS "entities.suggestion.score", 'apflow-rules-v1' AS "entities.suggestion.agent",
  names AS "entities.responses.usernames",
  list_transform(users, u -> TIMESTAMPTZ '2026-01-02 10:00:00+00') AS "entities.responses.updated_at"
FROM (VALUES $2) t(id, text, resp, users, st, names)
) TO \${out} (FORMAT parquet);
EOF
	"$APFLOW" sql mk.sql --set out="$1" >/dev/null
}
count() {	# SQL -> the single number it gives
	printf '%s' "$1" >q.sql
	"$APFLOW" sql --csv q.sql | tail -n 1 | tr -d '"'
}

GOOD1="('$D1:1', '$T1', [[{'label': 'VESSEL_NAME', 'start': 0, 'end': 13}, {'label': 'PORT', 'start': 25, 'end': 34}]], ['u-1'], ['submitted'], ['alice']),
       ('$D2:1', '$T3', [[{'label': 'ORGANIZATION', 'start': 5, 'end': 16}], [{'label': 'PORT', 'start': 25, 'end': 32}]], ['u-1', 'u-2'], ['submitted', 'draft'], ['alice', 'bob'])"
mkexport e1.parquet "$GOOD1"
mkdir -p data/lake/argilla/out/ds1/20260102T100000Z
cp e1.parquet data/lake/argilla/out/ds1/20260102T100000Z/records.parquet

t_ok "load the newest pull of the dataset" "$APFLOW" load --dataset ds1
t_match "says what it loaded" "^loaded 'file://.*/argilla/out/ds1/20260102T100000Z/records.parquet' as export run 1: 2 records, 2 annotated pages, 4 spans \(0 converted from UTF-16 offsets\), 2 suggestions" "$(cat "$T_OUT")"
t_eq "one export run with dataset, sha256, pull time and counts" \
	"1,ds1,$(sha256sum e1.parquet | cut -c1-64),2026-01-02 10:00:00+00,2,4,2" \
	"$(printf 'SELECT export_run_id, argilla_dataset, source_sha256, exported_at, pages, spans, records FROM md_annotated.main.annotations_exports' >q.sql; "$APFLOW" sql --csv q.sql | tail -n +2)"
t_eq "a row per record and annotator, with the text's sha256" \
	"$D1,1,alice,u-1,submitted,$(printf '%s' "$T1" | sha256sum | cut -c1-64)
$D2,1,alice,u-1,submitted,$(printf '%s' "$T3" | sha256sum | cut -c1-64)
$D2,1,bob,u-2,draft,$(printf '%s' "$T3" | sha256sum | cut -c1-64)" \
	"$(printf 'SELECT doc_id, page_num, annotator, annotator_id, status, text_sha256 FROM md_annotated.main.annotations_pages ORDER BY ALL' >q.sql; "$APFLOW" sql --csv q.sql | tail -n +2)"
t_eq "spans in code points, with their text (CJK, combining mark)" \
	"$D1,1,alice,0,13,VESSEL_NAME,MV Ever Given,false,ds1
$D1,1,alice,25,34,PORT,Rotterdam,false,ds1
$D2,1,alice,5,16,ORGANIZATION,Maersk Line,false,ds1
$D2,1,bob,25,32,PORT,Hamburg,false,ds1" \
	"$(printf 'SELECT doc_id, page_num, annotator, start, "end", label, span_text, offsets_converted, argilla_dataset FROM md_annotated.main.annotations_spans ORDER BY ALL' >q.sql; "$APFLOW" sql --csv q.sql | tail -n +2)"

t_ok "the same file again" "$APFLOW" load --dataset ds1
t_match "is a no-op that says so" "is already loaded as export run 1 .*nothing to do" "$(cat "$T_OUT")"
t_ok "... also named by path" "$APFLOW" load --dataset ds1 --parquet e1.parquet --json
t_match "--json says already_loaded" '"export_run_id":1,"already_loaded":true' "$(cat "$T_OUT")"
t_eq "still one export run" 1 "$(count 'SELECT count(*) FROM md_annotated.main.annotations_exports')"
t_eq "and 4 spans" 4 "$(count 'SELECT count(*) FROM md_annotated.main.annotations_spans')"

# A second export: alice changed her PORT span; bob submitted.
GOOD2="('$D1:1', '$T1', [[{'label': 'VESSEL_NAME', 'start': 0, 'end': 13}, {'label': 'PORT', 'start': 25, 'end': 35}]], ['u-1'], ['submitted'], ['alice']),
       ('$D2:1', '$T3', [[{'label': 'ORGANIZATION', 'start': 5, 'end': 16}], [{'label': 'PORT', 'start': 25, 'end': 32}]], ['u-1', 'u-2'], ['submitted', 'submitted'], ['alice', 'bob'])"
mkexport e2.parquet "$GOOD2"
mkdir -p data/lake/argilla/out/ds1/20260103T090000Z
cp e2.parquet data/lake/argilla/out/ds1/20260103T090000Z/records.parquet
t_ok "a second export" "$APFLOW" load --dataset ds1
t_match "is export run 2" "as export run 2: " "$(cat "$T_OUT")"
t_eq "two runs" "1,2" "$(count "SELECT string_agg(export_run_id::VARCHAR, ',' ORDER BY 1) FROM md_annotated.main.annotations_exports")"
t_eq "the latest spans are the second run's" "2,25,35" \
	"$(count "SELECT export_run_id || ',' || start || ',' || \"end\" FROM md_annotated.main.vw_annotations_latest_spans WHERE doc_id = '$D1' AND label = 'PORT'")"
t_eq "the latest pages too (bob now submitted)" "2,submitted" \
	"$(count "SELECT export_run_id || ',' || status FROM md_annotated.main.vw_annotations_latest_pages WHERE annotator = 'bob'")"
t_eq "the latest views hold one run's rows" "3,4" \
	"$(count "SELECT (SELECT count(*) FROM md_annotated.main.vw_annotations_latest_pages) || ',' || (SELECT count(*) FROM md_annotated.main.vw_annotations_latest_spans)")"

# ---- bad files: each problem reported, nothing loaded ----
bad_case() {	# desc file pattern
	t_rc 1 "$1: exit 1" "$APFLOW" load --dataset ds1 --parquet "$2"
	t_match "$1: reported" "$3" "$(cat "$T_ERR")"
	t_match "$1: nothing loaded" "cannot load '$2': [0-9]+ invalid rows?, nothing loaded" "$(cat "$T_ERR")"
	t_eq "$1: still two runs, 8 spans" "2,8" \
		"$(count "SELECT (SELECT count(*) FROM md_annotated.main.annotations_exports) || ',' || (SELECT count(*) FROM md_annotated.main.annotations_spans)")"
}
mkexport past.parquet "('$D1:1', '$T1', [[{'label': 'PORT', 'start': 25, 'end': 34}, {'label': 'PORT', 'start': 30, 'end': 40}]], ['u-9'], ['submitted'], ['carol']),
       ('$D2:1', '$T3', [[{'label': 'PORT', 'start': 25, 'end': 32}]], ['u-9'], ['submitted'], ['carol'])"
bad_case "a span past the end of its text" past.parquet "row 1, record '$D1:1', annotator 'carol', span 2: span \[30, 40\) ends past the end of its text \(35 characters\)"
mkexport label.parquet "('$D1:1', '$T1', [[{'label': 'SHIP', 'start': 0, 'end': 13}]], ['u-9'], ['submitted'], ['carol'])"
bad_case "an unknown label" label.parquet "row 1, record '$D1:1', annotator 'carol', span 1: unknown label 'SHIP'"
mkexport page.parquet "('$D1:1', '$T1', [[{'label': 'PORT', 'start': 25, 'end': 34}]], ['u-9'], ['submitted'], ['carol']),
       ('$D1:7', 'no such page', [[{'label': 'PORT', 'start': 0, 'end': 2}]], ['u-9'], ['submitted'], ['carol'])"
bad_case "a record for a page that does not exist" page.parquet "row 2, record '$D1:7': page 7 of document '$D1' does not exist in md_raw_ocr.main.pages"
t_match "only the bad row is listed" "^apflow: error: cannot load 'page.parquet': 1 invalid row, nothing loaded
  row 2, record '$D1:7': page 7 of document '$D1' does not exist in md_raw_ocr.main.pages$" "$(cat "$T_ERR")"
# annotations_spans has no index on its key since V005: the file is checked.
mkexport twice.parquet "('$D1:1', '$T1', [[{'label': 'PORT', 'start': 25, 'end': 34}, {'label': 'VESSEL_NAME', 'start': 0, 'end': 13}, {'label': 'PORT', 'start': 25, 'end': 34}]], ['u-9'], ['submitted'], ['carol'])"
bad_case "the same span twice" twice.parquet "row 1, record '$D1:1', annotator 'carol', span 3: the same span twice"
t_match "only that span is listed" "^apflow: error: cannot load 'twice.parquet': 1 invalid row, nothing loaded
  row 1, record '$D1:1', annotator 'carol', span 3: the same span twice$" "$(cat "$T_ERR")"
mkexport id.parquet "('$D1-1', '$T1', NULL, NULL, NULL, NULL)"
bad_case "an id that is not doc_id:page_num" id.parquet "row 1, record '$D1-1': id is not <doc_id>:<page_num>"

# ---- UTF-16 offsets on emoji text (argilla#5729) ----
# The UI counted 🚢 as two units: "MV Ever Given" is [3, 16) in UTF-16,
# [2, 15) in code points; carol's Rotterdam is past the end as code points.
mkexport emoji.parquet "('$D1:2', '$T2', [[{'label': 'VESSEL_NAME', 'start': 3, 'end': 16}, {'label': 'PORT', 'start': 20, 'end': 29}], [{'label': 'VESSEL_NAME', 'start': 2, 'end': 15}]], ['u-1', 'u-3'], ['submitted', 'submitted'], ['alice', 'dave'])"
t_ok "emoji text with UTF-16 offsets loads" "$APFLOW" load --dataset ds2 --parquet emoji.parquet
t_match "and says how many were converted" "3 spans \(2 converted from UTF-16 offsets\)" "$(cat "$T_OUT")"
t_eq "converted to code points and flagged; code-point offsets left alone" \
	"alice,2,15,VESSEL_NAME,MV Ever Given,true
alice,19,28,PORT,Rotterdam,true
dave,2,15,VESSEL_NAME,MV Ever Given,false" \
	"$(printf "SELECT annotator, start, \"end\", label, span_text, offsets_converted FROM md_annotated.main.annotations_spans WHERE argilla_dataset = 'ds2' ORDER BY ALL" >q.sql; "$APFLOW" sql --csv q.sql | tail -n +2)"

# ---- an SDK-layout file: struct fields in another order, page_num
# BIGINT, users as UUIDs, no status, usernames or updated_at columns, one
# record without any response (NULL) ----
cat >sdk.sql <<EOF
COPY (
SELECT id, text, '00000000-0000-0000-0000-000000000002' AS _server_id,
  split_part(id, ':', 1) AS doc_id, TRY_CAST(split_part(id, ':', 2) AS BIGINT) AS page_num,
  sha256(text) AS text_sha256,
  CAST(resp AS STRUCT(start BIGINT, "end" BIGINT, label VARCHAR)[][]) AS "entities.responses",
  users AS "entities.responses.users", st AS "entities.responses.status"
FROM (VALUES
  ('$D1:1', '$T1', [[{'start': 0, 'end': 13, 'label': 'VESSEL_NAME'}]], ['6f1c4e2a-0000-4000-8000-000000000001'], ['submitted']),
  ('$D1:2', '$T2', NULL, NULL, NULL)) t(id, text, resp, users, st)
) TO \${out} (FORMAT parquet);
EOF
t_ok "write an SDK-layout file" "$APFLOW" sql sdk.sql --set out=sdk.parquet
t_ok "it loads" "$APFLOW" load --dataset ds3 --parquet sdk.parquet
t_match "as pull's does" "as export run 4: 2 records, 1 annotated pages, 1 spans \(0 converted from UTF-16 offsets\), 0 suggestions" "$(cat "$T_OUT")"
t_eq "the user id is the annotator; no submitted_at" \
	"6f1c4e2a-0000-4000-8000-000000000001,6f1c4e2a-0000-4000-8000-000000000001,submitted,,0,13,VESSEL_NAME,MV Ever Given" \
	"$(printf "SELECT p.annotator, p.annotator_id, p.status, p.submitted_at, s.start, s.\"end\", s.label, s.span_text FROM md_annotated.main.annotations_pages p JOIN md_annotated.main.annotations_spans s USING (export_run_id, doc_id, page_num, annotator) WHERE p.argilla_dataset = 'ds3'" >q.sql; "$APFLOW" sql --csv q.sql | tail -n +2)"

# ---- usage ----
t_rc 2 "--dataset is required" "$APFLOW" load
t_rc 2 "a dataset name that is no key segment" "$APFLOW" load --dataset ../x
t_rc 1 "no pull of the dataset" "$APFLOW" load --dataset nothing_here
t_match "says where it looked" "no export of dataset 'nothing_here' in the store: nothing under 'argilla/out/nothing_here/<export_ts>/records.parquet'" "$(cat "$T_ERR")"
t_rc 1 "a file that is not Parquet" sh -c 'echo nope >x.parquet; "$1" load --dataset ds1 --parquet x.parquet' sh "$APFLOW"
t_match "names the file" "cannot read 'x.parquet'" "$(cat "$T_ERR")"
printf "COPY (SELECT '$D1:1' AS record_id, 'x' AS text) TO \${out} (FORMAT parquet);" >noid.sql
"$APFLOW" sql noid.sql --set out=noid.parquet >/dev/null
t_rc 1 "a Parquet file without an id column" "$APFLOW" load --dataset ds1 --parquet noid.parquet
t_eq "is no Argilla export" "apflow: error: cannot load 'noid.parquet': not an Argilla export: no column 'id'" "$(cat "$T_ERR")"
t_done
