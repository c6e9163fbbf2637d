#!/usr/bin/env bash
# run-sample.sh: the whole flow on the bundled sample (what `make run` does).
# It grows with each stage that lands.  The sample PDFs are generated here
# (the repository commits no PDF); everything goes under ./data by default,
# or under $APFLOW_DATA_DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
apflow=./apflow
sample=build/sample
. tests/lib/mkpdf.sh

step() { printf '\n== %s\n' "$*"; }

step "versions"
$apflow version

step "sample PDFs ($sample)"
mkdir -p "$sample"
mkpdf "$sample/nordic-star-survey.pdf" 3 "Survey report MV Nordic Star IMO 9321483 flag Malta port Valletta"
mkpdf "$sample/baltic-trader-psc.pdf" 2 "PSC inspection Baltic Trader IMO 9187629 Panama Rotterdam"
# A multi-script report and a document mixing text pages with scanned ones,
# from the test corpus generator.
scripts/gen-corpus.sh "$sample/corpus" >/dev/null
cp "$sample/corpus/scripts.pdf" "$sample/multiscript-report.pdf"
cp "$sample/corpus/mixed.pdf" "$sample/mixed-scanned.pdf"
rm -rf "$sample/corpus"
ls -l "$sample"

step "warehouse: apflow init"
$apflow init

step "ingest: the sample PDFs into the store and the warehouse (a re-run finds duplicates)"
$apflow ingest "$sample"

step "what the store holds"
$apflow store ls raw/ -l

step "documents in the warehouse"
echo "SELECT doc_id, filename, pages, bytes FROM md_raw_ocr.main.documents ORDER BY filename;" |
	$apflow sql -

step "ocr: page text into md_raw_ocr.main.pages (a re-run has nothing to do)"
$apflow ocr

step "pages as Argilla will see them (vw_argilla_pages)"
echo "SELECT doc_id, page_num, engine, chars, left(text, 60) AS text FROM md_raw_ocr.main.vw_argilla_pages ORDER BY doc_id, page_num;" |
	$apflow sql -

step "settings in effect"
$apflow config

printf '\nDone: the warehouse and the store are under the data_dir shown above.\n'
