#!/usr/bin/env bash
# apflow export: the pages of vw_argilla_pages to argilla/in/<dataset>/pages/
# as Parquet partitioned by doc_id, under a manifest; a re-export replaces
# the old one (and nothing else); dataset names checked; --doc, --since.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
. "$APFLOW_TOP/tests/lib/pages.sh"

export APFLOW_DATA_DIR=$T_DIR/data
LAKE=$T_DIR/data/lake
DS=vessels_ocr_t0600
P=$LAKE/argilla/in/$DS/pages
sha20() { sha256sum "$1" | cut -c1-20; }
manifest() { jq -r "$1" "$P/_manifest.json"; }
pq() { q "SELECT $1 FROM read_parquet('$P/*/*.parquet', hive_partitioning = true, hive_types = {'doc_id': VARCHAR}) ${2:-}"; }

t_ok "init" "$APFLOW" init
mkpdf a.pdf 3 alpha
mkpdf b.pdf 2 bravo
t_ok "ingest" "$APFLOW" ingest a.pdf b.pdf
t_ok "ocr" "$APFLOW" ocr --engine text -j1
A=$(sha20 a.pdf) B=$(sha20 b.pdf)
C=cccccccccccccccccccc
# Accents, CJK, an emoji and a combining mark: chars counts code points.
addpage $C 1 $'Ærø Søfart 東京港 😀 e\u0301tait\nline two'

# --- names ---
t_rc 2 "a name outside dataset_pattern is a usage error" "$APFLOW" export --dataset foo
t_eq "... saying why" \
	"apflow export: bad dataset name 'foo': does not match dataset_pattern 'vessels_ocr_[a-z0-9_]+' (see 'apflow export --help')" \
	"$(cat "$T_ERR")"
t_rc 2 "upper case is refused" "$APFLOW" export --dataset vessels_ocr_ABC
t_rc 2 "a slash is refused" "$APFLOW" export --dataset vessels_ocr_a/b
t_match "... as no store key segment" "bad dataset name 'vessels_ocr_a/b': not a store key segment" "$(cat "$T_ERR")"
t_rc 2 "no --dataset" "$APFLOW" export
t_rc 2 "a bad --doc" "$APFLOW" export --dataset $DS --doc xyz
t_rc 1 "a broken dataset_pattern is a configuration error" "$APFLOW" -c 'dataset_pattern=[a-' export --dataset $DS
t_match "... naming it" "bad dataset_pattern '\[a-'" "$(cat "$T_ERR")"
t_eq "nothing was written" "" "$(ls "$LAKE/argilla" 2>/dev/null)"

# --- a first export ---
t_rc 0 "export" "$APFLOW" export --dataset $DS
t_match "summary" "^export $DS: 6 pages of 3 documents, 3 files, 0\.[0-9]+ MB in [0-9.]+ s \(export [0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}\)$" "$(cat "$T_OUT")"
E1=$(manifest .export_id)
t_eq "the manifest: dataset, pages, documents" "$DS 6 3" "$(manifest '"\(.dataset) \(.pages) \(.documents)"')"
t_eq "the manifest names one file per document, named by the export" \
	"doc_id=$A/$E1-0.parquet doc_id=$B/$E1-0.parquet doc_id=$C/$E1-0.parquet" "$(manifest '.files | sort | join(" ")')"
t_eq "the files are those" "$(manifest '.files | sort | .[]')" "$(cd "$P" && ls -1 */*.parquet | sort)"
t_eq "rows equal vw_argilla_pages, column for column" \
	"$(q "SELECT doc_id, page_num, text, text_sha256, filename, chars, engine FROM md_raw_ocr.main.vw_argilla_pages ORDER BY 1, 2")" \
	"$(pq 'doc_id, page_num, text, text_sha256, filename, chars, engine' 'ORDER BY 1, 2')"
t_eq "the schema" "page_num:INTEGER text:VARCHAR text_sha256:VARCHAR filename:VARCHAR chars:INTEGER engine:VARCHAR" \
	"$(q "SELECT string_agg(column_name || ':' || column_type, ' ') FROM (DESCRIBE SELECT * FROM read_parquet('$P/doc_id=$A/*.parquet', hive_partitioning = false))")"
t_eq "doc_id is in the path only (Hive style)" "0" \
	"$(q "SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet('$P/doc_id=$A/*.parquet', hive_partitioning = false)) WHERE column_name = 'doc_id'")"
t_eq "chars are code points (accents, CJK, emoji, combining mark)" "32,32" \
	"$(pq 'chars, length(text)' "WHERE doc_id = '$C'")"
t_eq "the texts of the PDFs" "alpha page 1|alpha page 2|alpha page 3|bravo page 1|bravo page 2" \
	"$(pq 'string_agg(text, '"'|'"' ORDER BY doc_id, page_num)' "WHERE doc_id <> '$C'")"

# --- failures change nothing ---
before=$(cd "$P" && find . -type f | sort | xargs sha256sum)
t_rc 1 "nothing selected is an error" "$APFLOW" export --dataset $DS --since 2999-01-01
t_match "... saying so" "nothing to export to '$DS': no page of md_raw_ocr.main.vw_argilla_pages matches" "$(cat "$T_ERR")"
t_rc 1 "a bad --since is an error" "$APFLOW" export --dataset $DS --since yesterday
t_match "... naming the export" "cannot export dataset '$DS'" "$(cat "$T_ERR")"
t_eq "the export is untouched" "$before" "$(cd "$P" && find . -type f | sort | xargs sha256sum)"

# --- a re-export replaces the pages, never adds to them ---
ADDPAGE_RUN=2 addpage $A 2 'alpha page 2, read again'
t_rc 0 "export --doc A --doc C" "$APFLOW" export --dataset $DS --doc $A --doc $C
E2=$(manifest .export_id)
t_match "summary" "^export $DS: 4 pages of 2 documents, 2 files" "$(cat "$T_OUT")"
t_nomatch "a new export id" "^$E1\$" "$E2"
t_eq "only the new export's files are left" "doc_id=$A/$E2-0.parquet doc_id=$C/$E2-0.parquet" \
	"$(cd "$P" && ls -1 */*.parquet | sort | tr '\n' ' ' | sed 's/ $//')"
t_eq "the new text of A:2 (its latest OCR run)" '"alpha page 2, read again"' "$(pq text "WHERE doc_id = '$A' AND page_num = 2")"
t_eq "4 rows, no duplicates" "4,4" "$(pq "count(*), count(DISTINCT (doc_id, page_num))")"
t_rc 0 "--since selects by the page's time" "$APFLOW" export --dataset ${DS}_since \
	--since "$(q "SELECT strftime(max(created_at), '%Y-%m-%dT%H:%M:%S.%fZ') FROM md_raw_ocr.main.pages")"
t_match "... the newest page only" "^export ${DS}_since: 1 page of 1 document" "$(cat "$T_OUT")"
t_eq "another dataset's export is its own" "4" "$(manifest .pages)"

# --- a killed run's temp directory goes at the next run; a live one's stays ---
SPOOL=$LAKE/.apflow-tmp-spool
mkdir -p "$SPOOL/apflow-ds-999999999-dead/pages" "$SPOOL/apflow-ds-$$-live"
t_ok "export again" "$APFLOW" export --dataset $DS --doc $A --doc $C
t_eq "only the live process's temp directory is left" "apflow-ds-$$-live" "$(ls "$SPOOL")"

# --- dataset_pattern ---
t_rc 0 "-c dataset_pattern admits other names" "$APFLOW" -c 'dataset_pattern=ships_[0-9]+' export --dataset ships_7
t_rc 2 "... and refuses the default's" "$APFLOW" -c 'dataset_pattern=ships_[0-9]+' export --dataset $DS
t_match "help" "usage: apflow export --dataset NAME" "$("$APFLOW" export --help)"
t_done
