-- merge_suggestions_for_argilla.sql: one Argilla record per exported page,
-- with every agent's suggested spans (`apflow merge`).
--
-- Parameters (DuckDB variables; apflow sets them, or by hand in a shell):
--   SET VARIABLE pages_glob       = 'argilla/in/vessels_ocr_x/pages/*/*.parquet';
--                                   -- or a list of files: apflow passes the
--                                   -- files its manifest names
--   SET VARIABLE suggestions_glob = 'argilla/in/vessels_ocr_x/suggestions/*/*.parquet';
--   SET VARIABLE processed_glob   = 'argilla/in/vessels_ocr_x/suggestions/*/_pages/*.parquet';
--   SET VARIABLE labels           = 'VESSEL_NAME,IMO_NUMBER,...';  -- the labelset's labels
--   SET VARIABLE labelset_version = 'v1';
--   SET VARIABLE doc_from         = NULL;  -- optional: only documents with
--   SET VARIABLE doc_to           = NULL;  -- doc_from <= doc_id < doc_to
--                                   (NULL or unset: no bound; a NULL
--                                   doc_id goes with the first range)
--   ${target}  the output file, a string literal `apflow` fills in (in a
--              shell write it yourself: 'argilla_records.parquet').
-- apflow runs this file once per range of documents (a few thousand pages
-- each, so that memory does not grow with the dataset: DuckDB's list
-- aggregates cannot spill to disk) and joins the ranges' files, in doc_id
-- order, into argilla_records.parquet; the rows are those of one run over
-- the whole dataset, and the counts below add up over the ranges (agents:
-- apflow counts the distinct names of agent_names).
-- apflow reads the pages through the export's manifest (a glob over
-- pages/ may see two exports for a moment while one replaces the other);
-- each glob must match at least one file (apflow puts an empty file of
-- the schema where there is none).
--
-- Suggestions (PREANNOTATION_SCHEMA.md) are checked against the page they
-- name; left out and counted:
--   stale         text_sha256 differs from the exported page's (the text
--                 changed after pre-annotation)
--   not_exported  no such page in the export
--   invalid       offsets outside the text or empty, a label outside the
--                 labelset, span_text that is not the text at the offsets,
--                 a question other than 'entities', an agent name Argilla
--                 refuses
-- Identical spans (agent, start, end, label) count once (the highest score).
-- Argilla's span question takes no overlapping spans, so within one agent
-- a span is left out when an overlapping span ranks above it: higher
-- score, then longer, then earlier, then label name (counted as
-- overlapped).  Spans of different agents may overlap: each agent is its
-- own suggestion.
--
-- Output, one row per page (sorted by doc_id, page_num):
--   id VARCHAR ('<doc_id>:<page_num>'), doc_id, page_num INTEGER, text,
--   text_sha256, filename, labelset_version, source VARCHAR (the OCR engine
--   that produced the text), engine VARCHAR (the agents that processed the
--   page, comma-separated and sorted; NULL when none), suggestions_json
--   VARCHAR (a JSON array, one element per agent with spans, by agent:
--   {"question_name":"entities","value":[{"start","end","label"}...] sorted
--   by start, end, label,"score":[one per span] or null when the agent gave
--   none,"agent":..,"type":"model"}), n_spans INTEGER (all agents),
--   min_score DOUBLE (NULL without scored spans), agreement DOUBLE (the
--   mean over pairs of agents that processed the page of the exact-match
--   span F1, 2|A∩B|/(|A|+|B|), 1.0 when both found nothing; 1.0 with fewer
--   than two agents).

CREATE OR REPLACE TEMP TABLE _merge_pages AS
SELECT doc_id, CAST(page_num AS INTEGER) AS page_num, text, text_sha256, filename, engine,
       length(text) AS n_chars
FROM read_parquet(getvariable('pages_glob'), hive_partitioning = true, hive_types = {'doc_id': VARCHAR})
WHERE ((getvariable('doc_from') IS NULL OR doc_id >= getvariable('doc_from'))
       AND (getvariable('doc_to') IS NULL OR doc_id < getvariable('doc_to'))
       OR (doc_id IS NULL AND getvariable('doc_from') IS NULL));

CREATE OR REPLACE TEMP TABLE _merge_sugg AS
SELECT s.doc_id, CAST(s.page_num AS INTEGER) AS page_num, s.agent, s.label,
       CAST(s.start AS BIGINT) AS start, CAST(s."end" AS BIGINT) AS "end", CAST(s.score AS DOUBLE) AS score,
       s.text_sha256,
       CASE
           WHEN p.doc_id IS NULL THEN 'not_exported'
           WHEN s.text_sha256 IS DISTINCT FROM p.text_sha256 THEN 'stale'
           WHEN s.question_name IS DISTINCT FROM 'entities' THEN 'invalid'
           WHEN s.start IS NULL OR s."end" IS NULL OR s.start < 0 OR s."end" <= s.start
                OR s."end" > p.n_chars THEN 'invalid'
           WHEN s.label IS NULL OR NOT list_contains(string_split(getvariable('labels'), ','), s.label) THEN 'invalid'
           WHEN s.span_text IS NOT NULL
                AND s.span_text <> substring(p.text, CAST(s.start AS BIGINT) + 1, CAST(s."end" - s.start AS BIGINT)) THEN 'invalid'
           WHEN s.agent IS NULL OR length(s.agent) > 200
                OR NOT regexp_full_match(s.agent, '[a-zA-Z0-9_:./ -]*[a-zA-Z0-9][a-zA-Z0-9_:./ -]*') THEN 'invalid'
           ELSE 'ok'
       END AS verdict
FROM read_parquet(getvariable('suggestions_glob'), union_by_name = true) AS s
LEFT JOIN _merge_pages AS p ON p.doc_id = s.doc_id AND p.page_num = CAST(s.page_num AS INTEGER)
WHERE ((getvariable('doc_from') IS NULL OR s.doc_id >= getvariable('doc_from'))
       AND (getvariable('doc_to') IS NULL OR s.doc_id < getvariable('doc_to'))
       OR (s.doc_id IS NULL AND getvariable('doc_from') IS NULL));

CREATE OR REPLACE TEMP TABLE _merge_ok AS
SELECT doc_id, page_num, agent, label, start, "end", max(score) AS score
FROM _merge_sugg WHERE verdict = 'ok'
GROUP BY doc_id, page_num, agent, label, start, "end";

CREATE OR REPLACE TEMP TABLE _merge_kept AS
SELECT a.*
FROM _merge_ok AS a
WHERE NOT EXISTS (
    SELECT 1 FROM _merge_ok AS b
    WHERE b.doc_id = a.doc_id AND b.page_num = a.page_num AND b.agent = a.agent
      AND b.start < a."end" AND a.start < b."end"
      AND NOT (b.start = a.start AND b."end" = a."end" AND b.label = a.label)
      AND (coalesce(b.score, -1) > coalesce(a.score, -1)
           OR (coalesce(b.score, -1) = coalesce(a.score, -1)
               AND (b."end" - b.start > a."end" - a.start
                    OR (b."end" - b.start = a."end" - a.start
                        AND (b.start < a.start OR (b.start = a.start AND b.label < a.label)))))));

-- The agents that processed each page's current text: those that listed
-- it in their _pages files, and those with spans for it.
CREATE OR REPLACE TEMP TABLE _merge_agents AS
SELECT DISTINCT q.doc_id, q.page_num, q.agent
FROM (
    SELECT doc_id, CAST(page_num AS INTEGER) AS page_num, text_sha256, agent
    FROM read_parquet(getvariable('processed_glob'), union_by_name = true)
    WHERE ((getvariable('doc_from') IS NULL OR doc_id >= getvariable('doc_from'))
           AND (getvariable('doc_to') IS NULL OR doc_id < getvariable('doc_to'))
           OR (doc_id IS NULL AND getvariable('doc_from') IS NULL))
    UNION ALL
    SELECT doc_id, page_num, text_sha256, agent FROM _merge_sugg WHERE verdict IN ('ok', 'invalid')
) AS q
JOIN _merge_pages AS p ON p.doc_id = q.doc_id AND p.page_num = q.page_num AND p.text_sha256 = q.text_sha256
WHERE q.agent IS NOT NULL AND length(q.agent) <= 200
  AND regexp_full_match(q.agent, '[a-zA-Z0-9_:./ -]*[a-zA-Z0-9][a-zA-Z0-9_:./ -]*');

CREATE OR REPLACE TEMP TABLE _merge_elems AS
SELECT doc_id, page_num, agent,
       list({'start': start, 'end': "end", 'label': label} ORDER BY start, "end", label) AS value,
       CASE WHEN bool_or(score IS NULL) THEN NULL
            ELSE list(score ORDER BY start, "end", label) END AS scores,
       count(*) AS n,
       min(score) AS min_score
FROM _merge_kept
GROUP BY doc_id, page_num, agent;

CREATE OR REPLACE TEMP TABLE _merge_agree AS
WITH pairs AS (
    SELECT x.doc_id, x.page_num, x.agent AS a1, y.agent AS a2
    FROM _merge_agents AS x
    JOIN _merge_agents AS y ON y.doc_id = x.doc_id AND y.page_num = x.page_num AND x.agent < y.agent
),
counts AS (
    SELECT doc_id, page_num, agent, count(*) AS n FROM _merge_kept GROUP BY doc_id, page_num, agent
),
matches AS (
    SELECT a.doc_id, a.page_num, a.agent AS a1, b.agent AS a2, count(*) AS n
    FROM _merge_kept AS a
    JOIN _merge_kept AS b ON b.doc_id = a.doc_id AND b.page_num = a.page_num AND b.start = a.start
         AND b."end" = a."end" AND b.label = a.label AND a.agent < b.agent
    GROUP BY a.doc_id, a.page_num, a.agent, b.agent
)
SELECT p.doc_id, p.page_num,
       avg(CASE WHEN coalesce(c1.n, 0) + coalesce(c2.n, 0) = 0 THEN 1.0
                ELSE 2.0 * coalesce(m.n, 0) / (coalesce(c1.n, 0) + coalesce(c2.n, 0)) END) AS agreement
FROM pairs AS p
LEFT JOIN counts AS c1 ON c1.doc_id = p.doc_id AND c1.page_num = p.page_num AND c1.agent = p.a1
LEFT JOIN counts AS c2 ON c2.doc_id = p.doc_id AND c2.page_num = p.page_num AND c2.agent = p.a2
LEFT JOIN matches AS m ON m.doc_id = p.doc_id AND m.page_num = p.page_num AND m.a1 = p.a1 AND m.a2 = p.a2
GROUP BY p.doc_id, p.page_num;

COPY (
    WITH el AS (
        SELECT doc_id, page_num,
               CAST(to_json(list({'question_name': 'entities', 'value': value, 'score': scores,
                                  'agent': agent, 'type': 'model'} ORDER BY agent)) AS VARCHAR) AS suggestions_json,
               CAST(sum(n) AS INTEGER) AS n_spans,
               min(min_score) AS min_score
        FROM _merge_elems
        GROUP BY doc_id, page_num
    ),
    ag AS (
        SELECT doc_id, page_num, string_agg(agent, ',' ORDER BY agent) AS engine
        FROM _merge_agents
        GROUP BY doc_id, page_num
    )
    SELECT p.doc_id || ':' || CAST(p.page_num AS VARCHAR) AS id,
           p.doc_id,
           p.page_num,
           p.text,
           p.text_sha256,
           p.filename,
           CAST(getvariable('labelset_version') AS VARCHAR) AS labelset_version,
           p.engine AS source,
           ag.engine AS engine,
           coalesce(el.suggestions_json, '[]') AS suggestions_json,
           coalesce(el.n_spans, 0) AS n_spans,
           el.min_score,
           CAST(coalesce(ar.agreement, 1.0) AS DOUBLE) AS agreement
    FROM _merge_pages AS p
    LEFT JOIN el ON el.doc_id = p.doc_id AND el.page_num = p.page_num
    LEFT JOIN ag ON ag.doc_id = p.doc_id AND ag.page_num = p.page_num
    LEFT JOIN _merge_agree AS ar ON ar.doc_id = p.doc_id AND ar.page_num = p.page_num
    ORDER BY p.doc_id, p.page_num
) TO ${target} (FORMAT parquet);

-- What the merge did (apflow prints it).
SELECT
    (SELECT count(*) FROM _merge_pages) AS pages,
    (SELECT count(DISTINCT (doc_id, page_num)) FROM _merge_kept) AS pages_with_spans,
    (SELECT count(*) FROM _merge_kept) AS spans,
    (SELECT count(DISTINCT agent) FROM _merge_kept) AS agents,
    (SELECT count(*) FROM _merge_sugg WHERE verdict = 'stale') AS stale,
    (SELECT count(*) FROM _merge_sugg WHERE verdict = 'not_exported') AS not_exported,
    (SELECT count(*) FROM _merge_sugg WHERE verdict = 'invalid') AS invalid,
    (SELECT count(*) FROM _merge_sugg WHERE verdict = 'ok') - (SELECT count(*) FROM _merge_ok) AS duplicates,
    (SELECT count(*) FROM _merge_ok) - (SELECT count(*) FROM _merge_kept) AS overlapped,
    (SELECT string_agg(DISTINCT agent, ',') FROM _merge_kept) AS agent_names;
