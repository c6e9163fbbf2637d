#!/usr/bin/env bash
# apflow ocr --doc resuming a document committed in chunks by a killed run
# (issue 15 item 9, a gap left by it): a speculative start (--doc) read
# every page again before the plan said which were done, and the pages the
# killed run had committed were stored twice.  Each page must have one row.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/hostile-pdf.sh"

export APFLOW_DATA_DIR=$T_DIR/data
sha20() { sha256sum "$1" | cut -c1-20; }
q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --csv | tail -n +2 | tr -d '\r'
}

t_ok "apflow init" "$APFLOW" init
# 300 pages drawing 512 boxes each (no text: some work), but page 290, a
# form bomb: slow.  Chunks of 50 pages; killed after two.
hpdf_slow_page long2.pdf 300 290 30 9
t_ok "ingest a 300-page document" "$APFLOW" ingest long2.pdf
L2=$(sha20 long2.pdf)
"$APFLOW" --log-level debug -c ocr_commit_pages=50 ocr --engine text -j1 --doc "$L2" >long2.out 2>long2.err &
pid=$!
for _ in $(seq 600); do
	[ "$(grep -c 'committed a chunk' long2.err 2>/dev/null)" -ge 2 ] && break
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null
n2=$(q "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = '$L2'")
echo "# killed after $n2 pages committed"
t_eq "killed in the middle of a --doc run: some chunks committed" 1 "$(( n2 >= 100 && n2 < 290 ))"
# The resuming run reads pages ahead of its plan (the warehouse opens
# meanwhile): here while another process holds the warehouse for a second,
# so that the pages the killed run committed are read before the plan says
# they are done, and must be dropped, not stored again.
mkfifo hold.fifo
cat >hold.sql <<'EOF'
COPY (SELECT 1 AS ready) TO 'ready.csv';
SELECT count(*) AS lines FROM read_csv('hold.fifo', header = false, columns = {'line': 'VARCHAR'});
EOF
"$APFLOW" sql --csv hold.sql >holder.out 2>holder.err &
holder=$!
T_CLEANUP+=("kill $holder")
for _ in $(seq 200); do [ -f ready.csv ] && break; sleep 0.05; done
t_ok "another process holds the warehouse" test -f ready.csv
"$APFLOW" --log-level debug -c ocr_page_max_ops=100000 -c ocr_commit_pages=50 ocr --engine text --doc "$L2" \
	>resume.out 2>resume.err &
pid=$!
sleep 1
timeout 10 sh -c 'echo go >hold.fifo'
wait $holder
rc=0
wait $pid || rc=$?
t_eq "ocr --doc resumes it once the warehouse is free (page 290 fails on its bound)" 1 "$rc"
t_match "... the pages left only" "^ocr run [0-9]+: 1 document, $((299 - n2)) pages" "$(cat resume.out)"
t_match "... the done pages read ahead of the plan were dropped" \
	"debug: ocr: $L2: [0-9]+ pages? read ahead of the plan had rows already" "$(cat resume.err)"
t_eq "... every page once: 299 rows, 299 distinct pages, 1 failure" "299,299,1" \
	"$(q "SELECT count(*), count(DISTINCT page_num), (SELECT count(*) FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$L2') FROM md_raw_ocr.main.pages WHERE doc_id = '$L2'")"
t_eq "... no (doc_id, page_num) twice in pages" 0 \
	"$(q "SELECT count(*) FROM (SELECT doc_id, page_num FROM md_raw_ocr.main.pages GROUP BY ALL HAVING count(*) > 1)")"

t_done
