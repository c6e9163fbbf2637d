#!/usr/bin/env bash
# apflow load and check with an s3:// store (s3rver behind the
# SigV4-verifying proxy): the newest pull under argilla/out/<dataset>/ and
# --parquet s3://BUCKET/KEY are downloaded, loaded and the copy removed;
# check reads the store's suggestions Parquet files; no secret in any output.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/s3.sh"

D1=aaaaaaaaaaaaaaaaaaaa
T1='MV Ever Given arrived at Rotterdam.'
export APFLOW_DATA_DIR=$T_DIR/data
s3_start lake
t_ok "init" "$APFLOW" init
printf '%s' "INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
VALUES ('$D1', 1, 1, 'mupdf', '$T1', sha256('$T1'), 35);" >seed.sql
t_ok "a page" "$APFLOW" sql seed.sql
mk() {	# FILE END: one record, alice's PORT span [25, END)
	printf '%s' "COPY (SELECT '$D1:1' AS id, '$T1' AS text,
  CAST([[{'label': 'PORT', 'start': 25, 'end': $2}]] AS STRUCT(label VARCHAR, start BIGINT, \"end\" BIGINT)[][]) AS \"entities.responses\",
  ['alice'] AS \"entities.responses.users\", ['submitted'] AS \"entities.responses.status\") TO \${out} (FORMAT parquet);" >mk.sql
	"$APFLOW" sql mk.sql --set out="$1" >/dev/null
}
mk old.parquet 33
mk new.parquet 34
t_ok "an older pull in the store" "$APFLOW" store put argilla/out/ds1/20260101T000000Z/records.parquet old.parquet
t_ok "the newest pull" "$APFLOW" store put argilla/out/ds1/20260102T000000Z/records.parquet new.parquet
t_ok "a stray file beside them" "$APFLOW" store put argilla/out/ds1/notes.txt seed.sql

t_ok "load takes the newest pull" "$APFLOW" load --dataset ds1
t_match "from S3" "^loaded 's3://lake/argilla/out/ds1/20260102T000000Z/records.parquet' as export run 1: 1 records, 1 annotated pages, 1 spans" "$(cat "$T_OUT")"
printf 'SELECT source_uri, exported_at, (SELECT "end" FROM md_annotated.main.annotations_spans) FROM md_annotated.main.annotations_exports' >q.sql
t_eq "its URI, pull time and spans" "s3://lake/argilla/out/ds1/20260102T000000Z/records.parquet,2026-01-02 00:00:00+00,34" \
	"$("$APFLOW" sql --csv q.sql | tail -n 1)"
t_eq "the downloaded copy is gone" "" "$(ls -A data | grep -v '\.duckdb' | grep -v '^\.lock' | grep -v '\.wal$')"
t_ok "again" "$APFLOW" load --dataset ds1
t_match "a no-op" "already loaded as export run 1" "$(cat "$T_OUT")"
t_ok "--parquet s3://lake/KEY" "$APFLOW" load --dataset ds1 --parquet s3://lake/argilla/out/ds1/20260101T000000Z/records.parquet
t_match "is run 2" "as export run 2: " "$(cat "$T_OUT")"
t_rc 1 "a missing key" "$APFLOW" load --dataset ds1 --parquet s3://lake/nope/records.parquet
t_match "names it" "nope/records.parquet" "$(cat "$T_ERR")"
t_rc 2 "s3:// without a key" "$APFLOW" load --dataset ds1 --parquet s3://lake

printf '%s' "COPY (SELECT '$D1' AS doc_id, 9 AS page_num, 'PORT' AS label, 0 AS start, 2 AS \"end\", 'apflow-rules-v1' AS agent) TO \${out} (FORMAT parquet);" >sg.sql
"$APFLOW" sql sg.sql --set out=sugg.parquet >/dev/null
t_ok "suggestions in the store" "$APFLOW" store put argilla/in/ds1/suggestions/apflow-rules-v1/part-0.parquet sugg.parquet
t_rc 1 "check reads them from S3" "$APFLOW" check
t_eq "and finds the missing page" "suggestions_pages    fail          1  $D1:9" "$(grep '^suggestions_pages' "$T_OUT")"
t_eq "no temp directory left" "" "$(ls -A data | grep apflow-check)"
t_nomatch "no secret in any output" "$AWS_SECRET_ACCESS_KEY" "$(cat "$T_OUT" "$T_ERR")"
t_done
