#!/usr/bin/env bash
# apflow merge: pages and two agents' suggestions into argilla_records.parquet:
# exact suggestions_json (one element per agent, spans sorted, overlaps
# within an agent resolved), n_spans, min_score, agreement, engine; stale,
# not exported, invalid, duplicate and overlapped suggestions left out and
# counted; a re-export makes the old suggestions stale.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/pages.sh"

export APFLOW_DATA_DIR=$T_DIR/data
LAKE=$T_DIR/data/lake
DS=vessels_ocr_t0620
IN=$LAKE/argilla/in/$DS
D1=d1d1d1d1d1d1d1d1d1d1 D2=d2d2d2d2d2d2d2d2d2d2
rec() { q "SELECT $1 FROM read_parquet('$IN/argilla_records.parquet') ${2:-}"; }

t_ok "init" "$APFLOW" init
T1=$'MV Nordic Star (IMO 9321483) left Rotterdam on 12 March 2024.\nThe Nordic Star is owned by Ærø Søfart A/S.'
addpage $D1 1 "$T1"
addpage $D1 2 $'東京港 arrival: 😀 Ærø Star, flag Panama.'
addpage $D2 1 'Nothing to see.'
addpage $D2 2 'Nor here.'
t_ok "export" "$APFLOW" export --dataset $DS

t_rc 1 "merge of a dataset never exported fails" "$APFLOW" merge --dataset vessels_ocr_none
t_match "... saying so" "has no exported pages: run .apflow export --dataset vessels_ocr_none. first" "$(cat "$T_ERR")"
t_rc 0 "merge with no suggestions" "$APFLOW" merge --dataset $DS
t_match "... summary" "^merge $DS: 4 records, 0 spans from 0 agents \(0 records with spans\); left out: 0 stale, 0 not exported, 0 invalid, 0 duplicates, 0 overlapped; [0-9.]+ s$" "$(cat "$T_OUT")"
t_eq "... every record with an empty list" "4,[],0,,1.0," "$(rec "count(*), any_value(suggestions_json), max(n_spans), max(min_score), min(agreement), max(engine)")"

# Two agents' files, written as any writer following PREANNOTATION_SCHEMA.md would.
mksugg() {	# agent file values
	mkdir -p "$(dirname "$2")"
	cat >s.sql <<SQL
COPY (
SELECT v.doc_id, v.page_num, coalesce(v.sha, p.text_sha256) AS text_sha256, 'entities' AS question_name, v.label,
       v.s AS start, v.e AS "end", coalesce(v.span_text, substring(p.text, v.s + 1, v.e - v.s)) AS span_text,
       v.score, '$1' AS agent, 'model' AS type, 'v1' AS labelset_version, now() AS created_at
FROM (VALUES $3) AS v(doc_id, page_num, label, s, e, score, sha, span_text)
LEFT JOIN md_raw_ocr.main.vw_argilla_pages AS p USING (doc_id, page_num)
) TO '$2' (FORMAT parquet);
SQL
	"$APFLOW" sql s.sql >/dev/null
}
mkpages() {	# agent file 'doc:page ...'
	mkdir -p "$(dirname "$2")"
	local vals="" dp
	for dp in $3; do vals="$vals${vals:+, }('${dp%:*}', ${dp#*:})"; done
	cat >s.sql <<SQL
COPY (SELECT v.doc_id, v.page_num, p.text_sha256, '$1' AS agent, 0 AS spans, now() AS created_at
      FROM (VALUES $vals) AS v(doc_id, page_num) JOIN md_raw_ocr.main.vw_argilla_pages AS p USING (doc_id, page_num))
TO '$2' (FORMAT parquet);
SQL
	"$APFLOW" sql s.sql >/dev/null
}
R=apflow-rules-v1 O=ollama-llama3.3-70b
mksugg $R "$IN/suggestions/$R/part-0-of-1.parquet" "
 ('$D1', 1, 'VESSEL_NAME', 3, 14, 0.9::DOUBLE, NULL::VARCHAR, NULL::VARCHAR),
 ('$D1', 1, 'IMO_NUMBER', 20, 27, 0.99, NULL, NULL),
 ('$D1', 1, 'ORGANIZATION', 3, 27, 0.5, NULL, NULL),
 ('$D1', 1, 'VESSEL_NAME', 3, 14, 0.8, NULL, NULL),
 ('$D1', 1, 'PORT', 34, 43, 0.7, NULL, NULL),
 ('$D1', 1, 'SHIP', 50, 52, 0.9, NULL, NULL),
 ('$D1', 1, 'DATE', 47, 60, 0.9, NULL, 'wrong'),
 ('$D1', 1, 'DATE', 100, 500, 0.9, NULL, NULL),
 ('$D1', 2, 'PORT', 0, 3, 0.9, 'deadbeef', NULL),
 ('ffffffffffffffffffff', 1, 'PORT', 0, 3, 0.9, NULL, 'abc')"
mkpages $R "$IN/suggestions/$R/_pages/part-0-of-1.parquet" "$D1:1 $D1:2 $D2:1"
# A Spark job's file names, no _pages: its agent counts where it has spans.
mksugg $O "$IN/suggestions/$O/part-00000-1a2b.snappy.parquet" "
 ('$D1', 1, 'VESSEL_NAME', 3, 14, NULL::DOUBLE, NULL::VARCHAR, NULL::VARCHAR),
 ('$D1', 1, 'PORT', 34, 43, NULL, NULL, NULL),
 ('$D1', 1, 'DATE', 47, 60, NULL, NULL, NULL),
 ('$D1', 1, 'VESSEL_NAME', 66, 77, NULL, NULL, NULL),
 ('$D1', 1, 'ORGANIZATION', 66, 104, NULL, NULL, NULL)"
mkpages $O "$IN/suggestions/$O/_pages/part-00000-1a2b.snappy.parquet" "$D1:1 $D2:1"

t_rc 0 "merge" "$APFLOW" merge --dataset $DS
t_match "summary: what was kept and what was left out" "^merge $DS: 4 records, 7 spans from 2 agents \(1 record with spans\); left out: 1 stale, 1 not exported, 3 invalid, 1 duplicate, 2 overlapped; [0-9.]+ s$" "$(cat "$T_OUT")"
t_eq "the columns" "id:VARCHAR doc_id:VARCHAR page_num:INTEGER text:VARCHAR text_sha256:VARCHAR filename:VARCHAR labelset_version:VARCHAR source:VARCHAR engine:VARCHAR suggestions_json:VARCHAR n_spans:INTEGER min_score:DOUBLE agreement:DOUBLE" \
	"$(q "SELECT string_agg(column_name || ':' || column_type, ' ') FROM (DESCRIBE SELECT * FROM read_parquet('$IN/argilla_records.parquet'))")"
t_eq "one record per page, sorted, id doc_id:page_num" "$D1:1 $D1:2 $D2:1 $D2:2" "$(rec id | tr '\n' ' ' | sed 's/ $//')"
t_eq "suggestions_json of $D1:1: one element per agent, spans sorted, overlaps and duplicates resolved" \
	'[{"question_name":"entities","value":[{"start":3,"end":14,"label":"VESSEL_NAME"},{"start":20,"end":27,"label":"IMO_NUMBER"},{"start":34,"end":43,"label":"PORT"}],"score":[0.9,0.99,0.7],"agent":"apflow-rules-v1","type":"model"},{"question_name":"entities","value":[{"start":3,"end":14,"label":"VESSEL_NAME"},{"start":34,"end":43,"label":"PORT"},{"start":47,"end":60,"label":"DATE"},{"start":66,"end":104,"label":"ORGANIZATION"}],"score":null,"agent":"ollama-llama3.3-70b","type":"model"}]' \
	"$(printf '%s\n' "SELECT suggestions_json FROM read_parquet('$IN/argilla_records.parquet') WHERE page_num = 1 AND doc_id = '$D1'" >j.sql; "$APFLOW" sql j.sql --json | jq -r '.[0].suggestions_json')"
t_eq "n_spans, min_score, agreement (2*2/(3+4)), engine, metadata" \
	"$D1:1,7,0.7,0.571429,\"apflow-rules-v1,ollama-llama3.3-70b\",v1,deepseek,$D1.pdf
$D1:2,0,,1.000000,apflow-rules-v1,v1,deepseek,$D1.pdf
$D2:1,0,,1.000000,\"apflow-rules-v1,ollama-llama3.3-70b\",v1,deepseek,$D2.pdf
$D2:2,0,,1.000000,,v1,deepseek,$D2.pdf" \
	"$(rec "id, n_spans, min_score, printf('%.6f', agreement), engine, labelset_version, source, filename" 'ORDER BY id')"
t_eq "records carry the exported text and hash" 0 \
	"$(q "SELECT count(*) FROM read_parquet('$IN/argilla_records.parquet') r JOIN md_raw_ocr.main.vw_argilla_pages p USING (doc_id, page_num) WHERE r.text <> p.text OR r.text_sha256 <> p.text_sha256")"
t_eq "no two spans of one agent overlap" 0 "$(q "WITH s AS (SELECT id, e.agent, unnest(e.value) AS v FROM (SELECT id, unnest(from_json(suggestions_json, '[{\"question_name\":\"VARCHAR\",\"value\":[{\"start\":\"INTEGER\",\"end\":\"INTEGER\",\"label\":\"VARCHAR\"}],\"agent\":\"VARCHAR\"}]')) AS e FROM read_parquet('$IN/argilla_records.parquet')))
	SELECT count(*) FROM s a JOIN s b ON a.id = b.id AND a.agent = b.agent AND a.v.start < b.v.\"end\" AND b.v.start < a.v.\"end\" AND (a.v.start, a.v.\"end\", a.v.label) <> (b.v.start, b.v.\"end\", b.v.label)")"
sum1=$(rec "*" 'ORDER BY id' | sha256sum)
t_ok "merge again" "$APFLOW" merge --dataset $DS
t_eq "... the same records" "$sum1" "$(rec "*" 'ORDER BY id' | sha256sum)"
t_eq "... in one file, no temp left" "argilla_records.parquet pages suggestions" "$(ls "$IN" | tr '\n' ' ' | sed 's/ $//')"
# A range of documents at a time (as on a large dataset, one document a
# range here): the same counts, and the same rows in the same file order.
summary=$(sed 's/; [0-9.]* s$//' "$T_OUT")
inorder=$(rec "*" | sha256sum)
t_ok "merge a document at a time" env APFLOW_MERGE_RANGE_PAGES=1 "$APFLOW" merge --dataset $DS
t_eq "... the same summary" "$summary" "$(sed 's/; [0-9.]* s$//' "$T_OUT")"
t_eq "... the same rows in the same order" "$inorder" "$(rec "*" | sha256sum)"
t_eq "... no temp left" "argilla_records.parquet pages suggestions" "$(ls "$IN" | tr '\n' ' ' | sed 's/ $//')"

# The text of $D1:1 changes (a new OCR run) and is exported again: every
# suggestion made for the old text is stale now.
ADDPAGE_RUN=2 addpage $D1 1 "${T1/Nordic Star/Nordic Stars}"
t_ok "re-export" "$APFLOW" export --dataset $DS
t_rc 0 "merge after the text changed" "$APFLOW" merge --dataset $DS
t_match "... the old suggestions are stale" "^merge $DS: 4 records, 0 spans from 0 agents \(0 records with spans\); left out: 14 stale, 1 not exported, 0 invalid, 0 duplicates, 0 overlapped;" "$(cat "$T_OUT")"
t_eq "... and $D1:1 has none, nor an agent" "[],0,,1.0" "$(rec "suggestions_json, n_spans, engine, agreement" "WHERE id = '$D1:1'")"
t_rc 2 "a bad name" "$APFLOW" merge --dataset nope
t_match "help" "usage: apflow merge --dataset NAME" "$("$APFLOW" merge --help)"
t_done
