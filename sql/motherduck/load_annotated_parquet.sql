-- load_annotated_parquet.sql: stages an Argilla export for loading.
--
-- Reads one records.parquet in the Argilla SDK export layout (DESIGN.md
-- "Argilla export": what `apflow pull` writes, what the SDK's
-- dataset.records.to_datasets() or Dataset.to_hub give) and fills, without
-- writing to the warehouse:
--
--   _incoming_pages        one row per record and annotator (response)
--   _incoming_spans        one row per span of a response, offsets in code points
--   _incoming_suggestions  one row per suggested span (entities.suggestion)
--   _load_errors           one row per problem; a file with any is not loaded
--
-- Then argilla_export_loader_from_staged.sql writes them in one transaction.
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

-- One row per record: its identity and what the offsets need to know.
-- text_sha256 is that of the page row holding the same text when there is
-- one (the text compared, not hashed: SHA-256 of every page is the most
-- expensive part of a large load, and checks_integrity.sql holds each
-- page's text_sha256 to its text); else the text is hashed.  Characters
-- above U+FFFF take 4 bytes where the code point counts 1, so a text with
-- fewer than 3 bytes more than code points has none and is not searched.
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
), known AS (
    SELECT DISTINCT p.doc_id, p.page_num, p.text, p.text_sha256
    FROM md_raw_ocr.main.pages AS p
    SEMI JOIN r ON r.doc_id = p.doc_id AND r.page_num = p.page_num
)
SELECT r.row_no, r.record_id, r.doc_id, r.page_num, r.text,
       length(r.text) AS cp_len,
       coalesce(k.text_sha256, sha256(r.text)) AS text_sha256,
       CASE WHEN strlen(r.text) - length(r.text) >= 3
            THEN regexp_matches(r.text, '[\x{10000}-\x{10FFFF}]') ELSE false END AS has_astral,
       r.record_status,
       coalesce(len(r.responses), 0) AS n_responses,
       r.responses, r.users, r.usernames, r.statuses, r.updated_ats,
       r.suggestion, r.suggestion_scores, r.suggestion_agent
FROM r
LEFT JOIN known AS k ON k.doc_id = r.doc_id AND k.page_num = r.page_num AND k.text = r.text;

-- UTF-16 start of every character above U+FFFF, for the texts that have
-- any: the j-th such character (1-based) at code point c starts at UTF-16
-- unit c + j - 1.
CREATE OR REPLACE TEMP TABLE _incoming_astral AS
SELECT record_id, list(c + j - 1 ORDER BY c) AS u16_starts
FROM (
    SELECT record_id, c, row_number() OVER (PARTITION BY record_id ORDER BY c) AS j
    FROM (
        SELECT record_id,
               unnest(string_split(text, '')) AS ch,
               unnest(range(0, cp_len)) AS c
        FROM _incoming_records
        WHERE has_astral
    )
    WHERE unicode(ch) > 65535
)
GROUP BY record_id;

-- One row per response (without the text: unnesting the spans would
-- copy it once per span).
CREATE OR REPLACE TEMP TABLE _incoming_responses AS
SELECT r.row_no, r.record_id, r.doc_id, r.page_num, r.cp_len, r.has_astral,
       i AS response_no,
       r.responses[i] AS spans,
       r.users[i] AS user_id,
       coalesce(r.usernames[i], r.users[i]) AS annotator,
       r.statuses[i] AS status,
       r.updated_ats[i] AS updated_at,
       len(r.users) IS DISTINCT FROM r.n_responses
         OR len(r.statuses) IS DISTINCT FROM r.n_responses
         OR (r.usernames IS NOT NULL AND len(r.usernames) <> r.n_responses)
         OR (r.updated_ats IS NOT NULL AND len(r.updated_ats) <> r.n_responses) AS lists_differ
FROM (SELECT row_no, record_id, doc_id, page_num, cp_len, has_astral, n_responses, responses, users,
             usernames, statuses, updated_ats, unnest(range(1, n_responses + 1)) AS i
      FROM _incoming_records WHERE n_responses > 0) AS r;

-- The responses on text with characters above U+FFFF: each span read both
-- ways, and which reading each response takes (see the header).  Only
-- these spans need the text and the UTF-16 positions.
CREATE OR REPLACE TEMP TABLE _incoming_u16 AS
WITH s AS (
    SELECT x.record_id, x.response_no, x.span_no, x.cp_len, r.text, a.u16_starts,
           x.cp_len + len(a.u16_starts) AS u16_len,
           CAST(x.sp.start AS BIGINT) AS given_start, CAST(x.sp."end" AS BIGINT) AS given_end
    FROM (SELECT record_id, response_no, cp_len, unnest(spans) AS sp, generate_subscripts(spans, 1) AS span_no
          FROM _incoming_responses WHERE has_astral) AS x
    JOIN _incoming_records AS r USING (record_id)
    JOIN _incoming_astral AS a USING (record_id)
), u AS (
    -- A UTF-16 boundary is any unit but the second of a surrogate pair.
    SELECT s.*,
           CASE WHEN given_start BETWEEN 0 AND u16_len AND NOT list_contains(u16_starts, given_start - 1)
                THEN given_start - len(list_filter(u16_starts, p -> p < given_start)) END AS u16_start,
           CASE WHEN given_end BETWEEN 0 AND u16_len AND NOT list_contains(u16_starts, given_end - 1)
                THEN given_end - len(list_filter(u16_starts, p -> p < given_end)) END AS u16_end
    FROM s
), r AS (
    SELECT u.*,
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
), choice AS (
    SELECT record_id, response_no,
           bool_and(u16_fits)
             AND (NOT bool_and(cp_fits) OR count(*) FILTER (WHERE u16_clean) > count(*) FILTER (WHERE cp_clean))
             AS use_u16
    FROM r
    GROUP BY record_id, response_no
)
SELECT r.record_id, r.response_no, r.span_no, r.u16_start, r.u16_end,
       r.u16_start <> r.given_start OR r.u16_end <> r.given_end AS converted
FROM r JOIN choice AS c USING (record_id, response_no)
WHERE c.use_u16;

-- One row per span, offsets in code points (converted where the response
-- was read in UTF-16 units), with the text it names.
CREATE OR REPLACE TEMP TABLE _incoming_spans AS
SELECT x.row_no, x.record_id, x.doc_id, x.page_num, x.annotator, x.response_no, x.span_no,
       getvariable('dataset') AS argilla_dataset,
       CAST(x.sp.label AS VARCHAR) AS label,
       CAST(x.sp.start AS BIGINT) AS given_start,
       CAST(x.sp."end" AS BIGINT) AS given_end,
       coalesce(u.u16_start, CAST(x.sp.start AS BIGINT)) AS start,
       coalesce(u.u16_end, CAST(x.sp."end" AS BIGINT)) AS "end",
       coalesce(u.converted, false) AS offsets_converted,
       x.cp_len,
       substring(r.text, coalesce(u.u16_start, CAST(x.sp.start AS BIGINT)) + 1,
                 coalesce(u.u16_end, CAST(x.sp."end" AS BIGINT))
                 - coalesce(u.u16_start, CAST(x.sp.start AS BIGINT))) AS span_text
FROM (SELECT row_no, record_id, doc_id, page_num, annotator, response_no, cp_len,
             unnest(spans) AS sp, generate_subscripts(spans, 1) AS span_no
      FROM _incoming_responses) AS x
JOIN _incoming_records AS r USING (record_id)
LEFT JOIN _incoming_u16 AS u USING (record_id, response_no, span_no);

CREATE OR REPLACE TEMP TABLE _load_errors AS
WITH labels AS (
    SELECT unnest(string_split(coalesce(getvariable('labels'), ''), ',')) AS label
), e AS (
    SELECT row_no, record_id, NULL AS annotator, NULL::BIGINT AS span_no,
           'id is not <doc_id>:<page_num>' AS reason
    FROM _incoming_records
    WHERE record_id IS NULL
       OR NOT regexp_full_match(record_id, '[0-9a-f]{20}:[1-9][0-9]*')
       OR record_id <> doc_id || ':' || CAST(page_num AS VARCHAR)
    UNION ALL
    SELECT max(row_no), record_id, NULL, NULL, 'the same id on rows ' || array_to_string(list(row_no ORDER BY row_no), ', ')
    FROM _incoming_records
    GROUP BY record_id
    HAVING count(*) > 1
    UNION ALL
    SELECT row_no, record_id, NULL, NULL, 'no text'
    FROM _incoming_records WHERE text IS NULL
    UNION ALL
    SELECT row_no, record_id, NULL, NULL, 'page ' || CAST(page_num AS VARCHAR) || ' of document '''
           || doc_id || ''' does not exist in md_raw_ocr.main.pages'
    FROM _incoming_records AS r
    WHERE regexp_full_match(record_id, '[0-9a-f]{20}:[1-9][0-9]*')
      AND NOT EXISTS (SELECT 1 FROM md_raw_ocr.main.pages AS p
                      WHERE p.doc_id = r.doc_id AND p.page_num = r.page_num)
    UNION ALL
    SELECT row_no, record_id, annotator, NULL,
           'entities.responses and its users/status lists differ in length'
    FROM _incoming_responses WHERE lists_differ
    UNION ALL
    SELECT row_no, record_id, annotator, NULL, 'no annotator (user) for the response'
    FROM _incoming_responses WHERE annotator IS NULL AND NOT lists_differ
    UNION ALL
    SELECT row_no, record_id, annotator, NULL, 'the annotator answers twice'
    FROM (SELECT *, row_number() OVER (PARTITION BY record_id, annotator ORDER BY response_no) AS k
          FROM _incoming_responses WHERE annotator IS NOT NULL)
    WHERE k = 2
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
       OR label IS NULL OR NOT list_contains(string_split(coalesce(getvariable('labels'), ''), ','), label)
    UNION ALL
    SELECT max(row_no), record_id, annotator, max(span_no), 'the same span twice'
    FROM _incoming_spans
    GROUP BY record_id, annotator, response_no, start, "end", label
    HAVING count(*) > 1
)
SELECT row_no, record_id, annotator, span_no, reason FROM e;

CREATE OR REPLACE TEMP TABLE _incoming_pages AS
SELECT x.record_id, x.doc_id, x.page_num, x.annotator, x.user_id AS annotator_id,
       getvariable('dataset') AS argilla_dataset,
       r.text_sha256, x.status, x.updated_at AS submitted_at
FROM _incoming_responses AS x
JOIN _incoming_records AS r USING (record_id);

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
       (SELECT count(*) FROM _incoming_spans) AS spans,
       (SELECT count(*) FROM _incoming_spans WHERE offsets_converted) AS converted_spans,
       (SELECT count(*) FROM _incoming_suggestions) AS suggestions,
       (SELECT count(*) FROM _load_errors) AS errors;
