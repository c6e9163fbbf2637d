#!/usr/bin/env bash
# apflow ocr: the OCR stage on the generated corpus (scripts/gen-corpus.sh):
# exact text of born-digital pages in several scripts, word accuracy of
# 300 dpi scans, auto's choice per page, failures recorded but not fatal,
# re-runs, --force and the view, kill -9 and resume, shards, -j2 = -j1.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"

export APFLOW_DATA_DIR=$T_DIR/data
sha20() { sha256sum "$1" | cut -c1-20; }
# q SQL: runs SQL, prints the rows as CSV without the header.
q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --csv | tail -n +2 | tr -d '\r'
}
# page_text DOC PAGE [RUN]: the exact text of a page (of RUN, else from the view).
page_text() {
	if [ -n "${3:-}" ]; then
		echo "SELECT text FROM md_raw_ocr.main.pages WHERE doc_id = getvariable('d') AND page_num = CAST(getvariable('p') AS INTEGER) AND ocr_run_id = CAST(getvariable('r') AS BIGINT)" >qt.sql
	else
		echo "SELECT text FROM md_raw_ocr.main.vw_argilla_pages WHERE doc_id = getvariable('d') AND page_num = CAST(getvariable('p') AS INTEGER) AND getvariable('r') IS NULL" >qt.sql
	fi
	"$APFLOW" sql qt.sql --set "d=$1" --set "p=$2" ${3:+--set "r=$3"} --json | jq -j '.[0].text // "<none>"'
}
# word_accuracy EXPECTED_FILE: 1 - word edit distance / words, of stdin.
word_accuracy() {
	node -e '
		const fs = require("fs");
		const a = fs.readFileSync(process.argv[1], "utf8").split(/\s+/).filter(Boolean);
		const b = fs.readFileSync(0, "utf8").split(/\s+/).filter(Boolean);
		let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
		for (let i = 1; i <= a.length; i++) {
			const cur = [i];
			for (let j = 1; j <= b.length; j++)
				cur[j] = Math.min(prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1), prev[j] + 1, cur[j - 1] + 1);
			prev = cur;
		}
		console.log((1 - prev[b.length] / a.length).toFixed(3));' "$1"
}
# put_raw FILE: stores FILE at raw/<doc_id>.pdf and makes its documents row,
# bypassing ingest (which refuses damaged, encrypted and empty PDFs).
put_raw() {
	"$APFLOW" store put "raw/$(sha20 "$1").pdf" "$1" >/dev/null && add_doc_row "$1"
}
add_doc_row() {
	cat >ins.sql <<-'EOF'
	INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes)
	VALUES (getvariable('id'), getvariable('sha'), getvariable('name'), CAST(getvariable('bytes') AS BIGINT))
	EOF
	"$APFLOW" sql ins.sql --set "id=$(sha20 "$1")" --set "sha=$(sha256sum "$1" | cut -d' ' -f1)" \
		--set "name=$(basename "$1")" --set "bytes=$(stat -c %s "$1")"
}

t_ok "apflow init" "$APFLOW" init
t_ok "generate the corpus" "$APFLOW_TOP/scripts/gen-corpus.sh" corpus
C=corpus
"$APFLOW" ingest "$C" >ingest.out 2>&1
t_eq "ingest takes the 7 readable files" "7 ingested, 0 duplicates, 5 failed" "$(grep ingested ingest.out)"
# What ingest refuses, the stage must survive when it finds it in the store
# anyway (an older ingest, another tool, a bucket filled by hand).
for f in damaged encrypted empty truncated; do put_raw "$C/$f.pdf"; done
mkpdf gone.pdf 2 "never stored"
add_doc_row gone.pdf
t_eq "12 documents" 12 "$(q 'SELECT count(*) FROM md_raw_ocr.main.documents')"

# --- usage ---
t_rc 2 "unknown engine: exit 2" "$APFLOW" ocr --engine magic
t_match "unknown engine named" "unknown engine 'magic'" "$(cat "$T_ERR")"
t_rc 2 "bad shard: exit 2" "$APFLOW" ocr --shard 2/2
t_rc 2 "--force with --retry-failed: exit 2" "$APFLOW" ocr --force --retry-failed
t_rc 2 "bad doc id: exit 2" "$APFLOW" ocr --doc NOTANID
t_rc 1 "unknown doc id: exit 1" "$APFLOW" ocr --doc 0123456789abcdef0123
t_match "unknown doc id named" "no document '0123456789abcdef0123'" "$(cat "$T_ERR")"
t_eq "... and nothing else said: what was read ahead of the plan is dropped quietly" 1 "$(grep -c . "$T_ERR")"
t_rc 1 "a Tesseract language that is not installed: exit 1" "$APFLOW" ocr --lang xx
t_match "... named, before any run" "cannot load Tesseract language 'xx'" "$(cat "$T_ERR")"
t_rc 1 "... also when auto finds no language file where Tesseract looks" \
	env TESSDATA_PREFIX="$PWD/nowhere" "$APFLOW" ocr --engine auto
t_match "... and it says which" "cannot load Tesseract language 'eng'.*is its traineddata installed" "$(cat "$T_ERR")"
t_eq "no run made by failed starts" 0 "$(q 'SELECT count(*) FROM md_raw_ocr.main.ocr_runs')"

# --- the first run: auto, two workers ---
t_rc 1 "auto -j2 over the corpus: exit 1 (some documents fail)" "$APFLOW" ocr -j2
out=$(cat "$T_OUT")
t_match "summary line" '^ocr run 1: 12 documents, 17 pages \(text 11, tesseract 6, deepseek 0\), 5 failed in [0-9.]+ s$' "$out"
t_match "stderr says how many failed" "5 failed \\(4 documents, 1 page\\)" "$(cat "$T_ERR")"
t_nomatch "no sanitizer or MuPDF noise on stderr" 'ERROR|runtime error|warning: (mupdf|tesseract)' "$(cat "$T_ERR")"
t_eq "the run row: done, with its counts" "auto,done,12,17,5" \
	"$(q 'SELECT engine, status, docs, pages, failed FROM md_raw_ocr.main.ocr_runs WHERE ocr_run_id = 1')"
t_eq "params record the engine and workers" "auto 2 300 eng" \
	"$(q 'SELECT params FROM md_raw_ocr.main.ocr_runs' | sed 's/^"//; s/"$//; s/""/"/g' | jq -r '"\(.engine) \(.jobs) \(.dpi) \(.lang)"')"

scripts=$(sha20 $C/scripts.pdf)
for p in 1 2 3 4 5; do
	t_eq "scripts.pdf page $p: exact text ($(head -c 24 $C/scripts.p$p.txt)...)" "$(cat $C/scripts.p$p.txt)" \
		"$(page_text "$scripts" $p)"
done
for f in badxref owneronly truncated; do
	t_eq "$f.pdf page 1: exact text" "$(cat $C/$f.p1.txt)" "$(page_text "$(sha20 $C/$f.pdf)" 1)"
done
scan=$(sha20 $C/scan.pdf)
mixed=$(sha20 $C/mixed.pdf)
for p in 1 2; do
	acc=$(page_text "$scan" $p | word_accuracy $C/scan.p$p.txt)
	t_match "scan.pdf page $p: word accuracy $acc >= 0.95" '^(0\.9[5-9][0-9]|1\.000)$' "$acc"
done
t_eq "mixed.pdf: auto chose per page" "1,text 2,tesseract 3,text 4,tesseract" \
	"$(q "SELECT page_num, engine FROM md_raw_ocr.main.pages WHERE doc_id = '$mixed' ORDER BY page_num" | tr '\n' ' ' | sed 's/ $//')"
t_eq "mixed.pdf text pages: exact" "$(cat $C/mixed.p1.txt)|$(cat $C/mixed.p3.txt)" \
	"$(page_text "$mixed" 1)|$(page_text "$mixed" 3)"
for p in 2 4; do
	acc=$(page_text "$mixed" $p | word_accuracy $C/mixed.p$p.txt)
	t_match "mixed.pdf page $p: word accuracy $acc >= 0.95" '^(0\.9[5-9][0-9]|1\.000)$' "$acc"
done
t_eq "garbage.pdf: a text layer of unmapped glyphs goes to Tesseract" "tesseract" \
	"$(q "SELECT engine FROM md_raw_ocr.main.pages WHERE doc_id = '$(sha20 $C/garbage.pdf)'")"
t_eq "text pages have no confidence, Tesseract pages one in 0..1" "0 0" \
	"$(q "SELECT count(*) FILTER (engine = 'text' AND confidence IS NOT NULL), count(*) FILTER (engine = 'tesseract' AND NOT confidence BETWEEN 0.5 AND 1) FROM md_raw_ocr.main.pages" | tr ',' ' ')"
t_eq "text_sha256 is the SHA-256 of the text, chars its code points" "0" \
	"$(q "SELECT count(*) FROM md_raw_ocr.main.pages WHERE text_sha256 <> sha256(text) OR chars <> length(text)")"
t_eq "chars of scripts.pdf page 4 (CJK) in code points" "$(node -e 'console.log([...require("fs").readFileSync(process.argv[1], "utf8")].length)' $C/scripts.p4.txt)" \
	"$(q "SELECT chars FROM md_raw_ocr.main.pages WHERE doc_id = '$scripts' AND page_num = 4")"
t_eq "model per engine" "tesseract,tesseract $(tesseract --version 2>&1 | sed -n '1s/^tesseract //p') eng|text,mupdf $(mutool -v 2>&1 | sed -n '1s/^mutool version //p')" \
	"$(q "SELECT DISTINCT engine, model FROM md_raw_ocr.main.pages ORDER BY engine" | tr '\n' '|' | sed 's/|$//')"

# Failures: one row per failed document (page_num NULL) or page.
fails=$(q "SELECT d.filename, coalesce(CAST(f.page_num AS VARCHAR), '-'), f.error FROM md_raw_ocr.main.ocr_failures AS f JOIN md_raw_ocr.main.documents AS d USING (doc_id) ORDER BY d.filename, f.page_num")
t_match "damaged.pdf failed whole: damaged PDF" '^damaged\.pdf,-,damaged PDF: ' "$fails"
t_match "encrypted.pdf failed whole: needs a password" '^encrypted\.pdf,-,encrypted PDF: a password is needed' "$fails"
t_match "empty.pdf (0 pages) failed whole" '^empty\.pdf,-,PDF has no pages$' "$fails"
t_match "a document missing from the store failed: no such object" "^gone\\.pdf,-,cannot get '.*/raw/$(sha20 gone.pdf)\\.pdf': no such object" "$fails"
t_match "truncated.pdf page 3 failed: its object is gone, with MuPDF's reason" '^truncated\.pdf,3,"?page 3: cannot read the text of page 3: object out of range \(12 0 R\)' "$fails"
t_eq "truncated.pdf pages 1 and 2 stored" "1 2" \
	"$(q "SELECT page_num FROM md_raw_ocr.main.pages WHERE doc_id = '$(sha20 $C/truncated.pdf)' ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
t_eq "five failure rows, all of run 1" "5,1" "$(q 'SELECT count(*), max(ocr_run_id) FROM md_raw_ocr.main.ocr_failures')"
t_eq "no temp file is left" "" "$(ls data/tmp)"

# --- a re-run is a no-op ---
t_rc 0 "re-run: exit 0" "$APFLOW" ocr
t_eq "re-run says nothing to do" "ocr: nothing to do (12 documents already done; --force redoes them, --retry-failed those that failed)" "$(cat "$T_OUT")"
t_eq "re-run: no new run, no new rows" "1,17,5" \
	"$(q 'SELECT (SELECT count(*) FROM md_raw_ocr.main.ocr_runs), (SELECT count(*) FROM md_raw_ocr.main.pages), (SELECT count(*) FROM md_raw_ocr.main.ocr_failures)')"
# Named documents are read while the warehouse plans; done ones are dropped.
t_rc 0 "--doc of done documents: exit 0" "$APFLOW" ocr --doc "$scripts" --doc "$(sha20 $C/truncated.pdf)"
t_eq "... nothing to do" "ocr: nothing to do (2 documents already done; --force redoes them, --retry-failed those that failed)" "$(cat "$T_OUT")"
t_eq "... without a word on stderr (no progress, no failure of the truncated page)" "" "$(cat "$T_ERR")"
t_eq "... no new run, no new rows" "1,17,5" \
	"$(q 'SELECT (SELECT count(*) FROM md_raw_ocr.main.ocr_runs), (SELECT count(*) FROM md_raw_ocr.main.pages), (SELECT count(*) FROM md_raw_ocr.main.ocr_failures)')"
t_eq "... and no temp file left" "" "$(ls data/tmp)"

# --- --retry-failed: the missing document arrives ---
t_ok "store the missing document" "$APFLOW" store put "raw/$(sha20 gone.pdf).pdf" gone.pdf
t_rc 1 "--retry-failed redoes the five failed documents" "$APFLOW" ocr --retry-failed --engine text --json
t_eq "--json: one line per document, then the run" 6 "$(wc -l <"$T_OUT")"
t_eq "--json: the arrived document is stored" "2 2 0" \
	"$(grep "\"$(sha20 gone.pdf)\"" "$T_OUT" | jq -r '"\(.pages) \(.stored) \(.failed)"')"
t_match "--json: the run line says how long the workers read" '^[0-9.]+$' "$(tail -1 "$T_OUT" | jq '.read_seconds')"
t_eq "--json: the run line" "2 5 4 4 4 3 1" \
	"$(tail -1 "$T_OUT" | jq -r '"\(.ocr_run_id) \(.documents) \(.pages) \(.text) \(.failed) \(.failed_documents) \(.failed_pages)"')"
t_match "--json: the summary goes to stderr" '^ocr run 2: 5 documents, 4 pages' "$(grep '^ocr run' "$T_ERR")"

# --- --force: a new run; the view shows each page's latest ---
t_rc 1 "--force --engine text over everything: exit 1" "$APFLOW" ocr --force --engine text
t_match "--force: a new run over all 12 documents" '^ocr run 3: 12 documents, 15 pages \(text 15, tesseract 0, deepseek 0\), 8 failed' "$(cat "$T_OUT")"
t_match "... the 4 scanned pages keep Tesseract's text, and it says so" '^apflow: 4 pages found no text where an earlier run of another engine had some: kept that text' "$(cat "$T_ERR")"
t_eq "the view: one row per page, each from its latest run" "19,19,1,3" \
	"$(q "SELECT count(*), count(DISTINCT record_id), min(ocr_run_id), max(ocr_run_id) FROM md_raw_ocr.main.vw_argilla_pages")"
t_eq "the view: mixed.pdf page 2 keeps Tesseract's text (its text layer is empty)" "tesseract,true" \
	"$(q "SELECT engine, chars > 0 FROM md_raw_ocr.main.vw_argilla_pages WHERE doc_id = '$mixed' AND page_num = 2")"
t_match "... and run 3's failure row says why" '^page 2: the text engine found no text; the page keeps its text of run [12] \(tesseract\)$' \
	"$(q "SELECT error FROM md_raw_ocr.main.ocr_failures WHERE ocr_run_id = 3 AND doc_id = '$mixed' AND page_num = 2")"
t_eq "older runs' rows stay" "17,4,15" \
	"$(q "SELECT count(*) FILTER (ocr_run_id = 1), count(*) FILTER (ocr_run_id = 2), count(*) FILTER (ocr_run_id = 3) FROM md_raw_ocr.main.pages")"

# --- -j2 gives the same rows as -j1 (Tesseract pages included) ---
t_ok "-j1 on mixed.pdf and scripts.pdf" "$APFLOW" ocr --force -j1 --doc "$mixed" --doc "$scripts"
t_ok "-j2 on the same" "$APFLOW" ocr --force -j2 --doc "$mixed" --doc "$scripts"
t_eq "-j1 and -j2 rows are identical" "9,9,9" \
	"$(q "SELECT count(*) FILTER (ocr_run_id = 4), count(*) FILTER (ocr_run_id = 5), (SELECT count(*) FROM (SELECT doc_id, page_num, engine, text_sha256, chars FROM md_raw_ocr.main.pages WHERE ocr_run_id = 4 INTERSECT SELECT doc_id, page_num, engine, text_sha256, chars FROM md_raw_ocr.main.pages WHERE ocr_run_id = 5)) FROM md_raw_ocr.main.pages")"

# --- --parquet-out: the run's pages as Parquet, partitioned by doc_id ---
t_rc 1 "--parquet-out file:// (exit 1: mixed.pdf's 2 scanned pages keep their text)" "$APFLOW" ocr --force --engine text --doc "$scripts" --doc "$mixed" --parquet-out "file://$T_DIR/pq/ocr"
run=$(q 'SELECT max(ocr_run_id) FROM md_raw_ocr.main.ocr_runs')
t_match "it says where" "ocr run $run: 2 Parquet files under file://" "$(cat "$T_ERR")"
t_eq "one file per document, under ocr_run_id=N/doc_id=ID/" 	"$(printf 'ocr_run_id=%s/doc_id=%s/data_0.parquet\n' "$run" "$mixed" "$run" "$scripts" | sort)" 	"$(cd pq/ocr && find . -name '*.parquet' | sed 's|^\./||' | sort)"
t_eq "the Parquet rows are the run's rows" "7,7,2" 	"$(q "SELECT count(*), count(*) FILTER (p.text_sha256 = sha256(x.text) AND x.text_sha256 = p.text_sha256), count(DISTINCT x.doc_id) FROM read_parquet('pq/ocr/*/*/*.parquet', hive_partitioning = false) AS x JOIN md_raw_ocr.main.pages AS p USING (doc_id, page_num, ocr_run_id)")"
t_eq "no temp file is left" "" "$(ls data/tmp)"

# --- another process writes to the warehouse while a run works ---
"$APFLOW" ocr --force --engine tesseract -j1 --doc "$scan" --doc "$mixed" >side.out 2>side.err &
ocr_pid=$!
sleep 0.5
mkpdf side.pdf 1 "ingested during OCR"
t_ok "ingest while an OCR run works (the warehouse is free between commits)" "$APFLOW" ingest side.pdf
t_ok "another OCR run while the first works" "$APFLOW" ocr --engine text --doc "$(sha20 side.pdf)"
wait $ocr_pid
t_eq "the OCR run finished too" "0 6" "$? $(sed -n 's/^ocr run [0-9]*: 2 documents, \([0-9]*\) pages.*/\1/p' side.out)"
t_eq "a run that is alive is not taken for dead" "0" "$(q "SELECT count(*) FROM md_raw_ocr.main.ocr_runs WHERE status = 'killed'")"

# --- auto loads Tesseract's model only for a page that needs it ---
# eng.traineddata is there (so the run starts) but unusable: born-digital
# pages never notice; a scan's pages fail with the reason, the run goes on.
mkdir -p junkdata && echo "not a model" >junkdata/eng.traineddata
t_rc 0 "auto on born-digital scripts.pdf with an unusable eng.traineddata: exit 0" \
	env TESSDATA_PREFIX="$PWD/junkdata" "$APFLOW" ocr --force --doc "$scripts"
t_match "... its 5 pages read from the text layer" '^ocr run [0-9]+: 1 document, 5 pages \(text 5, tesseract 0, deepseek 0\), 0 failed' \
	"$(cat "$T_OUT")"
t_rc 1 "auto on scan.pdf with it: exit 1" env TESSDATA_PREFIX="$PWD/junkdata" "$APFLOW" ocr --force --doc "$scan"
t_eq "... both pages failed, with the reason" "2,page 1: cannot load Tesseract language 'eng': is its traineddata installed (tesseract-ocr-eng)?" \
	"$(q "SELECT count(*), min(error) FROM md_raw_ocr.main.ocr_failures WHERE doc_id = '$scan' AND ocr_run_id = (SELECT max(ocr_run_id) FROM md_raw_ocr.main.ocr_runs)")"

# --- kill -9 mid-run, then resume ---
export APFLOW_DATA_DIR=$T_DIR/kill
t_ok "a second warehouse" "$APFLOW" init
mkdir big
for i in 1 2 3 4 5 6; do mkpdf big/doc$i.pdf 150 "document $i of the kill test"; done
"$APFLOW" ingest big >/dev/null 2>&1
"$APFLOW" ocr --engine text -j1 --json >kill.out 2>kill.err &
pid=$!
for _ in $(seq 1 600); do [ -s kill.out ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
done1=$(q 'SELECT count(DISTINCT doc_id) FROM md_raw_ocr.main.pages')
t_match "killed after $done1 document(s) committed, before the end" '^[1-5]$' "$done1"
t_eq "the killed run stays 'running' with the committed documents' counts" "running,$done1,$((done1 * 150))" \
	"$(q 'SELECT status, docs, pages FROM md_raw_ocr.main.ocr_runs')"
t_eq "only whole documents were committed" "$((done1 * 150)),$done1" \
	"$(q 'SELECT count(*), count(DISTINCT doc_id) FROM md_raw_ocr.main.pages')"
t_match "the killed run left its in-flight temp files" '^[1-9]' "$(ls kill/tmp | grep -c '^apflow-ocr-')"
t_rc 0 "the re-run finishes the rest" "$APFLOW" ocr --engine text -j1
t_match "re-run did the other documents" "^ocr run 2: $((6 - done1)) documents, $(((6 - done1) * 150)) pages" "$(cat "$T_OUT")"
t_eq "the re-run marked the dead run 'killed', its counts kept" "1,killed,$done1,$((done1 * 150)),true;2,done,$((6 - done1)),$(((6 - done1) * 150)),true" \
	"$(q 'SELECT ocr_run_id, status, docs, pages, finished_at IS NOT NULL FROM md_raw_ocr.main.ocr_runs ORDER BY 1' | tr '\n' ';' | sed 's/;$//')"
t_eq "every page exactly once over the two runs" "900,900,6" \
	"$(q 'SELECT count(*), count(DISTINCT (doc_id, page_num)), count(DISTINCT doc_id) FROM md_raw_ocr.main.pages')"
t_eq "each document in one run only" 0 \
	"$(q 'SELECT count(*) FROM (SELECT doc_id FROM md_raw_ocr.main.pages GROUP BY doc_id HAVING count(DISTINCT ocr_run_id) > 1)')"
t_eq "the killed run's temp files were cleaned up" "" "$(ls kill/tmp)"

# --- two workers share one big document's pages ---
t_ok "-j2 --force on one 150-page document" "$APFLOW" ocr --engine text -j2 --force --doc "$(sha20 big/doc1.pdf)"
t_eq "-j2 on one document: every page once, text as -j1's" "150,150,150" \
	"$(q "SELECT count(*), count(DISTINCT p.page_num), count(p1.page_num) FROM md_raw_ocr.main.pages AS p LEFT JOIN md_raw_ocr.main.pages AS p1 ON p1.doc_id = p.doc_id AND p1.page_num = p.page_num AND p1.ocr_run_id < 3 AND p1.text_sha256 = p.text_sha256 WHERE p.ocr_run_id = 3")"

# --- shards: 0/2 and 1/2 cover every document exactly once ---
t_ok "--shard 0/2" "$APFLOW" ocr --engine text --force --shard 0/2
t_ok "--shard 1/2" "$APFLOW" ocr --engine text --force --shard 1/2
t_eq "the two shards together: all 6 documents, none twice" "6,6" \
	"$(q 'SELECT count(DISTINCT doc_id), count(DISTINCT (doc_id, ocr_run_id)) FROM md_raw_ocr.main.pages WHERE ocr_run_id IN (4, 5)')"
t_eq "shard = first 8 bytes of sha256(doc_id) mod N, as documented in SQL" 0 \
	"$(q "SELECT count(*) FROM (SELECT DISTINCT doc_id, ocr_run_id FROM md_raw_ocr.main.pages WHERE ocr_run_id IN (4, 5)) WHERE ('0x' || substr(sha256(doc_id), 1, 16))::UBIGINT % 2 <> ocr_run_id - 4")"
t_eq "shard runs record their shard" "0/2 1/2" \
	"$(q 'SELECT params FROM md_raw_ocr.main.ocr_runs WHERE ocr_run_id IN (4, 5) ORDER BY ocr_run_id' | sed 's/^"//; s/"$//; s/""/"/g' | jq -r .shard | tr '\n' ' ' | sed 's/ $//')"

# --- a long run gives the warehouse up to a process that waits for it ---
# 200 documents of 600 pages: the run commits one after another for some
# seconds.  An ingest started meanwhile asks for its turn (.lock-wanted);
# the run's writer, its hold of 1 s over, closes and waits for it, so the
# ingest is done long before the run (before, it waited for the whole run,
# and for a run longer than lock_timeout it failed).
export APFLOW_DATA_DIR=$T_DIR/turns
t_ok "a third warehouse" "$APFLOW" init
mkpdf turns.pdf 600 "taking turns"
mkdir turns
for i in $(seq 1 200); do
	cp turns.pdf turns/t$i.pdf
	printf '\n%% copy %d\n' "$i" >>turns/t$i.pdf # another doc_id
done
"$APFLOW" ingest turns >/dev/null 2>&1
"$APFLOW" ocr --engine text -j1 >turns.out 2>turns.err &
ocr_pid=$!
sleep 0.8
mkpdf late.pdf 1 "ingested while a long run commits"
t_ok "ingest while a long run keeps committing" "$APFLOW" ingest late.pdf
state=$(kill -0 "$ocr_pid" 2>/dev/null && echo running || echo finished)
wait "$ocr_pid"
t_eq "the run finished: 200 documents, 120000 pages" "0 120000" \
	"$? $(sed -n 's/^ocr run 1: 200 documents, \([0-9]*\) pages.*/\1/p' turns.out)"
t_eq "the ingest was done while the run still went on" running "$state"
t_eq "no request for the files left behind" "" "$(ls -A "$APFLOW_DATA_DIR" | grep lock-wanted)"

t_done
