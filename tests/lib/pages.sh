# tests/lib/pages.sh: put page texts straight into the warehouse, as an OCR
# run would, for the tests of export, preannotate and merge.  Sourced after
# tests/lib.sh; needs the warehouse initialised (apflow init).
#
#   addpage DOC_ID PAGE_NUM TEXT [ENGINE]   a page of md_raw_ocr.main.pages
#                                           (ocr_run_id 1), its document too
#   q SQL                                   the rows of SQL as CSV, no header
addpage() {
	cat >addpage.sql <<'SQL'
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
VALUES (getvariable('doc'), 'x', getvariable('doc') || '.pdf', 1, 1) ON CONFLICT DO NOTHING;
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
VALUES (getvariable('doc'), CAST(getvariable('page') AS INTEGER), CAST(getvariable('run') AS BIGINT),
        getvariable('engine'), getvariable('text'), sha256(getvariable('text')), length(getvariable('text')));
SQL
	"$APFLOW" sql addpage.sql --set "doc=$1" --set "page=$2" --set "text=$3" --set "engine=${4:-deepseek}" \
		--set "run=${ADDPAGE_RUN:-1}" >/dev/null
}

q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --csv | tail -n +2 | tr -d '\r'
}
