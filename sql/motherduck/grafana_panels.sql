-- grafana_panels.sql: the dashboard's queries, one per panel.
--
-- Each query follows a "-- name: NAME" line; the comment lines right after
-- it describe the panel: title, chart (bar, line, stat or table), x (the
-- column along the axis or the category), y (the columns drawn), unit.
-- `apflow panels --name NAME` runs one, `apflow panels --grafana-dashboard
-- FILE` writes them into a Grafana dashboard (MotherDuck DuckDB data
-- source), `apflow serve` draws them at /dashboard.  From a DuckDB shell,
-- with md_raw_ocr and md_annotated attached, each runs as it is.  They
-- read only, and each gives rows (possibly none) on an empty warehouse.
--
-- Annotations count when submitted, from the latest export of each page
-- (vw_annotations_latest_*).  Suggestions are those the exports carry
-- (Argilla keeps one per record, from the agent named).

-- name: docs_ingested_per_day
-- title: Documents and pages ingested per day
-- chart: bar
-- x: day
-- y: documents,pages
WITH d AS (
    SELECT CAST(uploaded_at AS DATE) AS day, count(*) AS documents
    FROM md_raw_ocr.main.documents GROUP BY ALL
), p AS (
    SELECT CAST(created_at AS DATE) AS day, count(*) AS pages
    FROM md_raw_ocr.main.vw_argilla_pages GROUP BY ALL
)
SELECT CAST(day AS VARCHAR) AS day, coalesce(d.documents, 0) AS documents, coalesce(p.pages, 0) AS pages
FROM d FULL JOIN p USING (day)
ORDER BY day;

-- name: ocr_coverage
-- title: OCR coverage
-- chart: stat
-- x: documents
-- y: coverage_pct
-- unit: percent
SELECT count(*) AS documents,
       count(*) FILTER (WHERE coalesce(p.n, 0) >= greatest(coalesce(d.pages, 1), 1)) AS documents_read,
       coalesce(sum(d.pages), 0) AS pages_expected,
       coalesce(sum(least(coalesce(p.n, 0), coalesce(d.pages, p.n, 0))), 0) AS pages_read,
       CASE WHEN count(*) = 0 THEN NULL
            ELSE round(100.0 * count(*) FILTER (WHERE coalesce(p.n, 0) >= greatest(coalesce(d.pages, 1), 1))
                       / count(*), 1) END AS coverage_pct
FROM md_raw_ocr.main.documents AS d
LEFT JOIN (SELECT doc_id, count(DISTINCT page_num) AS n FROM md_raw_ocr.main.pages GROUP BY ALL) AS p
  USING (doc_id);

-- name: engine_mix
-- title: Pages per OCR engine
-- chart: bar
-- x: engine
-- y: pages
SELECT engine, count(*) AS pages,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
FROM md_raw_ocr.main.vw_argilla_pages
GROUP BY engine
ORDER BY pages DESC, engine;

-- name: label_distribution
-- title: Spans per label: suggested and annotated
-- chart: bar
-- x: label
-- y: suggested,annotated
WITH s AS (
    SELECT x.label, count(*) AS suggested
    FROM md_annotated.main.annotations_suggestions AS x
    JOIN (SELECT DISTINCT doc_id, page_num, export_run_id FROM md_annotated.main.vw_annotations_latest_pages) AS l
      USING (doc_id, page_num, export_run_id)
    GROUP BY ALL
), a AS (
    SELECT label, count(*) AS annotated
    FROM md_annotated.main.vw_annotations_latest_spans
    WHERE status = 'submitted'
    GROUP BY ALL
)
SELECT label, coalesce(s.suggested, 0) AS suggested, coalesce(a.annotated, 0) AS annotated
FROM s FULL JOIN a USING (label)
ORDER BY label;

-- name: annotator_throughput
-- title: Pages submitted per annotator per day
-- chart: bar
-- x: day
-- y: pages
SELECT CAST(CAST(coalesce(p.submitted_at, e.loaded_at) AS DATE) AS VARCHAR) AS day,
       p.annotator, count(*) AS pages
FROM md_annotated.main.vw_annotations_latest_pages AS p
JOIN md_annotated.main.annotations_exports AS e USING (export_run_id)
WHERE p.status = 'submitted'
GROUP BY ALL
ORDER BY day, annotator;

-- name: suggestion_quality
-- title: Suggestions against submitted annotations, per agent and label
-- chart: table
-- x: label
-- y: precision,recall
-- Exact matches (start, end, label) on the pages with a submitted
-- annotation, in the latest export; the gold spans are the union of the
-- submitted annotators' spans.
WITH pages AS (
    SELECT DISTINCT export_run_id, doc_id, page_num
    FROM md_annotated.main.vw_annotations_latest_pages WHERE status = 'submitted'
), gold AS (
    SELECT DISTINCT export_run_id, doc_id, page_num, start, "end", label
    FROM md_annotated.main.vw_annotations_latest_spans WHERE status = 'submitted'
), sugg AS (
    SELECT s.export_run_id, s.doc_id, s.page_num, s.agent, s.start, s."end", s.label
    FROM md_annotated.main.annotations_suggestions AS s JOIN pages USING (export_run_id, doc_id, page_num)
), agents AS (
    SELECT DISTINCT export_run_id, doc_id, page_num, agent FROM sugg
), per AS (
    SELECT agent, label, count(*) AS suggested, count(g.label) AS matched, 0 AS annotated, 0 AS found
    FROM sugg LEFT JOIN gold AS g USING (export_run_id, doc_id, page_num, start, "end", label)
    GROUP BY ALL
    UNION ALL
    -- Recall counts the gold spans of the pages an agent suggested on.
    SELECT a.agent, g.label, 0, 0, count(*), count(s.label)
    FROM gold AS g JOIN agents AS a USING (export_run_id, doc_id, page_num)
    LEFT JOIN sugg AS s USING (export_run_id, doc_id, page_num, agent, start, "end", label)
    GROUP BY ALL
)
SELECT agent, label, sum(suggested) AS suggested, sum(annotated) AS annotated, sum(matched) AS matched,
       CASE WHEN sum(suggested) > 0 THEN round(sum(matched) / sum(suggested), 3) END AS precision,
       CASE WHEN sum(annotated) > 0 THEN round(sum(found) / sum(annotated), 3) END AS recall
FROM per
GROUP BY ALL
ORDER BY agent, label;

-- name: agent_f1_per_export
-- title: Suggestion F1 per export run
-- chart: line
-- x: export_run_id
-- y: f1
WITH pages AS (
    SELECT DISTINCT export_run_id, doc_id, page_num
    FROM md_annotated.main.annotations_pages WHERE status = 'submitted'
), gold AS (
    SELECT DISTINCT s.export_run_id, s.doc_id, s.page_num, s.start, s."end", s.label
    FROM md_annotated.main.annotations_spans AS s
    JOIN md_annotated.main.annotations_pages AS p USING (export_run_id, doc_id, page_num, annotator)
    WHERE p.status = 'submitted'
), sugg AS (
    SELECT s.* FROM md_annotated.main.annotations_suggestions AS s JOIN pages USING (export_run_id, doc_id, page_num)
), agents AS (
    SELECT DISTINCT export_run_id, doc_id, page_num, agent FROM sugg
), counts AS (
    SELECT a.export_run_id, a.agent,
           (SELECT count(*) FROM sugg AS s WHERE s.export_run_id = a.export_run_id AND s.agent = a.agent) AS suggested,
           (SELECT count(*) FROM gold AS g JOIN agents AS b USING (export_run_id, doc_id, page_num)
            WHERE b.export_run_id = a.export_run_id AND b.agent = a.agent) AS annotated,
           (SELECT count(*) FROM sugg AS s JOIN gold AS g USING (export_run_id, doc_id, page_num, start, "end", label)
            WHERE s.export_run_id = a.export_run_id AND s.agent = a.agent) AS matched
    FROM (SELECT DISTINCT export_run_id, agent FROM sugg) AS a
)
SELECT export_run_id, agent, suggested, annotated, matched,
       CASE WHEN suggested + annotated > 0 THEN round(2.0 * matched / (suggested + annotated), 3) END AS f1
FROM counts
ORDER BY export_run_id, agent;

-- name: queue_depth
-- title: Documents per stage
-- chart: bar
-- x: stage
-- y: documents
WITH d AS (
    SELECT d.doc_id,
           EXISTS (SELECT 1 FROM md_raw_ocr.main.pages AS p WHERE p.doc_id = d.doc_id) AS has_pages,
           EXISTS (SELECT 1 FROM md_raw_ocr.main.ocr_failures AS f WHERE f.doc_id = d.doc_id) AS failed,
           EXISTS (SELECT 1 FROM md_annotated.main.vw_annotations_latest_pages AS a
                   WHERE a.doc_id = d.doc_id AND a.status = 'submitted') AS annotated
    FROM md_raw_ocr.main.documents AS d
), stages AS (
    SELECT * FROM (VALUES (1, 'awaiting_ocr'), (2, 'ocr_failed'), (3, 'awaiting_annotation'), (4, 'annotated'))
        AS t(k, stage)
)
SELECT stage,
       (SELECT count(*) FROM d WHERE CASE WHEN annotated THEN 'annotated'
                                          WHEN has_pages THEN 'awaiting_annotation'
                                          WHEN failed THEN 'ocr_failed'
                                          ELSE 'awaiting_ocr' END = stages.stage) AS documents
FROM stages
ORDER BY k;
