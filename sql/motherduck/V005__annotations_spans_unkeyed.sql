-- V005__annotations_spans_unkeyed.sql: annotations_spans without its
-- primary-key index.
--
-- database: md_annotated
--
-- Applied once by `apflow init` (or the first command that needs the
-- warehouse), in one transaction with its row in
-- md_annotated.main.schema_migrations.  Never edit this file once it has
-- been applied anywhere: add a new V###__ file.
--
-- Why: keeping V002's seven-column primary key (export_run_id, doc_id,
-- page_num, annotator, start, "end", label) up to date was two thirds of
-- the time `apflow load` spent writing a 1,000,000-span export (1.2 s of
-- 1.8 s for the INSERT; bench/load.sh), and the key is never looked up
-- (every reader scans or joins on export_run_id and the page).  DuckDB
-- cannot drop a constraint, so the table is made anew without it, the rows
-- copied, the old table dropped and the new one given its name; the views
-- of V004 name the table and read it as before.  Columns, their order,
-- types, defaults, NOT NULL and CHECK constraints are V002's plus V004's
-- argilla_dataset.
--
-- Uniqueness of that key is still guaranteed, another way:
--   * annotations_spans has one writer, argilla_export_loader_from_staged.sql,
--     and each load writes only rows of a new export_run_id (from
--     export_run_id_seq, in the load's transaction), so rows of two loads
--     never share a key;
--   * within one load, load_annotated_parquet.sql refuses the whole file
--     when two of its spans share (doc_id, page_num, annotator, start,
--     "end", label) ("the same span twice", with a record's id unique and
--     equal to doc_id:page_num, and an annotator answering once per record);
--   * checks_integrity.sql's duplicate_spans check fails on any two rows
--     sharing the key, however they were written.
-- tests/cli/t1300-load.sh and t1310-check.sh test each of these.

CREATE TABLE md_annotated.main.annotations_spans_v005 (
    export_run_id     BIGINT    NOT NULL,
    doc_id            VARCHAR   NOT NULL,
    page_num          INTEGER   NOT NULL CHECK (page_num >= 1),
    annotator         VARCHAR   NOT NULL,
    start             INTEGER   NOT NULL CHECK (start >= 0),
    "end"             INTEGER   NOT NULL,
    label             VARCHAR   NOT NULL,
    span_text         VARCHAR,
    offsets_converted BOOLEAN   NOT NULL DEFAULT false,
    argilla_dataset   VARCHAR,
    CHECK (start < "end")
);

INSERT INTO md_annotated.main.annotations_spans_v005
SELECT export_run_id, doc_id, page_num, annotator, start, "end", label, span_text,
       offsets_converted, argilla_dataset
FROM md_annotated.main.annotations_spans
ORDER BY export_run_id, doc_id, page_num, annotator, start, "end", label;

DROP TABLE md_annotated.main.annotations_spans;

ALTER TABLE md_annotated.main.annotations_spans_v005 RENAME TO annotations_spans;
