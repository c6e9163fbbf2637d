-- load_annotated_parquet.sql: stages an Argilla export for loading.
--
-- Reads one records.parquet in the Argilla SDK export layout (DESIGN.md
-- "Argilla export": what `apflow pull` writes, what the SDK's
-- dataset.records.to_datasets() or Dataset.to_hub give) and fills, without
-- writing to the warehouse:
--
--   _incoming_pages        one row per record and annotator (response)
--   _incoming_spans        one row per span of a response, offsets in code points
--                          (a view: unnested from _incoming_records when read)
--   _incoming_suggestions  one row per suggested span (entities.suggestion)
--   _load_errors           one row per problem; a file with any is not loaded
--
-- Then argilla_export_loader_from_staged.sql writes them in one transaction.
--
-- Cost.  The file is read once; the page text is copied nowhere (only the
-- few texts with characters above U+FFFF are kept, for the UTF-16 reading);
-- the spans are stored once, by the loader's INSERT; each check is one
-- set-based pass (bench/load.sh: 100,000 records, 1,000,000 spans).
--
-- Parameters (SET VARIABLE name = '...' in a DuckDB shell; `apflow load`
-- sets them):
--   parquet   the file to read (a path DuckDB can open)
--   dataset   the Argilla dataset name
--   labels    the labelset's labels, comma-separated
--             ('VESSEL_NAME,IMO_NUMBER,...'); a span with another label is an error
--
-- Checks, each a row of _load_errors naming the record, the annotator and
-- the reason: an id that is not '<doc_id>:<page_num>' or appears twice, no
-- text, responses whose lists (users, status ...) differ in length, an
-- annotator answering twice, a page that md_raw_ocr.main.pages does not
-- have, and per span: start < 0, start >= end, end past the end of the
-- text, an unknown label, the same span twice.
--
-- Offsets.  Spans count Unicode code points (as Python str does).  Argilla's
-- web UI counts UTF-16 code units instead on text with characters above
-- U+FFFF, emoji (argilla#5729), so a response on such a text is read in
-- UTF-16 units, converted and flagged (offsets_converted) when only that
-- reading fits: every span of the response lies inside the text and on
-- character boundaries read as UTF-16, and either some span does not fit
-- as code points, or more spans start and end on word edges read as UTF-16
-- than as code points.  On text without such characters both readings are
-- the same and nothing is converted.

-- The file, with the optional columns added (as NULL) when it has none
-- (an SDK or Hub export leaves out the response columns when no record has
-- a response, the suggestion ones when none has a suggestion, status in
-- older SDKs, and always pull's usernames and updated_at; doc_id and
-- page_num also come from the id).  Struct fields are read by name: their
-- order differs between exports.  A discarded or draft response may be
-- there or not; only submitted ones count as annotations downstream.
CREATE OR REPLACE TEMP VIEW _incoming_raw AS
SELECT *
FROM (
    SELECT * FROM read_parquet(getvariable('parquet'), file_row_number = true)
    UNION ALL BY NAME
    SELECT NULL::BIGINT AS file_row_number,
           NULL::VARCHAR AS status,
           NULL::VARCHAR AS doc_id,
           NULL::BIGINT AS page_num,
           NULL::STRUCT(label VARCHAR, start BIGINT, "end" BIGINT)[][] AS "entities.responses",
           NULL::VARCHAR[] AS "entities.responses.users",
           NULL::VARCHAR[] AS "entities.responses.status",
           NULL::VARCHAR[] AS "entities.responses.usernames",
           NULL::TIMESTAMPTZ[] AS "entities.responses.updated_at",
           NULL::STRUCT(label VARCHAR, start BIGINT, "end" BIGINT)[] AS "entities.suggestion",
           NULL::DOUBLE[] AS "entities.suggestion.score",
           NULL::VARCHAR AS "entities.suggestion.agent"
    WHERE false
);

-- The identity of each record, read apart from the rest (a scan of the id
-- columns only): the pages the file names.
CREATE OR REPLACE TEMP VIEW _incoming_keys AS
SELECT coalesce(CAST(doc_id AS VARCHAR), split_part(CAST(id AS VARCHAR), ':', 1)) AS doc_id,
       coalesce(TRY_CAST(page_num AS INTEGER),
                TRY_CAST(split_part(CAST(id AS VARCHAR), ':', 2) AS INTEGER)) AS page_num
FROM _incoming_raw;

-- One row per record, in one pass over the file joined once to the pages
-- it names, keeping everything later steps need and not the text (copying
-- a 100,000-page export's text into a table was the largest part of a
-- load): its length in code points, the text of each span (taken here,
-- where the text is at hand, as a list beside the responses' span lists),
-- and the text itself only where it has characters above U+FFFF, with
-- their UTF-16 positions, for the UTF-16 reading below.  text_sha256 is that of the page's current text
-- (its latest OCR run) when the record's text is that text, compared, not
-- hashed (SHA-256 of every text is the most expensive thing a load could
-- do; checks_integrity.sql holds each page's text_sha256 to its text);
-- otherwise the text is hashed.  The annotator of each response is its
-- username (apflow pull), else its user id (an SDK export).
CREATE OR REPLACE TEMP TABLE _incoming_records AS
WITH r AS (
    SELECT file_row_number + 1 AS row_no,
           CAST(id AS VARCHAR) AS record_id,
           coalesce(CAST(doc_id AS VARCHAR), split_part(CAST(id AS VARCHAR), ':', 1)) AS doc_id,
           coalesce(TRY_CAST(page_num AS INTEGER),
                    TRY_CAST(split_part(CAST(id AS VARCHAR), ':', 2) AS INTEGER)) AS page_num,
           CAST(text AS VARCHAR) AS text,
           CAST(status AS VARCHAR) AS record_status,
           "entities.responses" AS responses,
           CAST("entities.responses.users" AS VARCHAR[]) AS users,
           CAST("entities.responses.usernames" AS VARCHAR[]) AS usernames,
           CAST("entities.responses.status" AS VARCHAR[]) AS statuses,
           CAST("entities.responses.updated_at" AS TIMESTAMPTZ[]) AS updated_ats,
           "entities.suggestion" AS suggestion,
           CAST("entities.suggestion.score" AS DOUBLE[]) AS suggestion_scores,
           CAST("entities.suggestion.agent" AS VARCHAR) AS suggestion_agent
    FROM _incoming_raw
), latest AS (
    SELECT p.doc_id, p.page_num, max(p.ocr_run_id) AS ocr_run_id
    FROM md_raw_ocr.main.pages AS p
    SEMI JOIN _incoming_keys AS k ON k.doc_id = p.doc_id AND k.page_num = p.page_num
    GROUP BY ALL
), cur AS (
    SELECT p.doc_id, p.page_num, p.text, p.text_sha256
    FROM md_raw_ocr.main.pages AS p
    SEMI JOIN latest AS l ON l.doc_id = p.doc_id AND l.page_num = p.page_num AND l.ocr_run_id = p.ocr_run_id
)
SELECT r.row_no, r.record_id, r.doc_id, r.page_num,
       r.text IS NOT NULL AS has_text,
       r.page_exists,
       length(r.text) AS cp_len,
       CASE WHEN r.cur_text = r.text THEN r.cur_sha256 ELSE sha256(r.text) END AS text_sha256,
       CASE WHEN len(r.pieces) > 1 THEN r.text END AS astral_text,
       -- The UTF-16 start of each character above U+FFFF: the j-th, after
       -- the text's first j pieces between them, is at code point
       -- c = (their lengths) + j - 1, and at unit c + j - 1.
       CASE WHEN len(r.pieces) > 1
            THEN list_transform(range(1, len(r.pieces)),
                                j -> list_sum(list_transform(r.pieces[1:j], x -> length(x))) + 2 * (j - 1)) END
         AS u16_starts,
       r.record_status,
       coalesce(len(r.responses), 0) AS n_responses,
       r.responses,
       list_transform(r.responses, resp -> list_transform(resp, sp ->
           substring(r.text, CAST(sp.start AS BIGINT) + 1, CAST(sp."end" AS BIGINT) - CAST(sp.start AS BIGINT))))
         AS span_texts,
       list_transform(range(1, coalesce(len(r.responses), 0) + 1), i -> coalesce(r.usernames[i], r.users[i]))
         AS annotators,
       -- Per response, whether two of its spans may be the same (label and
       -- offsets): their hashes repeat.  Distinct hashes are distinct
       -- spans; _load_errors compares the spans of the few that repeat.  A
       -- response reads all its spans one way, so this holds after any
       -- UTF-16 conversion too.
       list_transform(r.responses, resp -> list_unique(list_transform(resp, sp ->
           hash(CAST(sp.label AS VARCHAR), CAST(sp.start AS BIGINT), CAST(sp."end" AS BIGINT)))) < len(resp))
         AS may_repeat,
       list_transform(r.responses, resp -> len(resp)) AS span_counts,
       r.users, r.usernames, r.statuses, r.updated_ats,
       r.suggestion, r.suggestion_scores, r.suggestion_agent
FROM (SELECT r.*, c.doc_id IS NOT NULL AS page_exists, c.text AS cur_text, c.text_sha256 AS cur_sha256,
             -- Characters above U+FFFF take 4 bytes where a code point
             -- counts 1: a text with fewer than 3 bytes more than code
             -- points has none and is not searched.
             CASE WHEN strlen(r.text) - length(r.text) >= 3
                  THEN string_split_regex(r.text, '[\x{10000}-\x{10FFFF}]') END AS pieces
      FROM r
      LEFT JOIN cur AS c ON c.doc_id = r.doc_id AND c.page_num = r.page_num) AS r;

-- One row per response (its spans stay in the records).
CREATE OR REPLACE TEMP TABLE _incoming_responses AS
SELECT r.row_no, r.record_id, r.doc_id, r.page_num, r.text_sha256,
       i AS response_no,
       r.users[i] AS user_id,
       r.annotators[i] AS annotator,
       r.statuses[i] AS status,
       r.updated_ats[i] AS updated_at,
       r.may_repeat[i] AS may_repeat,
       coalesce(r.span_counts[i], 0) AS n_spans,
       len(r.users) IS DISTINCT FROM r.n_responses
         OR len(r.statuses) IS DISTINCT FROM r.n_responses
         OR (r.usernames IS NOT NULL AND len(r.usernames) <> r.n_responses)
         OR (r.updated_ats IS NOT NULL AND len(r.updated_ats) <> r.n_responses) AS lists_differ
FROM (SELECT row_no, record_id, doc_id, page_num, text_sha256, n_responses, users, usernames,
             statuses, updated_ats, annotators, may_repeat, span_counts, unnest(range(1, n_responses + 1)) AS i
      FROM _incoming_records WHERE n_responses > 0) AS r;

-- Every span of every response, as given, with its text (unnested from
-- the records, not stored): the records with characters above U+FFFF
-- (astral = true) or those without, for the two statements below.
CREATE OR REPLACE TEMP MACRO _incoming_span_rows(astral) AS TABLE
SELECT row_no, record_id, doc_id, page_num, cp_len, astral_text, u16_starts, response_no, annotator,
       unnest(spans) AS sp, unnest(texts) AS span_text, generate_subscripts(spans, 1) AS span_no
FROM (SELECT row_no, record_id, doc_id, page_num, cp_len, astral_text, u16_starts,
             unnest(responses) AS spans, unnest(span_texts) AS texts, unnest(annotators) AS annotator,
             generate_subscripts(responses, 1) AS response_no
      FROM _incoming_records WHERE n_responses > 0 AND (astral_text IS NOT NULL) = astral);

-- The spans of responses on text with characters above U+FFFF, each read
-- both ways, and which reading each response takes (see the header), with
-- the offsets and text that reading gives.  Only these need the text.
CREATE OR REPLACE TEMP TABLE _incoming_u16 AS
WITH s AS (
    SELECT row_no, record_id, doc_id, page_num, annotator, response_no, span_no, cp_len,
           astral_text AS text, span_text AS cp_text, u16_starts,
           cp_len + len(u16_starts) AS u16_len,
           CAST(sp.label AS VARCHAR) AS label,
           CAST(sp.start AS BIGINT) AS given_start, CAST(sp."end" AS BIGINT) AS given_end
    FROM _incoming_span_rows(true)
), u AS (
    -- A UTF-16 boundary is any unit but the second of a surrogate pair.
    SELECT s.*,
           CASE WHEN given_start BETWEEN 0 AND u16_len AND NOT list_contains(u16_starts, given_start - 1)
                THEN given_start - len(list_filter(u16_starts, p -> p < given_start)) END AS u16_start,
           CASE WHEN given_end BETWEEN 0 AND u16_len AND NOT list_contains(u16_starts, given_end - 1)
                THEN given_end - len(list_filter(u16_starts, p -> p < given_end)) END AS u16_end
    FROM s
), r AS (
    SELECT row_no, record_id, doc_id, page_num, annotator, response_no, span_no, label, cp_len,
           given_start, given_end, u16_start, u16_end, cp_text,
           substring(text, u16_start + 1, u16_end - u16_start) AS u16_text,
           given_start >= 0 AND given_start < given_end AND given_end <= cp_len AS cp_fits,
           u16_start IS NOT NULL AND u16_end IS NOT NULL AND u16_start < u16_end AS u16_fits,
           -- Word edges: the span neither starts nor ends inside a word nor on a space.
           CASE WHEN given_start >= 0 AND given_start < given_end AND given_end <= cp_len
                THEN (given_start = 0 OR NOT (regexp_full_match(text[given_start], '[\p{L}\p{N}]')
                                              AND regexp_full_match(text[given_start + 1], '[\p{L}\p{N}]')))
                     AND (given_end = cp_len OR NOT (regexp_full_match(text[given_end], '[\p{L}\p{N}]')
                                                     AND regexp_full_match(text[given_end + 1], '[\p{L}\p{N}]')))
                     AND NOT regexp_full_match(text[given_start + 1], '\s')
                     AND NOT regexp_full_match(text[given_end], '\s')
                ELSE false END AS cp_clean,
           CASE WHEN u16_start IS NOT NULL AND u16_end IS NOT NULL AND u16_start < u16_end
                THEN (u16_start = 0 OR NOT (regexp_full_match(text[u16_start], '[\p{L}\p{N}]')
                                            AND regexp_full_match(text[u16_start + 1], '[\p{L}\p{N}]')))
                     AND (u16_end = cp_len OR NOT (regexp_full_match(text[u16_end], '[\p{L}\p{N}]')
                                                   AND regexp_full_match(text[u16_end + 1], '[\p{L}\p{N}]')))
                     AND NOT regexp_full_match(text[u16_start + 1], '\s')
                     AND NOT regexp_full_match(text[u16_end], '\s')
                ELSE false END AS u16_clean
    FROM u
), c AS (
    -- Which reading each response takes, beside each of its spans (the
    -- text is not carried further).
    SELECT r.*,
           bool_and(u16_fits) OVER w
             AND (NOT bool_and(cp_fits) OVER w
                  OR count(*) FILTER (WHERE u16_clean) OVER w > count(*) FILTER (WHERE cp_clean) OVER w)
             AS use_u16
    FROM r
    WINDOW w AS (PARTITION BY record_id, response_no)
)
SELECT row_no, record_id, doc_id, page_num, annotator, response_no, span_no, label,
       given_start, given_end,
       CASE WHEN use_u16 THEN u16_start ELSE given_start END AS start,
       CASE WHEN use_u16 THEN u16_end ELSE given_end END AS "end",
       coalesce(use_u16 AND (u16_start <> given_start OR u16_end <> given_end), false) AS offsets_converted,
       cp_len,
       CASE WHEN use_u16 THEN u16_text ELSE cp_text END AS span_text
FROM c;

-- One row per span, offsets in code points (converted where the response
-- was read in UTF-16 units), with the text it names.
CREATE OR REPLACE TEMP VIEW _incoming_spans AS
SELECT row_no, record_id, doc_id, page_num, annotator, response_no, span_no,
       CAST(sp.label AS VARCHAR) AS label,
       CAST(sp.start AS BIGINT) AS given_start, CAST(sp."end" AS BIGINT) AS given_end,
       CAST(sp.start AS BIGINT) AS start, CAST(sp."end" AS BIGINT) AS "end",
       false AS offsets_converted, cp_len, span_text
FROM _incoming_span_rows(false)
UNION ALL
SELECT row_no, record_id, doc_id, page_num, annotator, response_no, span_no, label, given_start, given_end,
       start, "end", offsets_converted, cp_len, span_text
FROM _incoming_u16;

-- The checks, set-based: one scan of the records, of the responses and of
-- the spans each, and a grouping for what may not come twice.
CREATE OR REPLACE TEMP TABLE _load_errors AS
WITH labels AS (
    SELECT unnest(string_split(coalesce(getvariable('labels'), ''), ',')) AS label
), e AS (
    SELECT row_no, record_id, NULL AS annotator, NULL::BIGINT AS span_no, unnest(list_filter([
               CASE WHEN NOT id_ok THEN 'id is not <doc_id>:<page_num>' END,
               CASE WHEN NOT has_text THEN 'no text' END,
               CASE WHEN NOT page_exists AND id_ok
                    THEN 'page ' || CAST(page_num AS VARCHAR) || ' of document ''' || doc_id
                         || ''' does not exist in md_raw_ocr.main.pages' END], x -> x IS NOT NULL)) AS reason
    FROM (SELECT *, coalesce(regexp_full_match(record_id, '[0-9a-f]{20}:[1-9][0-9]*')
                             AND record_id = doc_id || ':' || CAST(page_num AS VARCHAR), false) AS id_ok
          FROM _incoming_records)
    WHERE NOT id_ok OR NOT has_text OR NOT page_exists
    UNION ALL
    SELECT max(row_no), record_id, NULL, NULL, 'the same id on rows ' || array_to_string(list(row_no ORDER BY row_no), ', ')
    FROM _incoming_records
    GROUP BY record_id
    HAVING count(*) > 1
    UNION ALL
    SELECT row_no, record_id, annotator, NULL,
           CASE WHEN lists_differ THEN 'entities.responses and its users/status lists differ in length'
                ELSE 'no annotator (user) for the response' END
    FROM _incoming_responses WHERE lists_differ OR annotator IS NULL
    UNION ALL
    SELECT max(row_no), record_id, annotator, NULL, 'the annotator answers twice'
    FROM _incoming_responses WHERE annotator IS NOT NULL
    GROUP BY record_id, annotator
    HAVING count(*) > 1
    UNION ALL
    -- Every span, in one scan: its offsets, then its label.
    SELECT row_no, record_id, annotator, span_no,
           CASE WHEN start IS NULL OR "end" IS NULL OR start < 0 OR start >= "end" OR "end" > cp_len
                THEN 'span [' || coalesce(CAST(given_start AS VARCHAR), 'null') || ', '
                     || coalesce(CAST(given_end AS VARCHAR), 'null') || ') '
                     || CASE WHEN start IS NULL OR "end" IS NULL THEN 'has no offsets'
                             WHEN start < 0 THEN 'starts before the text'
                             WHEN start >= "end" THEN 'is empty or reversed'
                             ELSE 'ends past the end of its text (' || CAST(cp_len AS VARCHAR) || ' characters)' END
                ELSE 'unknown label ''' || coalesce(label, 'null') || '''' END
    FROM _incoming_spans
    WHERE start IS NULL OR "end" IS NULL OR start < 0 OR start >= "end" OR "end" > cp_len
       OR label IS NULL OR label NOT IN (SELECT label FROM labels)
    UNION ALL
    -- The key of annotations_spans less the run (the run is new): no two
    -- spans of the file may share it.  Within a record and annotator that
    -- is within one response (an annotator answering twice is an error of
    -- its own), and only where the span hashes repeat (may_repeat).
    SELECT max(row_no), any_value(record_id), annotator, max(span_no), 'the same span twice'
    FROM (SELECT row_no, record_id, doc_id, page_num, annotator,
                 unnest(spans) AS sp, generate_subscripts(spans, 1) AS span_no
          FROM (SELECT row_no, record_id, doc_id, page_num, unnest(responses) AS spans,
                       unnest(annotators) AS annotator, unnest(may_repeat) AS may_repeat
                FROM _incoming_records WHERE list_contains(may_repeat, true))
          WHERE may_repeat)
    GROUP BY doc_id, page_num, annotator, CAST(sp.start AS BIGINT), CAST(sp."end" AS BIGINT),
             CAST(sp.label AS VARCHAR)
    HAVING count(*) > 1
)
SELECT row_no, record_id, annotator, span_no, reason FROM e;

CREATE OR REPLACE TEMP TABLE _incoming_pages AS
SELECT record_id, doc_id, page_num, annotator, user_id AS annotator_id,
       getvariable('dataset') AS argilla_dataset,
       text_sha256, status, updated_at AS submitted_at
FROM _incoming_responses;

-- Suggestions: Argilla keeps one per question and record; its spans carry
-- their own offsets (written by apflow, in code points).
CREATE OR REPLACE TEMP TABLE _incoming_suggestions AS
SELECT record_id, any_value(doc_id) AS doc_id, any_value(page_num) AS page_num, agent,
       start, "end", label, max(score) AS score
FROM (
    SELECT record_id, doc_id, page_num, cp_len,
           coalesce(suggestion_agent, 'unknown') AS agent,
           CAST(sp.start AS BIGINT) AS start, CAST(sp."end" AS BIGINT) AS "end",
           CAST(sp.label AS VARCHAR) AS label, suggestion_scores[k] AS score
    FROM (SELECT record_id, doc_id, page_num, cp_len, suggestion_agent, suggestion_scores,
                 unnest(suggestion) AS sp, generate_subscripts(suggestion, 1) AS k
          FROM _incoming_records WHERE len(suggestion) > 0)
)
WHERE start >= 0 AND start < "end" AND "end" <= cp_len AND label IS NOT NULL
GROUP BY record_id, agent, start, "end", label;

-- What the load would write, for the report.
SELECT (SELECT count(*) FROM _incoming_records) AS records,
       (SELECT count(*) FROM _incoming_pages) AS pages,
       (SELECT coalesce(sum(n_spans), 0) FROM _incoming_responses) AS spans,
       (SELECT count(*) FROM _incoming_u16 WHERE offsets_converted) AS converted_spans,
       (SELECT count(*) FROM _incoming_suggestions) AS suggestions,
       (SELECT count(*) FROM _load_errors) AS errors;
