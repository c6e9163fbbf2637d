#!/usr/bin/env bash
# apflow run: the flow in one process on the sample corpus (born-digital
# and scanned pages), the closing table, a re-run that has nothing new to
# do, apflow status per stage and per document, and kill -9 in the middle
# of a run: run again and the warehouse and the merged file are those of
# a run that was never killed (table checksums).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
DS=vessels_ocr_sample
"$APFLOW_TOP/scripts/gen-sample.sh" "$T_DIR/sample" >/dev/null

# sums DATA_DIR: checksums of what a run leaves (no run ids, no times).
sums() {
	cat >"$T_DIR/sums.sql" <<SQL
SELECT 'documents', count(*), md5(string_agg(doc_id || sha256 || filename || bytes || pages, '|' ORDER BY doc_id)) FROM md_raw_ocr.main.documents
UNION ALL SELECT 'uploads', count(*), md5(string_agg(doc_id || filename || duplicate, '|' ORDER BY doc_id, filename)) FROM md_raw_ocr.main.uploads
UNION ALL SELECT 'pages', count(*), md5(string_agg(doc_id || page_num || engine || text_sha256, '|' ORDER BY doc_id, page_num)) FROM md_raw_ocr.main.pages
UNION ALL SELECT 'ocr_failures', count(*), md5(coalesce(string_agg(doc_id || coalesce(page_num, 0), '|' ORDER BY doc_id, page_num), '')) FROM md_raw_ocr.main.ocr_failures
UNION ALL SELECT 'merged', count(*), md5(string_agg(id || text_sha256 || suggestions_json || n_spans, '|' ORDER BY id)) FROM read_parquet('$1/lake/argilla/in/$DS/argilla_records.parquet')
ORDER BY 1;
SQL
	APFLOW_DATA_DIR=$1 "$APFLOW" sql "$T_DIR/sums.sql" --csv
}

t_rc 2 "--dataset is required" "$APFLOW" run
t_match "says so" "apflow run: --dataset NAME is required" "$(cat "$T_ERR")"
t_rc 2 "a bad --until" "$APFLOW" run --dataset $DS --until ocr
t_rc 2 "--until load needs Argilla" "$APFLOW" run --dataset $DS --until load
t_match "says so" "needs Argilla" "$(cat "$T_ERR")"

export APFLOW_DATA_DIR=$T_DIR/ref
t_ok "run on the sample" "$APFLOW" run --dataset $DS --input "$T_DIR/sample"
out=$(cat "$T_OUT")
t_match "ingest: 12 files" "ingest +done +12 " "$out"
t_match "ocr: 15 pages, none failed" "ocr +done +15 +[0-9.]+ +0  12 documents" "$out"
t_match "export: 15 pages" "export +done +15 " "$out"
t_match "preannotate: 15 pages" "preannotate +done +15 " "$out"
t_match "merge: 15 records" "merge +done +15 " "$out"
t_match "push skipped without Argilla" "push +skipped .*Argilla not configured" "$out"
t_match "closing line" "run $DS: 5 stages in [0-9.]+ s, 0 failures" "$out"
t_eq "the scanned pages went through Tesseract" "2" \
	"$(echo "SELECT count(*) FROM md_raw_ocr.main.pages WHERE engine = 'tesseract';" | "$APFLOW" sql - --csv | tail -1)"
t_eq "Tesseract read the scanned notice" "1" \
	"$(echo "SELECT count(*) FROM md_raw_ocr.main.pages WHERE engine = 'tesseract' AND text LIKE '%NOTICE OF READINESS%';" | "$APFLOW" sql - --csv | tail -1)"
t_eq "the rules found the IMO number of the particulars sheet" "1" \
	"$(echo "SELECT count(*) FROM read_parquet('$T_DIR/ref/lake/argilla/in/$DS/argilla_records.parquet') WHERE filename LIKE '01-%' AND page_num = 1 AND suggestions_json LIKE '%\"IMO_NUMBER\"%';" | "$APFLOW" sql - --csv | tail -1)"

t_ok "run again: nothing new" "$APFLOW" run --dataset $DS --input "$T_DIR/sample"
t_match "ingest skips the known files" "ingest +done +0 .* 12 files known before" "$(cat "$T_OUT")"
t_match "ocr has nothing to do" "ocr: nothing to do \(12 documents done before\)" "$(cat "$T_OUT")"
ref=$(sums "$T_DIR/ref")
t_match "reference sums" "^merged,15," "$(grep merged <<<"$ref")"
t_eq "one upload per file after two runs" "uploads,12" "$(grep ^uploads <<<"$ref" | cut -d, -f1,2)"

t_ok "status" "$APFLOW" status --dataset $DS
st=$(cat "$T_OUT")
t_match "status: ingest" "^ingest +documents +12 " "$st"
t_match "status: ocr 12 done, 0 pending, 0 failed" "^ocr +documents +12 +0 +0 " "$st"
t_match "status: export" "^export +pages +15 +0 " "$st"
t_match "status: preannotate" "^preannotate +pages +15 +0 " "$st"
t_match "status: merge" "^merge +pages +15 +0 " "$st"
t_match "status: push from the last run" "^push .*skipped, Argilla not configured" "$st"
doc=$(echo "SELECT doc_id FROM md_raw_ocr.main.documents WHERE filename LIKE '04-%';" | "$APFLOW" sql - --csv | tail -1)
t_ok "status DOC_ID" "$APFLOW" status "$doc"
st=$(cat "$T_OUT")
t_match "names the document" "^document $doc  04-psc-report-baltic-trader.pdf  2 pages" "$st"
t_match "its 2 pages read" "^ocr +pages +2 +0 +0  done" "$st"
t_match "its 2 pages merged" "^merge +pages +2 +0 " "$st"
t_ok "status --json DOC_ID" "$APFLOW" status --json "$doc"
t_eq "json: stages" "ingest ocr export preannotate merge push pull load annotated" "$(jq -r '[.[].stage] | join(" ")' "$T_OUT")"
t_rc 1 "status of an unknown document" "$APFLOW" status 0123456789abcdef0123
t_match "says so" "no document '0123456789abcdef0123'" "$(cat "$T_ERR")"

# A new page's text changes its document: status shows merge pending.
printf 'UPDATE md_raw_ocr.main.pages SET text = text || %s, text_sha256 = sha256(text || %s) WHERE doc_id = %s AND page_num = 1;\n' \
	"' Suez Canal'" "' Suez Canal'" "'$doc'" >upd.sql
"$APFLOW" sql upd.sql >/dev/null
t_ok "status after a text changed" "$APFLOW" status --dataset $DS
t_match "merge: one page pending" "^merge +pages +14 +1 " "$(cat "$T_OUT")"

# kill -9 in the middle: the same sample, more of it, so OCR takes a while.
mkdir -p "$T_DIR/big"
cp "$T_DIR"/sample/*.pdf "$T_DIR/big/"
for i in $(seq 1 20); do mkpdf "$T_DIR/big/extra-$i.pdf" 10 "Cargo manifest $i MV Nordic Star IMO 9321483 Rotterdam"; done
export APFLOW_DATA_DIR=$T_DIR/ref2
t_ok "an uninterrupted run of 32 documents" "$APFLOW" run --dataset $DS --input "$T_DIR/big"
ref2=$(sums "$T_DIR/ref2")
export APFLOW_DATA_DIR=$T_DIR/killed
"$APFLOW" run --dataset $DS --input "$T_DIR/big" >run1.out 2>run1.err &
pid=$!
for _ in $(seq 1 600); do grep -q '^== ocr' run1.out 2>/dev/null && break; sleep 0.02; done
sleep 0.1
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
t_eq "the first run was killed before its end" "null" "$(jq -r .finished_at "$T_DIR/killed/runs/$DS.json" 2>/dev/null || echo null)"
t_ok "run again after kill -9" "$APFLOW" run --dataset $DS --input "$T_DIR/big"
t_match "it finishes without failures" "run $DS: 5 stages in [0-9.]+ s, 0 failures" "$(cat "$T_OUT")"
t_eq "identical warehouse and merged file (checksums)" "$ref2" "$(sums "$T_DIR/killed")"
t_done
