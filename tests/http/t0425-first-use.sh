#!/usr/bin/env bash
# First use migrates (DESIGN.md): on a fresh data dir, with no 'apflow init',
# 'apflow serve' takes an upload and 'apflow ingest' works; each applies the
# pending migrations once (same schema_migrations record as init) and a
# corrupt warehouse refuses to start with the reason.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
sha20() { sha256sum "$1" | cut -c1-20; }
mkpdf a.pdf 2 alpha
mkpdf b.pdf 1 bravo

# ---- ingest on a fresh data dir ----
export APFLOW_DATA_DIR=$T_DIR/fresh
t_rc 0 "ingest on a fresh data dir works without init" "$APFLOW" ingest a.pdf
t_eq "... and ingests" "1 ingested, 0 duplicates, 0 failed" "$(tail -1 "$T_OUT")"
t_match "... saying it migrated the warehouse" "^apflow: applied V001__raw_ocr\\.sql to the warehouse$" "$(cat "$T_ERR")"
t_rc 0 "init afterwards finds nothing to do" "$APFLOW" init
t_eq "... up to date" "warehouse is up to date" "$(cat "$T_OUT")"
t_rc 0 "the document's row is there" "$APFLOW" sql --csv - <<<"SELECT doc_id, pages FROM md_raw_ocr.main.documents;"
t_eq "... with its pages" "doc_id,pages
$(sha20 a.pdf),2" "$(cat "$T_OUT")"
t_rc 0 "a second ingest migrates nothing" "$APFLOW" ingest b.pdf
t_eq "... and is quiet on stderr" "" "$(cat "$T_ERR")"
t_rc 0 "schema_migrations read" "$APFLOW" sql --csv - <<<"SELECT bool_or(name = 'V001__raw_ocr.sql') AS v001, max(n) AS most FROM (SELECT name, count(*) AS n FROM md_raw_ocr.main.schema_migrations GROUP BY name);"
t_eq "V001 recorded, each migration once, as init records them" "v001,most
true,1" "$(cat "$T_OUT")"

# ---- serve on a fresh data dir ----
export APFLOW_DATA_DIR=$T_DIR/fresh2
"$APFLOW" serve --listen 127.0.0.1:0 2>serve.log &
SRV_PID=$!
T_CLEANUP+=("kill $SRV_PID")
serve_listening 150
code=$(curl -sS -o up.json -w '%{http_code}' -F "file=@a.pdf;type=application/pdf" "http://127.0.0.1:$PORT/upload")
t_eq "serve on a fresh data dir takes an upload" 201 "$code"
t_eq "... answering its doc_id" "$(sha20 a.pdf)" "$(jq -r '.doc_id' up.json)"
kill -TERM "$SRV_PID"
wait "$SRV_PID"
t_eq "serve stops cleanly on SIGTERM" 0 "$?"
sed 's/^/# server: /' serve.log
t_nomatch "no sanitizer report from the server" 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$(cat serve.log)"
t_ok "the object is stored" cmp a.pdf "fresh2/lake/raw/$(sha20 a.pdf).pdf"
t_rc 0 "and recorded" "$APFLOW" sql --csv - <<<"SELECT count(*) AS n FROM md_raw_ocr.main.uploads;"
t_eq "... once" "n
1" "$(cat "$T_OUT")"

# ---- a corrupt warehouse refuses to start ----
export APFLOW_DATA_DIR=$T_DIR/bad
mkdir -p bad
head -c 20000 /dev/urandom >bad/md_raw_ocr.duckdb
t_rc 1 "ingest on a corrupt warehouse fails" "$APFLOW" ingest a.pdf
t_match "... naming the file" "md_raw_ocr" "$(cat "$T_ERR")"
t_ok "... and stores nothing" test ! -e bad/lake/raw/"$(sha20 a.pdf)".pdf
t_rc 1 "serve on a corrupt warehouse refuses to start" timeout 30 "$APFLOW" serve --listen 127.0.0.1:0
t_match "... with the reason" "^apflow: error: .*md_raw_ocr" "$(cat "$T_ERR")"
t_nomatch "... before listening" "listening on" "$(cat "$T_ERR")"
t_done
