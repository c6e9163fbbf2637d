-- checks_integrity.sql: the warehouse's invariants, one result row per check.
--
-- Columns: check_name, status ('ok', 'warn' or 'fail'), count (rows that
-- break it), examples (up to 5 ids, comma-separated), description.
-- `apflow check` runs it and exits 1 when any row is 'fail', so it can run
-- daily from cron or CI; from a DuckDB shell it runs as is with both
-- databases attached.  It reads only.
--
-- Parameters (SET VARIABLE ...; all optional):
--   labels        the labelset's labels, comma-separated (apflow sets them;
--                 unset: the label check is skipped)
--   stuck_hours   how long a document may wait for OCR (default 24)
-- Input table (optional): _store_suggestions (doc_id, page_num, agent),
-- the suggestions Parquet files of the store (argilla/in/<dataset>/
-- suggestions/); apflow fills it, a shell user may.  The suggestions that
-- loaded exports carry (annotations_suggestions) are checked too.
--
-- Ids in examples: documents as doc_id, pages as doc_id:page_num, exports as
-- their export_run_id.

CREATE TEMP TABLE IF NOT EXISTS _store_suggestions (doc_id VARCHAR, page_num INTEGER, agent VARCHAR);

WITH
all_pages AS (
    SELECT DISTINCT doc_id, page_num FROM md_raw_ocr.main.pages
),
current_pages AS (
    SELECT doc_id, page_num, text, text_sha256 FROM md_raw_ocr.main.vw_argilla_pages
),
labels AS (
    SELECT unnest(string_split(getvariable('labels'), ',')) AS label
),
-- 1. coverage: a document OCR has worked on has every page.
coverage AS (
    SELECT d.doc_id
    FROM md_raw_ocr.main.documents AS d
    LEFT JOIN (SELECT doc_id, count(*) AS n FROM all_pages GROUP BY doc_id) AS p USING (doc_id)
    WHERE (p.n IS NOT NULL OR d.doc_id IN (SELECT doc_id FROM md_raw_ocr.main.ocr_failures))
      AND coalesce(p.n, 0) < greatest(coalesce(d.pages, 1), 1)
),
-- 2. every page's text_sha256 is the SHA-256 of its text.
page_sha AS (
    SELECT doc_id || ':' || page_num || '@' || ocr_run_id AS id
    FROM md_raw_ocr.main.pages
    WHERE text_sha256 IS DISTINCT FROM sha256(text)
),
-- 3. no annotation without its page (and no span without its annotation).
orphans AS (
    SELECT a.doc_id || ':' || a.page_num AS id
    FROM md_annotated.main.annotations_pages AS a
    WHERE NOT EXISTS (SELECT 1 FROM all_pages AS p WHERE p.doc_id = a.doc_id AND p.page_num = a.page_num)
    UNION ALL
    SELECT s.doc_id || ':' || s.page_num || '/' || s.annotator
    FROM md_annotated.main.annotations_spans AS s
    WHERE NOT EXISTS (SELECT 1 FROM md_annotated.main.annotations_pages AS a
                      WHERE a.export_run_id = s.export_run_id AND a.doc_id = s.doc_id
                        AND a.page_num = s.page_num AND a.annotator = s.annotator)
),
-- 4. no latest annotation made on text other than the page's current text.
stale AS (
    SELECT DISTINCT a.doc_id || ':' || a.page_num AS id
    FROM md_annotated.main.vw_annotations_latest_pages AS a
    JOIN current_pages AS c USING (doc_id, page_num)
    WHERE a.text_sha256 IS DISTINCT FROM c.text_sha256
),
-- 5. spans inside the text they were made on, with the text they name,
--    and labels of the labelset.
bad_spans AS (
    SELECT s.doc_id || ':' || s.page_num || '[' || s.start || ',' || s."end" || ')' AS id
    FROM md_annotated.main.annotations_spans AS s
    JOIN md_annotated.main.annotations_pages AS a USING (export_run_id, doc_id, page_num, annotator)
    LEFT JOIN (SELECT DISTINCT doc_id, page_num, text_sha256, text FROM md_raw_ocr.main.pages) AS t
      ON t.doc_id = s.doc_id AND t.page_num = s.page_num AND t.text_sha256 = a.text_sha256
    WHERE s.start < 0 OR s."end" <= s.start
       OR (t.text IS NOT NULL AND (s."end" > length(t.text)
           OR (s.span_text IS NOT NULL AND s.span_text <> substring(t.text, s.start + 1, s."end" - s.start))))
       OR (getvariable('labels') IS NOT NULL AND s.label NOT IN (SELECT label FROM labels))
),
-- 5b. no two spans share annotations_spans' key (export_run_id, doc_id,
--    page_num, annotator, start, "end", label): no index keeps it since
--    V005; `apflow load` writes each run once, from a file it checked.
duplicate_spans AS (
    SELECT doc_id || ':' || page_num || '/' || annotator || '[' || start || ',' || "end" || ')'
           || label || '@' || export_run_id AS id
    FROM md_annotated.main.annotations_spans
    GROUP BY export_run_id, doc_id, page_num, annotator, start, "end", label
    HAVING count(*) > 1
),
-- 6. suggestions refer to pages that exist.
orphan_suggestions AS (
    SELECT DISTINCT x.doc_id || ':' || x.page_num AS id
    FROM (SELECT doc_id, page_num FROM _store_suggestions
          UNION ALL
          SELECT doc_id, page_num FROM md_annotated.main.annotations_suggestions) AS x
    WHERE NOT EXISTS (SELECT 1 FROM all_pages AS p WHERE p.doc_id = x.doc_id AND p.page_num = x.page_num)
),
-- 7. every export run holds the rows it recorded.  An export whose records
--    nobody annotated (no response in the file: Argilla exports every
--    record, annotated or not) is valid and passes; one with no records at
--    all is a warning (an empty dataset, or the wrong file); an export
--    whose loaded pages or spans differ from its recorded counts fails.
export_rows AS (
    SELECT e.export_run_id, e.records, e.pages, e.spans,
           coalesce(p.n, 0) AS loaded_pages, coalesce(s.n, 0) AS loaded_spans
    FROM md_annotated.main.annotations_exports AS e
    LEFT JOIN (SELECT export_run_id, count(*) AS n
               FROM (SELECT DISTINCT export_run_id, doc_id, page_num FROM md_annotated.main.annotations_pages)
               GROUP BY ALL) AS p
      USING (export_run_id)
    LEFT JOIN (SELECT export_run_id, count(*) AS n FROM md_annotated.main.annotations_spans GROUP BY ALL) AS s
      USING (export_run_id)
),
empty_exports AS (
    SELECT CAST(export_run_id AS VARCHAR) AS id
    FROM export_rows
    WHERE loaded_pages <> pages OR loaded_spans <> spans
),
empty_exports_warn AS (
    SELECT CAST(export_run_id AS VARCHAR) AS id
    FROM export_rows
    WHERE coalesce(records, 0) = 0 AND pages = 0 AND loaded_pages = 0 AND loaded_spans = spans
),
-- 8. no document waits for OCR longer than stuck_hours.
stuck AS (
    SELECT d.doc_id AS id
    FROM md_raw_ocr.main.documents AS d
    WHERE NOT EXISTS (SELECT 1 FROM all_pages AS p WHERE p.doc_id = d.doc_id)
      AND NOT EXISTS (SELECT 1 FROM md_raw_ocr.main.ocr_failures AS f WHERE f.doc_id = d.doc_id)
      AND d.uploaded_at < current_timestamp
          - to_hours(CAST(coalesce(getvariable('stuck_hours'), '24') AS BIGINT))
),
results AS (
    SELECT 1.0 AS k, 'coverage' AS check_name, 'fail' AS severity,
           'every document OCR has read has all its pages' AS description,
           (SELECT list(doc_id ORDER BY doc_id) FROM coverage) AS ids,
           NULL::VARCHAR[] AS warn_ids
    UNION ALL SELECT 2, 'page_sha256', 'fail', 'every page''s text_sha256 is the SHA-256 of its text',
           (SELECT list(id ORDER BY id) FROM page_sha), NULL
    UNION ALL SELECT 3, 'orphan_annotations', 'fail', 'every annotation has its page, every span its annotation',
           (SELECT list(id ORDER BY id) FROM orphans), NULL
    UNION ALL SELECT 4, 'stale_annotations', 'fail', 'the latest annotations were made on the page''s current text',
           (SELECT list(id ORDER BY id) FROM stale), NULL
    UNION ALL SELECT 5, 'spans_valid', 'fail', 'spans lie inside their text, name its characters and use labels of the labelset',
           (SELECT list(id ORDER BY id) FROM bad_spans), NULL
    UNION ALL SELECT 5.5, 'duplicate_spans', 'fail', 'no span is loaded twice (same run, page, annotator, offsets and label)',
           (SELECT list(id ORDER BY id) FROM duplicate_spans), NULL
    UNION ALL SELECT 6, 'suggestions_pages', 'fail', 'suggestions refer to pages that exist',
           (SELECT list(id ORDER BY id) FROM orphan_suggestions), NULL
    UNION ALL SELECT 7, 'empty_exports', 'fail',
           'every export run holds the pages and spans it recorded (warn: an export with no records)',
           (SELECT list(id ORDER BY id) FROM empty_exports),
           (SELECT list(id ORDER BY id) FROM empty_exports_warn)
    UNION ALL SELECT 8, 'stuck_documents', 'fail',
           'no document waits for OCR longer than ' || coalesce(getvariable('stuck_hours'), '24') || ' hours',
           (SELECT list(id ORDER BY id) FROM stuck), NULL
)
SELECT check_name,
       CASE WHEN coalesce(len(ids), 0) > 0 THEN severity
            WHEN coalesce(len(warn_ids), 0) > 0 THEN 'warn' ELSE 'ok' END AS status,
       coalesce(len(ids), 0) + coalesce(len(warn_ids), 0) AS count,
       coalesce(array_to_string(list_concat(coalesce(ids, []), coalesce(warn_ids, []))[1:5], ','), '') AS examples,
       description
FROM results
ORDER BY k;
