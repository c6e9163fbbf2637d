-- V001__raw_ocr.sql: the raw side of the warehouse, md_raw_ocr.main.
--
-- database: md_raw_ocr
--
-- Applied once by `apflow init` (which records it in
-- md_raw_ocr.main.schema_migrations); it also runs as is from a DuckDB shell
-- with md_raw_ocr attached, or on MotherDuck.  Every name is fully
-- qualified and every statement may run twice.  Never edit this file once
-- it has been applied anywhere: add a V003__... file instead.
--
-- Identifiers (DESIGN.md): doc_id is the first 20 hex digits of the PDF's
-- SHA-256; page_num is 1-based; text_sha256 is the hex SHA-256 of the page
-- text's UTF-8 bytes; times are UTC.

CREATE SEQUENCE IF NOT EXISTS md_raw_ocr.main.upload_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS md_raw_ocr.main.ocr_run_id_seq START 1;

-- One row per distinct PDF (same bytes, same doc_id).
CREATE TABLE IF NOT EXISTS md_raw_ocr.main.documents (
    doc_id      VARCHAR     PRIMARY KEY CHECK (regexp_full_match(doc_id, '[0-9a-f]{20}')),
    sha256      VARCHAR     NOT NULL,   -- of the whole file, hex
    filename    VARCHAR,                -- as first uploaded
    bytes       BIGINT      NOT NULL CHECK (bytes >= 0),
    pages       INTEGER     CHECK (pages >= 0),
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    status      VARCHAR     NOT NULL DEFAULT 'uploaded'
);

-- Every upload event, duplicates included.
CREATE TABLE IF NOT EXISTS md_raw_ocr.main.uploads (
    upload_id   BIGINT      PRIMARY KEY DEFAULT nextval('md_raw_ocr.main.upload_id_seq'),
    doc_id      VARCHAR     NOT NULL,
    filename    VARCHAR,
    bytes       BIGINT      NOT NULL CHECK (bytes >= 0),
    sha256      VARCHAR     NOT NULL,
    duplicate   BOOLEAN     NOT NULL DEFAULT false, -- the bytes were already there
    source      VARCHAR,                -- 'http', 'cli' ...
    client      VARCHAR,                -- remote address or user agent
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- One row per `apflow ocr` run.
CREATE TABLE IF NOT EXISTS md_raw_ocr.main.ocr_runs (
    ocr_run_id  BIGINT      PRIMARY KEY DEFAULT nextval('md_raw_ocr.main.ocr_run_id_seq'),
    engine      VARCHAR     NOT NULL,   -- 'mupdf', 'tesseract', 'auto', 'deepseek'
    model       VARCHAR,
    params      VARCHAR,                -- JSON text: dpi, language, shard ...
    started_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    finished_at TIMESTAMPTZ,
    docs        INTEGER     NOT NULL DEFAULT 0,
    pages       INTEGER     NOT NULL DEFAULT 0,
    failed      INTEGER     NOT NULL DEFAULT 0,
    status      VARCHAR     NOT NULL DEFAULT 'running'
);

-- Page text, one row per page and OCR run; a re-run adds rows.
CREATE TABLE IF NOT EXISTS md_raw_ocr.main.pages (
    doc_id      VARCHAR     NOT NULL,
    page_num    INTEGER     NOT NULL CHECK (page_num >= 1),
    ocr_run_id  BIGINT      NOT NULL,
    engine      VARCHAR     NOT NULL,   -- what produced this page's text
    model       VARCHAR,
    text        VARCHAR     NOT NULL,
    text_sha256 VARCHAR     NOT NULL,
    chars       INTEGER     NOT NULL CHECK (chars >= 0), -- Unicode code points
    confidence  DOUBLE,                 -- 0..1 where the engine gives one
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (doc_id, page_num, ocr_run_id)
);

-- What OCR could not do; page_num is NULL when the whole document failed.
CREATE TABLE IF NOT EXISTS md_raw_ocr.main.ocr_failures (
    doc_id      VARCHAR     NOT NULL,
    page_num    INTEGER     CHECK (page_num >= 1),
    ocr_run_id  BIGINT      NOT NULL,
    engine      VARCHAR,
    error       VARCHAR     NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- The text Argilla gets: each page from its latest OCR run.
CREATE OR REPLACE VIEW md_raw_ocr.main.vw_argilla_pages AS
SELECT
    p.doc_id,
    p.page_num,
    p.doc_id || ':' || CAST(p.page_num AS VARCHAR) AS record_id,
    p.ocr_run_id,
    p.engine,
    p.model,
    p.text,
    p.text_sha256,
    p.chars,
    p.confidence,
    p.created_at,
    d.filename
FROM md_raw_ocr.main.pages AS p
LEFT JOIN md_raw_ocr.main.documents AS d ON d.doc_id = p.doc_id
QUALIFY row_number() OVER (PARTITION BY p.doc_id, p.page_num ORDER BY p.ocr_run_id DESC) = 1;
