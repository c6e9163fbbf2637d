-- V003__preannotate.sql: the cache of LLM pre-annotation answers.
--
-- database: md_raw_ocr
--
-- Applied once (recorded in md_raw_ocr.main.schema_migrations); never edit
-- it once applied anywhere: add a new V###__ file instead.
--
-- `apflow preannotate --engine ollama` asks a model for the entities of a
-- page's text and keeps the raw answer here, keyed by what determines it:
-- the text (text_sha256), the model and the prompt version (a change of
-- prompt, schema or chunking that can change answers is a new version).
-- A re-run, or the same page text in another dataset, sends no request.
-- answer is JSON text:
--   {"chunks":[{"start":CP,"end":CP,"entities":[{"text":..,"label":..}]}]}
-- with start/end code-point offsets of each chunk of the page sent; the
-- spans are found again from it (include/apflow/ollama.h).
CREATE TABLE IF NOT EXISTS md_raw_ocr.main.preannotate_cache (
    text_sha256    VARCHAR     NOT NULL,
    model          VARCHAR     NOT NULL,
    prompt_version VARCHAR     NOT NULL,
    answer         VARCHAR     NOT NULL,
    requests       INTEGER     NOT NULL DEFAULT 1, -- HTTP requests it took, retries included
    created_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (text_sha256, model, prompt_version)
);
