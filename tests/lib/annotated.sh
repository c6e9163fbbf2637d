# tests/lib/annotated.sh: a small warehouse with known numbers for the
# panels, dashboard and learn tests (sourced after tests/lib.sh).
#
#   annotated_fixture   init, 4 documents (D1 2 pages mupdf, D2 1 page
#                       tesseract, D3 never read, D4 failed), and one
#                       loaded export (ds1) with two annotators and the
#                       rules' suggestions; see the expected numbers in
#                       tests/cli/t1320-panels.sh.
FX_D1=aaaaaaaaaaaaaaaaaaaa
FX_D2=bbbbbbbbbbbbbbbbbbbb
FX_D3=cccccccccccccccccccc
FX_D4=dddddddddddddddddddd
FX_T1='MV Ever Given arrived at Rotterdam.'
FX_T2='Empty page.'
FX_T3='Maersk Line, Copenhagen office'

annotated_fixture() {
	"$APFLOW" init >/dev/null || return 1
	cat >fx-seed.sql <<SQL
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages, uploaded_at) VALUES
 ('$FX_D1', 's1', 'one.pdf', 10, 2, TIMESTAMPTZ '2026-01-01 09:00:00+00'),
 ('$FX_D2', 's2', 'two.pdf', 10, 1, TIMESTAMPTZ '2026-01-02 09:00:00+00'),
 ('$FX_D3', 's3', 'three.pdf', 10, 1, TIMESTAMPTZ '2026-01-02 10:00:00+00'),
 ('$FX_D4', 's4', 'four.pdf', 10, 1, TIMESTAMPTZ '2026-01-02 11:00:00+00');
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars, created_at)
SELECT doc_id, page_num, 1, engine, text, sha256(text), length(text), created_at FROM (VALUES
 ('$FX_D1', 1, 'mupdf', '$FX_T1', TIMESTAMPTZ '2026-01-01 09:05:00+00'),
 ('$FX_D1', 2, 'mupdf', '$FX_T2', TIMESTAMPTZ '2026-01-01 09:05:00+00'),
 ('$FX_D2', 1, 'tesseract', '$FX_T3', TIMESTAMPTZ '2026-01-02 09:05:00+00')) t(doc_id, page_num, engine, text, created_at);
INSERT INTO md_raw_ocr.main.ocr_failures (doc_id, page_num, ocr_run_id, engine, error)
VALUES ('$FX_D4', NULL, 1, 'mupdf', 'cannot open');
SQL
	"$APFLOW" sql fx-seed.sql >/dev/null || return 1
	local SP='STRUCT(label VARCHAR, start BIGINT, "end" BIGINT)'
	cat >fx-export.sql <<SQL
COPY (
SELECT id, text, CAST(resp AS $SP[][]) AS "entities.responses", users AS "entities.responses.users",
  st AS "entities.responses.status", users AS "entities.responses.usernames",
  CAST(upd AS TIMESTAMPTZ[]) AS "entities.responses.updated_at",
  CAST(sugg AS $SP[]) AS "entities.suggestion", list_transform(sugg, s -> 0.8) AS "entities.suggestion.score",
  'apflow-rules-v1' AS "entities.suggestion.agent"
FROM (VALUES
 ('$FX_D1:1', '$FX_T1',
  [[{'label': 'VESSEL_NAME', 'start': 0, 'end': 13}, {'label': 'PORT', 'start': 25, 'end': 34}],
   [{'label': 'VESSEL_NAME', 'start': 0, 'end': 13}]],
  ['alice', 'bob'], ['submitted', 'submitted'], ['2026-01-03 10:00:00+00', '2026-01-03 11:00:00+00'],
  [{'label': 'VESSEL_NAME', 'start': 3, 'end': 13}, {'label': 'PORT', 'start': 25, 'end': 34}]),
 ('$FX_D1:2', '$FX_T2', [[]], ['alice'], ['discarded'], ['2026-01-03 12:00:00+00'], NULL),
 ('$FX_D2:1', '$FX_T3', [[{'label': 'ORGANIZATION', 'start': 0, 'end': 11}]], ['bob'], ['submitted'],
  ['2026-01-04 10:00:00+00'],
  [{'label': 'ORGANIZATION', 'start': 0, 'end': 11}, {'label': 'PORT', 'start': 13, 'end': 23}])
) t(id, text, resp, users, st, upd, sugg)
) TO \${out} (FORMAT parquet);
SQL
	"$APFLOW" sql fx-export.sql --set out=fx-export.parquet >/dev/null || return 1
	"$APFLOW" load --dataset ds1 --parquet fx-export.parquet >/dev/null
}
