-- V002__annotated.sql: the annotated side of the warehouse, md_annotated.main.
--
-- database: md_annotated
--
-- Applied once by `apflow init` (which records it in
-- md_annotated.main.schema_migrations); it also runs as is from a DuckDB
-- shell with md_annotated attached, or on MotherDuck.  Never edit this file
-- once it has been applied anywhere: add a new V###__... file instead.
--
-- Each load of an Argilla export is one run (export_run_id).  Loading the
-- same file again (same source_sha256) is a no-op; a re-export is a new run.
-- Span offsets are Unicode code points into the page text, start inclusive,
-- end exclusive.

CREATE SEQUENCE IF NOT EXISTS md_annotated.main.export_run_id_seq START 1;

CREATE TABLE IF NOT EXISTS md_annotated.main.annotations_exports (
    export_run_id   BIGINT      PRIMARY KEY DEFAULT nextval('md_annotated.main.export_run_id_seq'),
    argilla_dataset VARCHAR     NOT NULL,
    source_uri      VARCHAR     NOT NULL,   -- the records.parquet loaded
    source_sha256   VARCHAR     NOT NULL UNIQUE,
    exported_at     TIMESTAMPTZ,            -- when Argilla's data was pulled
    loaded_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    pages           INTEGER     NOT NULL DEFAULT 0 CHECK (pages >= 0),
    spans           INTEGER     NOT NULL DEFAULT 0 CHECK (spans >= 0)
);

-- One row per record (page) and annotator in an export.
CREATE TABLE IF NOT EXISTS md_annotated.main.annotations_pages (
    export_run_id   BIGINT      NOT NULL,
    doc_id          VARCHAR     NOT NULL,
    page_num        INTEGER     NOT NULL CHECK (page_num >= 1),
    annotator       VARCHAR     NOT NULL,
    argilla_dataset VARCHAR     NOT NULL,
    text_sha256     VARCHAR,                -- of the text the annotator saw
    status          VARCHAR,                -- 'submitted', 'discarded', 'draft'
    submitted_at    TIMESTAMPTZ,
    PRIMARY KEY (export_run_id, doc_id, page_num, annotator)
);

-- One row per span.  offsets_converted marks spans whose offsets were given
-- in UTF-16 units (Argilla's web UI on text with emoji) and were converted.
CREATE TABLE IF NOT EXISTS md_annotated.main.annotations_spans (
    export_run_id     BIGINT    NOT NULL,
    doc_id            VARCHAR   NOT NULL,
    page_num          INTEGER   NOT NULL CHECK (page_num >= 1),
    annotator         VARCHAR   NOT NULL,
    start             INTEGER   NOT NULL CHECK (start >= 0),
    "end"             INTEGER   NOT NULL,
    label             VARCHAR   NOT NULL,
    span_text         VARCHAR,
    offsets_converted BOOLEAN   NOT NULL DEFAULT false,
    PRIMARY KEY (export_run_id, doc_id, page_num, annotator, start, "end", label),
    CHECK (start < "end")
);
