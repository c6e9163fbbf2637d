-- argilla_export_loader_from_staged.sql: writes a staged Argilla export.
--
-- Runs after load_annotated_parquet.sql, on the same connection (it reads
-- the temp tables _incoming_pages, _incoming_spans, _incoming_suggestions
-- and _load_errors).  In one transaction: a new export_run_id from
-- md_annotated.main.export_run_id_seq, one annotations_exports row, and the
-- rows of annotations_pages, annotations_spans and annotations_suggestions.
--
-- Parameters:
--   dataset        the Argilla dataset name
--   source_uri     where the file came from (file path or s3:// URI)
--   source_sha256  hex SHA-256 of the file's bytes
--   exported_at    when the data was pulled from Argilla (ISO 8601), or unset
--
-- A file already loaded (same source_sha256) is a no-op: nothing is
-- written, and the result row says already_loaded with the earlier run.
-- A staged file with rows in _load_errors stops here with an error, so
-- nothing of it is loaded.

SELECT CASE WHEN count(*) > 0
            THEN error('the export has ' || CAST(count(*) AS VARCHAR)
                       || ' invalid rows (see _load_errors); nothing loaded')
       END AS refused
FROM _load_errors;

SET VARIABLE _loaded_before = (
    SELECT max(export_run_id) FROM md_annotated.main.annotations_exports
    WHERE source_sha256 = getvariable('source_sha256'));

BEGIN TRANSACTION;

SET VARIABLE export_run_id = (
    SELECT CASE WHEN getvariable('_loaded_before') IS NULL
                THEN nextval('md_annotated.main.export_run_id_seq') END);

INSERT INTO md_annotated.main.annotations_exports
    (export_run_id, argilla_dataset, source_uri, source_sha256, exported_at, loaded_at,
     pages, spans, records, converted_spans, suggestions)
SELECT getvariable('export_run_id'), getvariable('dataset'), getvariable('source_uri'),
       getvariable('source_sha256'), CAST(getvariable('exported_at') AS TIMESTAMPTZ),
       current_timestamp,
       (SELECT count(*) FROM (SELECT DISTINCT doc_id, page_num FROM _incoming_pages)),
       (SELECT coalesce(sum(n_spans), 0) FROM _incoming_responses),
       (SELECT count(DISTINCT record_id) FROM _incoming_records),
       (SELECT count(*) FROM _incoming_u16 WHERE offsets_converted),
       (SELECT count(*) FROM _incoming_suggestions)
WHERE getvariable('export_run_id') IS NOT NULL;

INSERT INTO md_annotated.main.annotations_pages
    (export_run_id, doc_id, page_num, annotator, argilla_dataset, text_sha256, status,
     submitted_at, annotator_id)
SELECT getvariable('export_run_id'), doc_id, page_num, annotator, argilla_dataset, text_sha256,
       status, submitted_at, annotator_id
FROM _incoming_pages
WHERE getvariable('export_run_id') IS NOT NULL;

INSERT INTO md_annotated.main.annotations_spans
    (export_run_id, doc_id, page_num, annotator, start, "end", label, span_text,
     offsets_converted, argilla_dataset)
SELECT getvariable('export_run_id'), doc_id, page_num, annotator, start, "end", label, span_text,
       offsets_converted, getvariable('dataset')
FROM _incoming_spans
WHERE getvariable('export_run_id') IS NOT NULL;

INSERT INTO md_annotated.main.annotations_suggestions
    (export_run_id, doc_id, page_num, agent, start, "end", label, score)
SELECT getvariable('export_run_id'), doc_id, page_num, agent, start, "end", label, score
FROM _incoming_suggestions
WHERE getvariable('export_run_id') IS NOT NULL;

COMMIT;

SELECT coalesce(getvariable('export_run_id'), getvariable('_loaded_before')) AS export_run_id,
       getvariable('export_run_id') IS NULL AS already_loaded,
       e.pages, e.spans, e.records, e.converted_spans, e.suggestions
FROM md_annotated.main.annotations_exports AS e
WHERE e.export_run_id = coalesce(getvariable('export_run_id'), getvariable('_loaded_before'));
