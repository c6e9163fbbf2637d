#!/usr/bin/env bash
# apflow check: a clean warehouse passes every check; each check fails
# (exit 1, its row names the ids) when exactly its invariant is broken, and
# passes again once it is repaired.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"

D1=aaaaaaaaaaaaaaaaaaaa
D2=bbbbbbbbbbbbbbbbbbbb
T1='MV Ever Given arrived at Rotterdam.'
T2='Maersk Line, Copenhagen'

run_sql() { printf '%s' "$1" >q.sql; "$APFLOW" sql q.sql >/dev/null; }

t_ok "init" "$APFLOW" init
run_sql "INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
VALUES ('$D1', 'x', 'a.pdf', 10, 1), ('$D2', 'y', 'b.pdf', 10, 1);
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
SELECT doc_id, page_num, 1, 'mupdf', text, sha256(text), length(text)
FROM (VALUES ('$D1', 1, '$T1'), ('$D2', 1, '$T2')) t(doc_id, page_num, text);"
SP='STRUCT(label VARCHAR, start BIGINT, "end" BIGINT)'
printf '%s' "COPY (SELECT '$D1:1' AS id, '$T1' AS text,
  CAST([[{'label': 'VESSEL_NAME', 'start': 0, 'end': 13}]] AS $SP[][]) AS \"entities.responses\",
  ['u-1'] AS \"entities.responses.users\", ['submitted'] AS \"entities.responses.status\",
  ['alice'] AS \"entities.responses.usernames\") TO \${out} (FORMAT parquet);" >mk.sql
t_ok "an export" "$APFLOW" sql mk.sql --set out=e1.parquet
t_ok "loaded" "$APFLOW" load --dataset ds1 --parquet e1.parquet
mksugg() {	# FILE DOC PAGE: a suggestions Parquet file as preannotate writes it
	mkdir -p "$(dirname "$1")"
	printf '%s' "COPY (SELECT '$2' AS doc_id, $3::INTEGER AS page_num, 'x' AS text_sha256,
	  'entities' AS question_name, 'PORT' AS label, 0 AS start, 2 AS \"end\", 'MV' AS span_text,
	  0.9 AS score, 'apflow-rules-v1' AS agent) TO \${out} (FORMAT parquet);" >ms.sql
	"$APFLOW" sql ms.sql --set out="$1" >/dev/null
}
mksugg data/lake/argilla/in/ds1/suggestions/apflow-rules-v1/part-0.parquet "$D2" 1

t_ok "a clean warehouse passes every check" "$APFLOW" check
t_eq "one row per check, all ok, and a summary" "check                status    count  examples
coverage             ok            0
page_sha256          ok            0
orphan_annotations   ok            0
stale_annotations    ok            0
spans_valid          ok            0
duplicate_spans      ok            0
suggestions_pages    ok            0
empty_exports        ok            0
stuck_documents      ok            0
store_reconcile      ok            0
10 checks: 10 ok, 0 warn, 0 fail" "$(cat "$T_OUT")"

# broken NAME ROW: check fails, ROW is its line, every other check is ok.
# repaired NAME: the check broken last is repaired, by the statements just
# before, or (to save an apflow sql run) by the first statements of the
# next run_sql, which then breaks the next check; the next run of apflow
# check (checked_repair, called by broken) asserts its row is ok again, so
# a repair costs no apflow check run of its own.
REPAIRED=
checked_repair() {
	[ -n "$REPAIRED" ] || return 0
	t_match "$REPAIRED: passes again once repaired" "^$REPAIRED +ok +0\$" "$(grep -E "^$REPAIRED " "$T_OUT")"
	REPAIRED=
}
broken() {
	t_rc 1 "$1: fails (exit 1)" "$APFLOW" check
	t_eq "$1: its row names the ids" "$2" "$(grep -E "^$1 " "$T_OUT")"
	t_eq "$1: the only failing check" "10 checks: 9 ok, 0 warn, 1 fail" "$(tail -n 1 "$T_OUT")"
	checked_repair
}
repaired() { REPAIRED=$1; }

run_sql "UPDATE md_raw_ocr.main.documents SET pages = 3 WHERE doc_id = '$D2'"
broken coverage "coverage             fail          1  $D2"
repaired coverage

run_sql "UPDATE md_raw_ocr.main.documents SET pages = 1 WHERE doc_id = '$D2';
UPDATE md_raw_ocr.main.pages SET text_sha256 = sha256('other') WHERE doc_id = '$D2'"
broken page_sha256 "page_sha256          fail          1  $D2:1@1"
repaired page_sha256

# An annotation (of run 9: not a recorded export, which empty_exports
# would count) on a page that does not exist.
run_sql "UPDATE md_raw_ocr.main.pages SET text_sha256 = sha256(text) WHERE doc_id = '$D2';
INSERT INTO md_annotated.main.annotations_pages (export_run_id, doc_id, page_num, annotator, argilla_dataset, text_sha256, status)
VALUES (9, '$D1', 9, 'bob', 'ds1', 'x', 'submitted')"
broken orphan_annotations "orphan_annotations   fail          1  $D1:9"
repaired orphan_annotations

# A new OCR run changes the text of the annotated page.
run_sql "DELETE FROM md_annotated.main.annotations_pages WHERE page_num = 9;
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
VALUES ('$D1', 1, 2, 'tesseract', 'MV Ever Given arrived', sha256('MV Ever Given arrived'), 21)"
broken stale_annotations "stale_annotations    fail          1  $D1:1"
repaired stale_annotations

run_sql "DELETE FROM md_raw_ocr.main.pages WHERE ocr_run_id = 2;
UPDATE md_annotated.main.annotations_spans SET label = 'SHIP'"
broken spans_valid "spans_valid          fail          1  $D1:1[0,13)"
run_sql "UPDATE md_annotated.main.annotations_spans SET label = 'VESSEL_NAME', span_text = 'MV Ever Give'"
broken spans_valid "spans_valid          fail          1  $D1:1[0,13)"
repaired spans_valid

# No index keeps annotations_spans' key (V005): the check does.
run_sql "UPDATE md_annotated.main.annotations_spans SET span_text = 'MV Ever Given';
INSERT INTO md_annotated.main.annotations_spans SELECT * FROM md_annotated.main.annotations_spans;
UPDATE md_annotated.main.annotations_exports SET spans = 2 WHERE export_run_id = 1"
broken duplicate_spans "duplicate_spans      fail          1  $D1:1/alice[0,13)VESSEL_NAME@1"
run_sql "DELETE FROM md_annotated.main.annotations_spans;
INSERT INTO md_annotated.main.annotations_spans (export_run_id, doc_id, page_num, annotator, start, \"end\", label, span_text, argilla_dataset)
VALUES (1, '$D1', 1, 'alice', 0, 13, 'VESSEL_NAME', 'MV Ever Given', 'ds1');
UPDATE md_annotated.main.annotations_exports SET spans = 1 WHERE export_run_id = 1"
repaired duplicate_spans

mksugg data/lake/argilla/in/ds1/suggestions/apflow-rules-v1/part-1.parquet "$D2" 7
broken suggestions_pages "suggestions_pages    fail          1  $D2:7"
rm data/lake/argilla/in/ds1/suggestions/apflow-rules-v1/part-1.parquet
repaired suggestions_pages

# An export nobody annotated (Argilla exports every record; this one has
# no response) is valid: it loads as a run with no pages and passes.
printf '%s' "COPY (SELECT '$D2:1' AS id, '$T2' AS text,
  CAST(NULL AS $SP[][]) AS \"entities.responses\", CAST(NULL AS VARCHAR[]) AS \"entities.responses.users\",
  CAST(NULL AS VARCHAR[]) AS \"entities.responses.status\") TO \${out} (FORMAT parquet);" >mk.sql
t_ok "an unannotated export" "$APFLOW" sql mk.sql --set out=e2.parquet
t_ok "loads" "$APFLOW" load --dataset ds1 --parquet e2.parquet
t_eq "as run 2: 1 record, no pages, no spans" "2,1,0,0" \
	"$(printf 'SELECT export_run_id, records, pages, spans FROM md_annotated.main.annotations_exports WHERE source_uri = %s' "'e2.parquet'" >q.sql; "$APFLOW" sql --csv q.sql | tail -n 1)"
t_ok "empty_exports: an unannotated export passes" "$APFLOW" check
checked_repair
t_eq "empty_exports: ok, nothing counted" "empty_exports        ok            0" "$(grep -E '^empty_exports ' "$T_OUT")"
t_eq "empty_exports: every check ok" "10 checks: 10 ok, 0 warn, 0 fail" "$(tail -n 1 "$T_OUT")"

# An export with no records at all: a warning, not a failure.
run_sql "INSERT INTO md_annotated.main.annotations_exports (export_run_id, argilla_dataset, source_uri, source_sha256, records, pages, spans)
VALUES (nextval('md_annotated.main.export_run_id_seq'), 'ds1', 'empty.parquet', 'e', 0, 0, 0)"
t_ok "empty_exports: a file with no records only warns (exit 0)" "$APFLOW" check
t_eq "empty_exports: warn, naming the run" "empty_exports        warn          1  3" "$(grep -E '^empty_exports ' "$T_OUT")"
t_eq "empty_exports: the only warning" "10 checks: 9 ok, 1 warn, 0 fail" "$(tail -n 1 "$T_OUT")"
run_sql "DELETE FROM md_annotated.main.annotations_exports WHERE export_run_id = 3"

# An export whose rows are not those it recorded fails.
run_sql "INSERT INTO md_annotated.main.annotations_exports (export_run_id, argilla_dataset, source_uri, source_sha256, records, pages, spans)
VALUES (nextval('md_annotated.main.export_run_id_seq'), 'ds1', 'lost.parquet', 'l', 2, 1, 3)"
broken empty_exports "empty_exports        fail          1  4"
repaired empty_exports

run_sql "DELETE FROM md_annotated.main.annotations_exports WHERE export_run_id = 4;
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages, uploaded_at)
VALUES ('cccccccccccccccccccc', 'z', 'c.pdf', 10, 1, current_timestamp - INTERVAL 2 DAY)"
broken stuck_documents "stuck_documents      fail          1  cccccccccccccccccccc"

# A PDF in the store without its documents row (a crash between the two);
# the same run of apflow check shows --stuck-hours 72 letting the
# document above wait.
mkpdf lost.pdf 1 "lost page"
lost=$(sha256sum lost.pdf | cut -c1-20)
t_ok "a PDF stored behind the warehouse's back" "$APFLOW" store put "raw/$lost.pdf" lost.pdf
t_rc 1 "store_reconcile: fails (exit 1)" "$APFLOW" check --stuck-hours 72
t_eq "stuck_documents: --stuck-hours 72 lets it wait" "stuck_documents      ok            0" "$(grep '^stuck_documents ' "$T_OUT")"
t_eq "store_reconcile: its row names the key" "store_reconcile      fail          1  raw/$lost.pdf" "$(grep '^store_reconcile ' "$T_OUT")"
t_eq "store_reconcile: the only failing check" "10 checks: 9 ok, 0 warn, 1 fail" "$(tail -n 1 "$T_OUT")"
t_eq "store_reconcile: a dry run, no row recorded" 0 \
	"$(printf "SELECT count(*) FROM md_raw_ocr.main.documents WHERE doc_id = '$lost'" >q.sql; "$APFLOW" sql --csv q.sql | tail -n 1)"
t_ok "store_reconcile: ingest records it" "$APFLOW" ingest lost.pdf
t_ok "--json: every check passes again (exit 0)" "$APFLOW" check --json --stuck-hours 72
t_eq "store_reconcile: passes again once repaired" "ok 0" \
	"$(jq -r '.[] | select(.check == "store_reconcile") | "\(.status) \(.count)"' "$T_OUT")"
t_match "--json gives each check with its examples" '"check": "coverage",
  "status": "ok",
  "count": 0,
  "examples": \[\],' "$(cat "$T_OUT")"

t_rc 2 "a bad --stuck-hours" "$APFLOW" check --stuck-hours -1
t_done
