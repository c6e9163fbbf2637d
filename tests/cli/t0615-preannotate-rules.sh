#!/usr/bin/env bash
# apflow preannotate with the rules engine (the default): PDFs through ingest,
# ocr and export to exact spans; the gold corpus (tests/data/gold) in batch
# and through --stdin-jsonl, row for row the same, every span_text the
# code-point slice of its page; the same output on 1 or 4 threads; then a
# rules and an Ollama agent merged into records with their agreement.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
. "$APFLOW_TOP/tests/lib/pages.sh"

export APFLOW_DATA_DIR=$T_DIR/data
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
LAKE=$T_DIR/data/lake
DS=vessels_ocr_t0615 GOLD=vessels_ocr_t0615_gold
R=apflow-rules-v1
sha20() { sha256sum "$1" | cut -c1-20; }
rules_rows() { q "SELECT doc_id, page_num, label, start, \"end\", span_text FROM read_parquet('$LAKE/argilla/in/$1/suggestions/$R/part-0-of-1.parquet') ORDER BY doc_id, page_num, start"; }

t_ok "init" "$APFLOW" init
mkpdf r.pdf 2 "MV Nordic Star IMO 9321483 arrived at Rotterdam on 12 March 2004"
t_ok "ingest" "$APFLOW" ingest r.pdf
t_ok "ocr" "$APFLOW" ocr --engine text -j1
D=$(sha20 r.pdf)
t_ok "export" "$APFLOW" export --dataset $DS
t_rc 0 "preannotate: rules by default" "$APFLOW" preannotate --dataset $DS
t_match "summary: pages, spans per label, seconds, MB/s" \
	"^preannotate $DS: $R: 2 pages, 8 spans \(VESSEL_NAME 2, IMO_NUMBER 2, PORT 2, DATE 2\), [0-9]+\.[0-9]{2} s, [0-9]+\.[0-9]{2} MB/s$" "$(cat "$T_OUT")"
t_eq "exact spans of the PDF's text" "$D,1,VESSEL_NAME,3,14,Nordic Star
$D,1,IMO_NUMBER,19,26,9321483
$D,1,PORT,38,47,Rotterdam
$D,1,DATE,51,64,12 March 2004
$D,2,VESSEL_NAME,3,14,Nordic Star
$D,2,IMO_NUMBER,19,26,9321483
$D,2,PORT,38,47,Rotterdam
$D,2,DATE,51,64,12 March 2004" "$(rules_rows $DS)"
t_eq "every rules span has a score in (0, 1]" 0 \
	"$(q "SELECT count(*) FROM read_parquet('$LAKE/argilla/in/$DS/suggestions/$R/part-0-of-1.parquet') WHERE score IS NULL OR score <= 0 OR score > 1")"
t_rc 2 "--model is for ollama" "$APFLOW" preannotate --dataset $DS --model x
t_rc 2 "an unknown engine" "$APFLOW" preannotate --dataset $DS --engine spacy
t_eq "... named" "apflow preannotate: unknown engine 'spacy': rules or ollama (see 'apflow preannotate --help')" "$(cat "$T_ERR")"

# --- the gold corpus, batch and --stdin-jsonl ---
GP=$APFLOW_TOP/tests/data/gold/pages.jsonl
cat >gold.sql <<'SQL'
CREATE TEMP TABLE g AS SELECT * FROM read_json(getvariable('f'), format = 'newline_delimited',
    columns = {doc_id: 'VARCHAR', page_num: 'INTEGER', text: 'VARCHAR', text_sha256: 'VARCHAR'});
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
SELECT DISTINCT doc_id, 'x', doc_id || '.pdf', 1, 1 FROM g ON CONFLICT DO NOTHING;
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
SELECT doc_id, page_num, 1, 'deepseek', text, text_sha256, length(text) FROM g;
SQL
t_ok "the gold pages into the warehouse" "$APFLOW" sql gold.sql --set "f=$GP"
docs=$(jq -r .doc_id "$GP" | sort -u | sed 's/^/--doc /')
# shellcheck disable=SC2086
t_ok "export the gold pages" "$APFLOW" export --dataset $GOLD $docs
t_rc 0 "preannotate the gold pages on 4 threads" "$APFLOW" preannotate --dataset $GOLD --concurrency 4
t_match "... 200 pages" "^preannotate $GOLD: $R: 200 pages, [0-9]+ spans" "$(cat "$T_OUT")"
four=$(rules_rows $GOLD)
t_ok "... and on one" "$APFLOW" preannotate --dataset $GOLD -j 1
t_eq "the same spans on 1 and 4 threads" "$four" "$(rules_rows $GOLD)"
# A few pages at a time (as on a large dataset): the same files, row for row.
gold_files() {
	local f
	for f in part-0-of-1.parquet _pages/part-0-of-1.parquet; do
		q "SELECT * EXCLUDE (created_at) FROM read_parquet('$LAKE/argilla/in/$GOLD/suggestions/$R/$f')"
	done | sha256sum
}
whole=$(gold_files)
t_ok "... and 7 pages at a time" env APFLOW_PA_CHUNK_PAGES=7 "$APFLOW" preannotate --dataset $GOLD
t_match "... still 200 pages" "^preannotate $GOLD: $R: 200 pages, $(wc -l <<<"$four") spans" "$(cat "$T_OUT")"
t_eq "... the same rows in the same order" "$whole" "$(gold_files)"
jq -sc 'sort_by(.doc_id, .page_num) | .[]' "$GP" >sorted.jsonl
t_rc 0 "--stdin-jsonl on the same pages" sh -c "'$APFLOW' preannotate --stdin-jsonl <sorted.jsonl"
cp "$T_OUT" rows.jsonl
t_match "... summary on stderr" "^preannotate stdin: $R: 200 pages, $(wc -l <rows.jsonl) spans" "$(tail -1 "$T_ERR")"
norm='[.doc_id, .page_num, .text_sha256, .question_name, .label, .start, .end, .span_text, .score, .agent, .type, .labelset_version]'
printf '%s\n' "SELECT * FROM read_parquet('$LAKE/argilla/in/$GOLD/suggestions/$R/part-0-of-1.parquet') ORDER BY doc_id, page_num, start, \"end\", label" >b.sql
"$APFLOW" sql b.sql --json | jq -c ".[] | $norm" >batch.norm
jq -c "$norm" rows.jsonl >stdin.norm
# A Spark executor's pipe: no warehouse is made where none was.
t_rc 0 "--stdin-jsonl with a data dir that does not exist" sh -c "head -3 sorted.jsonl | APFLOW_DATA_DIR='$T_DIR/nodata' '$APFLOW' preannotate --stdin-jsonl"
t_eq "... leaves no warehouse behind" "absent" "$(test -e "$T_DIR/nodata" && echo present || echo absent)"
t_match "hundreds of spans" "^[0-9]{3,}$" "$(wc -l <batch.norm)"
t_ok "--stdin-jsonl equals the batch, row for row" cmp batch.norm stdin.norm
cat >slice.sql <<'SQL'
SELECT count(*) AS rows,
       count(*) FILTER (WHERE r.span_text IS DISTINCT FROM substring(p.text, r.start + 1, r."end" - r.start)
                        OR r.text_sha256 <> p.text_sha256 OR r.start < 0 OR r."end" > length(p.text)) AS bad
FROM read_json(getvariable('rows'), format = 'newline_delimited') AS r
JOIN read_json(getvariable('pages'), format = 'newline_delimited') AS p USING (doc_id, page_num);
SQL
t_eq "every span_text is the code-point slice of its page (all 200 pages)" "$(wc -l <rows.jsonl),0" \
	"$("$APFLOW" sql slice.sql --csv --set "rows=$T_DIR/rows.jsonl" --set "pages=$GP" | tail -1)"

# --- two agents merged ---
cat >script.json <<'JSON'
{"entities": [{"text": "Nordic Star", "label": "VESSEL_NAME"}, {"text": "9321483", "label": "IMO_NUMBER"},
              {"text": "Rotterdam", "label": "PORT"}, {"text": "12 March", "label": "DATE"}]}
JSON
node "$APFLOW_TOP/tests/fakes/fake-ollama.js" --port-file ol.port --script script.json 2>ol.err &
T_CLEANUP+=("kill $!")
for _ in $(seq 1 200); do [ -s ol.port ] && break; sleep 0.05; done
t_ok "preannotate with ollama too" "$APFLOW" preannotate --dataset $DS --engine ollama --ollama-url "http://127.0.0.1:$(cat ol.port)"
t_rc 0 "merge" "$APFLOW" merge --dataset $DS
t_match "summary" "^merge $DS: 2 records, 16 spans from 2 agents \(2 records with spans\); left out: 0 stale" "$(cat "$T_OUT")"
minr=$(q "SELECT min(score) FROM read_parquet('$LAKE/argilla/in/$DS/suggestions/$R/part-0-of-1.parquet')")
t_eq "agreement 2*3/(4+4), n_spans, min_score, engine" \
	"$D:1,8,$minr,0.75,\"$R,ollama-llama3.3-70b\"
$D:2,8,$minr,0.75,\"$R,ollama-llama3.3-70b\"" \
	"$(q "SELECT id, n_spans, min_score, agreement, engine FROM read_parquet('$LAKE/argilla/in/$DS/argilla_records.parquet') ORDER BY id")"
t_done
