-- export_for_argilla.sql: the pages of a dataset, as Parquet partitioned by
-- doc_id, for pre-annotation and Argilla (`apflow export`).
--
-- Parameters (DuckDB variables; apflow sets them, or by hand in a shell):
--   SET VARIABLE docs  = 'id1,id2';   -- only these doc_ids; '' or NULL: all
--   SET VARIABLE since = '2026-12-01T00:00:00Z';  -- only pages created
--                                     -- at or after; '' or NULL: all
--   SET VARIABLE doc_from = 'a...';  -- optional: only doc_id >= doc_from
--   SET VARIABLE doc_to   = 'b...';  -- optional: only doc_id < doc_to
--                                     (apflow exports a range of documents
--                                     at a time into the same directory, so
--                                     that memory does not grow with the
--                                     pages; NULL or unset: no bound)
--   ${target}  the output directory, a string literal that `apflow`
--              fills in (in a DuckDB shell write it yourself, e.g.
--              'argilla/in/vessels_ocr_batch1/pages').
--
-- One row per page from its latest OCR run (vw_argilla_pages):
--   doc_id VARCHAR (in the path: doc_id=<doc_id>/, Hive style, not in the
--   file), page_num INTEGER, text VARCHAR, text_sha256 VARCHAR,
--   filename VARCHAR, chars INTEGER (code points), engine VARCHAR (what
--   produced the text).
-- Pages whose text is empty are left out: there is nothing to annotate.
--
-- `apflow export` writes into a private directory and then puts the files
-- into the store under names carrying the export's id, and flips
-- pages/_manifest.json, so a reader never sees half an export
-- (include/apflow/dataset.h).

COPY (
    SELECT
        doc_id,
        CAST(page_num AS INTEGER) AS page_num,
        text,
        text_sha256,
        filename,
        CAST(chars AS INTEGER) AS chars,
        engine
    FROM md_raw_ocr.main.vw_argilla_pages
    WHERE text <> ''
      AND (coalesce(getvariable('docs'), '') = ''
           OR list_contains(string_split(getvariable('docs'), ','), doc_id))
      AND (coalesce(getvariable('since'), '') = ''
           OR created_at >= CAST(getvariable('since') AS TIMESTAMPTZ))
      AND (getvariable('doc_from') IS NULL OR doc_id >= getvariable('doc_from'))
      AND (getvariable('doc_to') IS NULL OR doc_id < getvariable('doc_to'))
    ORDER BY doc_id, page_num
) TO ${target} (FORMAT parquet, PARTITION_BY (doc_id), OVERWRITE_OR_IGNORE true);
