#!/usr/bin/env bash
# apflow ingest: the upload path from the command line (same checks, same
# records as POST /upload), its summary, --json, exit codes, directories,
# and running beside a server on the same warehouse.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init" "$APFLOW" init
sha20() { sha256sum "$1" | cut -c1-20; }

mkpdf a.pdf 2 alpha
mkpdf b.pdf 1 bravo
mkdir in
mkpdf in/c.pdf 3 charlie
cp a.pdf in/a-copy.PDF
printf 'plain text\n' >in/bad.pdf
printf 'not even named pdf\n' >in/readme.txt
head -c 600 b.pdf >in/trunc.pdf

t_rc 2 "no arguments: usage, exit 2" "$APFLOW" ingest
t_rc 0 "two new files: exit 0" "$APFLOW" ingest a.pdf b.pdf
out=$(cat "$T_OUT")
t_match "a line per file with its doc_id" "^$(sha20 a.pdf)  +2 pages  a\\.pdf$" "$out"
t_match "b's line" "^$(sha20 b.pdf)  +1 page   b\\.pdf$" "$out"
t_eq "summary" "2 ingested, 0 duplicates, 0 failed" "$(tail -1 "$T_OUT")"
t_ok "a is stored at raw/<doc_id>.pdf" cmp a.pdf "data/lake/raw/$(sha20 a.pdf).pdf"
t_ok "b is stored" cmp b.pdf "data/lake/raw/$(sha20 b.pdf).pdf"

t_rc 0 "the same file again: exit 0" "$APFLOW" ingest a.pdf
t_match "marked as a duplicate" "^$(sha20 a.pdf) .*\\(duplicate\\)$" "$(cat "$T_OUT")"
t_eq "summary counts the duplicate" "0 ingested, 1 duplicates, 0 failed" "$(tail -1 "$T_OUT")"

t_rc 1 "a directory with bad files: exit 1" "$APFLOW" ingest in
t_eq "summary over the directory's .pdf files" "1 ingested, 1 duplicates, 2 failed" "$(tail -1 "$T_OUT")"
t_match "the failure names the file and the reason" "^apflow: error: 'in/bad\\.pdf': not a PDF" "$(cat "$T_ERR")"
t_match "a truncated PDF is refused" "^apflow: error: 'in/trunc\\.pdf': damaged PDF: truncated" "$(cat "$T_ERR")"
t_nomatch "files not named .pdf are skipped" 'readme' "$(cat "$T_OUT" "$T_ERR")"
t_match "upper-case .PDF is taken" "^$(sha20 a.pdf) .*in/a-copy\\.PDF  \\(duplicate\\)$" "$(cat "$T_OUT")"

t_rc 1 "--json with a missing file: exit 1" "$APFLOW" ingest --json b.pdf nothere.pdf in/c.pdf
t_eq "--json: one object per file" 3 "$(wc -l <"$T_OUT")"
t_eq "--json: the result fields" "$(sha20 b.pdf) 1 true b.pdf" \
	"$(sed -n 1p "$T_OUT" | jq -r '"\(.doc_id) \(.pages) \(.duplicate) \(.filename)"')"
t_eq "--json: sha256 and bytes" "$(sha256sum b.pdf | cut -d' ' -f1) $(stat -c %s b.pdf)" \
	"$(sed -n 1p "$T_OUT" | jq -r '"\(.sha256) \(.bytes)"')"
t_eq "--json: a failure says what and why" "nothere.pdf ENOTFOUND" \
	"$(sed -n 2p "$T_OUT" | jq -r '"\(.filename) \(.code)"')"
t_match "--json: the failure names the path on stderr" "'nothere\\.pdf'" "$(cat "$T_ERR")"
t_eq "--json: the summary goes to stderr" "0 ingested, 2 duplicates, 1 failed" "$(tail -1 "$T_ERR")"

echo "SELECT source, count(*) AS n, sum(duplicate::INT) AS dups FROM md_raw_ocr.main.uploads GROUP BY source" >q.sql
t_ok "apflow sql reads the uploads" "$APFLOW" sql q.sql --csv
t_eq "every CLI upload event is recorded, with source cli" "source,n,dups
cli,7,4" "$(tr -d '\r' <"$T_OUT")"
echo "SELECT doc_id, pages, filename FROM md_raw_ocr.main.documents ORDER BY pages" >q.sql
"$APFLOW" sql q.sql --csv >docs.csv
t_eq "one documents row per distinct file" "doc_id,pages,filename
$(sha20 b.pdf),1,b.pdf
$(sha20 a.pdf),2,a.pdf
$(sha20 in/c.pdf),3,c.pdf" "$(tr -d '\r' <docs.csv)"
t_eq "no temp file is left" "" "$(find data/tmp data/lake/.apflow-tmp-spool -type f 2>/dev/null)"
t_eq "the spool is the store's hidden temp area" "0700" "$(stat -c %a data/lake/.apflow-tmp-spool | sed 's/^/0/')"
t_eq "... which listings skip" "$(printf 'raw/%s.pdf\n' "$(sha20 a.pdf)" "$(sha20 b.pdf)" "$(sha20 in/c.pdf)" | sort)" \
	"$("$APFLOW" store ls | sort)"

# Beside a running server: neither keeps the warehouse open between units
# of work, so both write to it.
"$APFLOW" serve --listen 127.0.0.1:0 2>serve.log &
srv=$!
T_CLEANUP+=("kill $srv")
for _ in $(seq 100); do grep -q '^listening' serve.log && break; sleep 0.1; done
port=$(sed -n 's|^listening on http://127\.0\.0\.1:||p' serve.log)
mkpdf d.pdf 1 delta
mkpdf e.pdf 1 echo
curl -sS -o up.json -F file=@d.pdf "http://127.0.0.1:$port/upload" &
curl_pid=$!
t_rc 0 "ingest while the server runs" "$APFLOW" ingest e.pdf
wait "$curl_pid"
t_eq "the server's upload went in too" "$(sha20 d.pdf)" "$(jq -r .doc_id up.json)"
code=$(curl -sS -o st.json -w '%{http_code}' "http://127.0.0.1:$port/api/documents/$(sha20 e.pdf)")
t_eq "the server sees the CLI's document" "200 e.pdf" "$code $(jq -r .filename st.json)"
kill -TERM "$srv"
wait "$srv"
t_eq "the server stops cleanly" 0 "$?"
sed 's/^/# server: /' serve.log

# ---- completeness: junk after the end is fine, a cut revision is not ----
# More than 1 KiB of junk hides "startxref" from MuPDF, which then repairs
# the file; it is still whole, as its "%%EOF" followed by junk shows.
mkpdf h.pdf 1 hotel
{ cat h.pdf; head -c 1024 /dev/zero; head -c 1024 /dev/zero | tr '\0' x; } >junk.pdf
t_rc 0 "a PDF followed by 2 KiB of junk is accepted" "$APFLOW" ingest junk.pdf
t_match "... with its page" "^$(sha20 junk.pdf)  +1 page   junk\.pdf$" "$(cat "$T_OUT")"
t_ok "... and stored as sent, junk included" cmp junk.pdf "data/lake/raw/$(sha20 junk.pdf).pdf"
# An incremental update cut in its first object: "%%EOF" is there, but
# what follows it is PDF, not junk.
{ cat h.pdf; printf '9 0 obj\n<</Length 3000>>\nstream\n'; head -c 2500 /dev/zero | tr '\0' q; } >cutrev.pdf
t_rc 1 "a PDF whose last revision was cut short is refused" "$APFLOW" ingest cutrev.pdf
t_match "... as truncated" "'cutrev\.pdf': damaged PDF: truncated" "$(cat "$T_ERR")"
head -c $(($(stat -c %s h.pdf) - 6)) h.pdf >noeof.pdf
t_rc 0 "a PDF missing only its %%EOF line opens without repair: accepted" "$APFLOW" ingest noeof.pdf
t_eq "no temp file is left at the end" "" "$(find data/tmp data/lake/.apflow-tmp-spool -type f 2>/dev/null)"

t_done
