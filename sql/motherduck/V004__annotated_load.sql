-- V004__annotated_load.sql: what `apflow load` needs beyond V002.
--
-- database: md_annotated
--
-- Applied once by `apflow init` (or the first command that needs the
-- warehouse) and recorded in md_annotated.main.schema_migrations.  Every
-- name is fully qualified and every statement may run twice.  Never edit
-- this file once it has been applied anywhere: add a new V###__ file.
--
-- annotations_exports gets the counts a load reports (records read, spans
-- whose UTF-16 offsets were converted, suggestions kept), annotations_spans
-- its dataset, annotations_pages the annotator's user id; the suggestions
-- an export carries (Argilla keeps one per question and record, with its
-- agent) are kept per run, so that the panels can score each agent
-- against the SMEs' submitted spans of the same export.  The two views
-- give, per dataset and page, the rows of the latest export holding that
-- page (latest: pulled last, then loaded last).

ALTER TABLE md_annotated.main.annotations_exports ADD COLUMN IF NOT EXISTS records INTEGER DEFAULT 0;
ALTER TABLE md_annotated.main.annotations_exports ADD COLUMN IF NOT EXISTS converted_spans INTEGER DEFAULT 0;
ALTER TABLE md_annotated.main.annotations_exports ADD COLUMN IF NOT EXISTS suggestions INTEGER DEFAULT 0;
-- The Argilla user id beside the annotator's name (pull gives usernames;
-- an SDK export only the ids, which are then the annotator).
ALTER TABLE md_annotated.main.annotations_pages ADD COLUMN IF NOT EXISTS annotator_id VARCHAR;
ALTER TABLE md_annotated.main.annotations_spans ADD COLUMN IF NOT EXISTS argilla_dataset VARCHAR;

-- One row per suggested span of an export (entities.suggestion).
CREATE TABLE IF NOT EXISTS md_annotated.main.annotations_suggestions (
    export_run_id   BIGINT    NOT NULL,
    doc_id          VARCHAR   NOT NULL,
    page_num        INTEGER   NOT NULL CHECK (page_num >= 1),
    agent           VARCHAR   NOT NULL,
    start           INTEGER   NOT NULL CHECK (start >= 0),
    "end"           INTEGER   NOT NULL,
    label           VARCHAR   NOT NULL,
    score           DOUBLE,
    PRIMARY KEY (export_run_id, doc_id, page_num, agent, start, "end", label),
    CHECK (start < "end")
);

CREATE OR REPLACE VIEW md_annotated.main.vw_annotations_latest_runs AS
SELECT argilla_dataset, doc_id, page_num, export_run_id
FROM (
    SELECT DISTINCT p.argilla_dataset, p.doc_id, p.page_num, p.export_run_id,
           coalesce(e.exported_at, e.loaded_at) AS ranked_at
    FROM md_annotated.main.annotations_pages AS p
    JOIN md_annotated.main.annotations_exports AS e USING (export_run_id)
)
QUALIFY row_number() OVER (PARTITION BY argilla_dataset, doc_id, page_num
                           ORDER BY ranked_at DESC, export_run_id DESC) = 1;

CREATE OR REPLACE VIEW md_annotated.main.vw_annotations_latest_pages AS
SELECT p.*
FROM md_annotated.main.annotations_pages AS p
JOIN md_annotated.main.vw_annotations_latest_runs AS l
  USING (argilla_dataset, doc_id, page_num, export_run_id);

CREATE OR REPLACE VIEW md_annotated.main.vw_annotations_latest_spans AS
SELECT s.*, p.status, p.text_sha256
FROM md_annotated.main.annotations_spans AS s
JOIN md_annotated.main.vw_annotations_latest_pages AS p
  USING (export_run_id, argilla_dataset, doc_id, page_num, annotator);
