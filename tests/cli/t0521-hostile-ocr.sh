#!/usr/bin/env bash
# Hostile PDFs against apflow ocr (issue 15 items 2 and 9, issue 10 item 8):
# a form tree that doubles at each level and forms nested a thousand deep
# fail their page with the reason, within the page's bounds, and are not
# read again; SIGINT stops a run within a second; blank pages are not
# rendered for Tesseract; a long document is committed in chunks and a run
# killed in its middle is resumed there, without duplicates; a stale
# Parquet export directory is swept.  PDFs from tests/lib/hostile-pdf.sh.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/hostile-pdf.sh"

export APFLOW_DATA_DIR=$T_DIR/data
sha20() { sha256sum "$1" | cut -c1-20; }
q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --csv | tail -n +2 | tr -d '\r'
}
rss_mb() { echo $(($(tail -n 1 "$1") / 1024)); }
# Peak RSS is measured with AddressSanitizer's quarantine of freed memory
# (256 MB by default) made small, so that it counts what apflow holds.
asan_small() { ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8" "$@"; }
now_ms() { date +%s%3N; }

t_ok "apflow init" "$APFLOW" init

# --- a form tree doubling at each level: 2^30 draws of "Hello" in 6 KB ---
hpdf_form_bomb bomb.pdf 30
# 1000 deep: far past both bounds (64 for text, 72 for rendering); 3000
# took 10 s of this test to write in bash.
hpdf_deep_forms deep.pdf 1000
t_ok "ingest the bomb and forms nested 1000 deep" "$APFLOW" ingest bomb.pdf deep.pdf
B=$(sha20 bomb.pdf) D=$(sha20 deep.pdf)
# Bounds lowered from the defaults (5,000,000 operators) to keep the
# sanitizer build quick; timeout: before the bound, this ran for hours.
t0=$(now_ms)
t_rc 1 "text OCR of the bomb ends, the page failed" asan_small /usr/bin/time -f %M -o bomb.time \
	timeout 120 "$APFLOW" -c ocr_page_max_ops=300000 ocr --engine text --doc "$B"
echo "# ocr --engine text of bomb.pdf: $(($(now_ms) - t0)) ms, peak RSS $(rss_mb bomb.time) MB"
t_eq "... within 300 MB" 1 "$(($(rss_mb bomb.time) < 300))"
t_eq "... the failure names the bound" "1,page 1: cannot read the text of page 1: the page passes 300000 content-stream operators" \
	"$(q "SELECT page_num, error FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$B'")"
t0=$(now_ms)
t_rc 1 "a later ocr does not read it again (it is done: failed)" timeout 60 "$APFLOW" ocr --engine text
t_match "... only the deep one" '^ocr run [0-9]+: 1 document' "$(cat "$T_OUT")"
t_eq "... whose text reads as empty, forms past 64 levels unread: failed, saying so" \
	'"page 1: damaged page, read as empty: forms nested more than 64 deep: the deeper ones are not read"' \
	"$(q "SELECT error FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$D'")"
t_rc 1 "tesseract on both: each page fails, the render bounded" asan_small /usr/bin/time -f %M -o render.time \
	timeout 120 "$APFLOW" -c ocr_page_max_ops=300000 ocr --engine tesseract --force --doc "$B" --doc "$D"
echo "# ocr --engine tesseract of bomb.pdf and deep.pdf: $(($(now_ms) - t0)) ms, peak RSS $(rss_mb render.time) MB"
t_eq "... within 300 MB" 1 "$(($(rss_mb render.time) < 300))"
t_eq "... the bomb: too many drawing operations" "page 1: cannot render page 1: the page passes 60000 drawing operations" \
	"$(q "SELECT error FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$B' AND engine = 'tesseract'")"
t_eq "... the deep forms: nested too deep (MuPDF would recurse 1000 deep)" \
	'"page 1: cannot render page 1: the page nests its drawing (forms, clips, groups) more than 72 deep"' \
	"$(q "SELECT error FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$D' AND engine = 'tesseract'")"
t_rc 1 "a bad ocr_page_max_ops is refused" "$APFLOW" -c ocr_page_max_ops=0 ocr --engine text --force --doc "$B"
t_match "... saying which" "bad ocr_page_max_ops '0'" "$(cat "$T_ERR")"

# --- SIGINT stops a run within a second, even in the middle of the bomb ---
runs_before=$(q "SELECT count(*) FROM md_raw_ocr.main.ocr_runs")
"$APFLOW" ocr --engine text --force --doc "$B" >int.out 2>int.err &
pid=$!
for _ in $(seq 100); do grep -q 'ocr run' int.err 2>/dev/null && break; sleep 0.1; done
sleep 1
t0=$(now_ms)
kill -INT $pid
wait $pid
rc=$?
took=$(($(now_ms) - t0))
echo "# SIGINT to exit: $took ms"
t_eq "SIGINT in the bomb's page: exit 130" 130 "$rc"
t_eq "... within a second" 1 "$((took < 1000))"
t_eq "... the page is not recorded as failed, the run is" "0,failed" \
	"$(q "SELECT (SELECT count(*) FROM md_raw_ocr.main.ocr_failures WHERE ocr_run_id = r.ocr_run_id), status FROM md_raw_ocr.main.ocr_runs AS r ORDER BY ocr_run_id DESC LIMIT 1")"
t_eq "... one run more" $((runs_before + 1)) "$(q "SELECT count(*) FROM md_raw_ocr.main.ocr_runs")"

# --- blank pages: auto stores them empty without Tesseract ---
hpdf_blank blank.pdf 60 20
t_ok "ingest 60 pages, 3 with text" "$APFLOW" ingest blank.pdf
K=$(sha20 blank.pdf)
t_ok "auto OCR" "$APFLOW" ocr --json --doc "$K"
t_eq "... every page stored from the text layer, none rendered" "60,60,3" \
	"$(q "SELECT count(*), count(*) FILTER (engine = 'text'), count(*) FILTER (chars > 0) FROM md_raw_ocr.main.pages WHERE doc_id = '$K'")"
t_eq "... 57 blank pages counted" 57 "$(tail -n 1 "$T_OUT" | jq .blank)"

# --- a long document committed in chunks, killed, resumed ---
# 300 pages drawing 512 boxes each (no text: some work), but page 290, a
# form bomb: slow.  Chunks of 25 pages.
hpdf_slow_page long.pdf 300 290 30 9
t_ok "ingest a 300-page document" "$APFLOW" ingest long.pdf
L=$(sha20 long.pdf)
"$APFLOW" --log-level debug -c ocr_commit_pages=25 ocr --engine text -j1 >long.out 2>long.err &
pid=$!
for _ in $(seq 600); do
	[ "$(grep -c 'committed a chunk' long.err 2>/dev/null)" -ge 5 ] && break
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null
first=$(q "SELECT max(ocr_run_id) FROM md_raw_ocr.main.ocr_runs")
n1=$(q "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = '$L'")
echo "# killed after $n1 pages committed"
t_eq "killed in the middle: some chunks of it committed, by the killed run" "1,true,$first" \
	"$(( n1 >= 125 && n1 < 290 )),$(q "SELECT count(DISTINCT page_num) = count(*) FROM md_raw_ocr.main.pages WHERE doc_id = '$L'"),$(q "SELECT coalesce(max(ocr_run_id), 0) FROM md_raw_ocr.main.pages WHERE doc_id = '$L'")"
t_rc 1 "the next run resumes (page 290 fails on its bound)" "$APFLOW" -c ocr_page_max_ops=100000 -c ocr_commit_pages=25 ocr --engine text
t_match "... one document, the pages left" "^ocr run [0-9]+: 1 document, $((299 - n1)) pages" "$(cat "$T_OUT")"
t_eq "... every page once: 299 stored, page 290 failed, the killed run's pages kept" "299,299,$n1,290" \
	"$(q "SELECT count(*), count(DISTINCT page_num), count(*) FILTER (ocr_run_id = $first), (SELECT min(page_num) FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$L') FROM md_raw_ocr.main.pages WHERE doc_id = '$L'")"
t_eq "... the view: 299 rows, one per page" "299,299" \
	"$(q "SELECT count(*), count(DISTINCT record_id) FROM md_raw_ocr.main.vw_argilla_pages WHERE doc_id = '$L'")"
t_ok "a third run" "$APFLOW" ocr --engine text
t_match "... has nothing to do" '^ocr: nothing to do' "$(cat "$T_OUT")"

# --- a stale Parquet export directory is swept ---
dead=$(sh -c 'echo $$')
mkdir -p "data/tmp/apflow-ocr-$dead-00000000000000ff.parquet/ocr_run_id=1/doc_id=x"
echo junk >"data/tmp/apflow-ocr-$dead-00000000000000ff.parquet/ocr_run_id=1/doc_id=x/data_0.parquet"
t_ok "ocr (nothing to do)" "$APFLOW" ocr
t_eq "... swept the dead export's directory" "" "$(ls data/tmp)"

t_done
