#!/usr/bin/env bash
# POST /upload, GET /api/documents, GET /healthz and the server's checks:
# doc_ids, duplicates, every refusal with its status, streaming limits,
# slow and vanishing clients, filenames, graceful stop, and no orphans.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
client="$APFLOW_TOP/tests/http/upload-client.js"
TOKEN=t0400-upload-token-9f2c

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init makes the warehouse" "$APFLOW" init

# The server's stderr is copied into this test's log when it stops, so a
# sanitizer report there fails the test.
show_server_log() { sed 's/^/# server: /' serve.log; }
start_server() {	# extra args...; sets PORT, SRV_PID
	rm -f serve.log
	"$APFLOW" serve --listen 127.0.0.1:0 "$@" 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill $SRV_PID")
	serve_listening
}

# up STATUS_FILE BODY_FILE curl-args...: POST /upload with the token.
up() {
	local out=$1; shift
	curl -sS -o "$out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" "$URL/upload"
}
sha20() { sha256sum "$1" | cut -c1-20; }
# Upload bodies are spooled in the store's hidden temp area (else data/tmp).
temps() { find data/tmp data/lake/.apflow-tmp-spool -type f 2>/dev/null; }
j() { jq -r "$1" "$2"; }

mkpdf a.pdf 2 alpha
mkpdf b.pdf 3 bravo
mkpdf c.pdf 1 charlie
mkpdf d.pdf 1 delta
mkpdf_pad slow.pdf 64 slowpoke
mkpdf_pad gone.pdf 256 vanishing
mkpdf e.pdf 1 echo
mkpdf f.pdf 4 foxtrot
mkpdf g.pdf 1 golf
for i in 1 2 3 4 5; do mkpdf "fast$i.pdf" 1 "fast $i"; done

start_server --upload-token "$TOKEN"
t_match "serve says where it listens" '^listening on http://127\.0\.0\.1:[0-9]+$' "$(head -1 serve.log)"
t_nomatch "the token never appears in the log" "$TOKEN" "$(cat serve.log)"

# ---- the page ----
code=$(curl -sS -o page.html -D page.h -w '%{http_code}' "$URL/")
t_eq "GET / serves the upload page" 200 "$code"
t_match "the page is HTML" 'Content-Type: text/html' "$(cat page.h)"
t_match "the page has the drop zone and the picker" 'id="drop".*|type="file"' "$(cat page.html)"
t_nomatch "the page loads nothing from elsewhere" '(src|href)="(https?:)?//' "$(cat page.html)"
t_match "the page forbids outside assets (CSP)" "Content-Security-Policy: default-src 'none'" "$(cat page.h)"

# ---- good uploads ----
code=$(up r1.json -F "file=@a.pdf")
t_eq "multipart upload: 201" 201 "$code"
t_eq "multipart: doc_id = first 20 hex of sha256" "$(sha20 a.pdf)" "$(j .doc_id r1.json)"
t_eq "multipart: sha256" "$(sha256sum a.pdf | cut -d' ' -f1)" "$(j .sha256 r1.json)"
t_eq "multipart: pages" 2 "$(j .pages r1.json)"
t_eq "multipart: bytes" "$(stat -c %s a.pdf)" "$(j .bytes r1.json)"
t_eq "multipart: filename" a.pdf "$(j .filename r1.json)"
t_eq "multipart: not a duplicate" false "$(j .duplicate r1.json)"
t_ok "the object is at raw/<doc_id>.pdf, byte for byte" cmp a.pdf "data/lake/raw/$(sha20 a.pdf).pdf"

code=$(up r2.json -H 'Content-Type: application/pdf' -H 'X-Filename: Bravo%20report.pdf' --data-binary @b.pdf)
t_eq "raw application/pdf upload: 201" 201 "$code"
t_eq "raw: doc_id" "$(sha20 b.pdf)" "$(j .doc_id r2.json)"
t_eq "raw: X-Filename is percent-decoded" "Bravo report.pdf" "$(j .filename r2.json)"
t_eq "raw: pages" 3 "$(j .pages r2.json)"

uri() { jq -rn --arg v "$1" '$v|@uri'; }
code=$(curl -sS -o r3.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/pdf' \
	--data-binary @c.pdf "$URL/upload?filename=$(uri 'charlie é.pdf')")
t_eq "raw with ?filename=: 201" 201 "$code"
t_eq "raw: ?filename= is kept (UTF-8)" "charlie é.pdf" "$(j .filename r3.json)"

code=$(up r4.json -F "file=@a.pdf;filename=again.pdf")
t_eq "same bytes again: 200" 200 "$code"
t_eq "same bytes again: duplicate true" true "$(j .duplicate r4.json)"
t_eq "same bytes again: same doc_id" "$(sha20 a.pdf)" "$(j .doc_id r4.json)"

code=$(up r5.json -F "file=@d.pdf" -F "file=@e.pdf" -F "note=ignored")
t_eq "two files in one multipart body: 201" 201 "$code"
t_eq "two files: two results in order" "$(sha20 d.pdf) $(sha20 e.pdf)" "$(jq -r '[.files[].doc_id]|join(" ")' r5.json)"

code=$(curl -sS -o s1.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/documents/$(sha20 a.pdf)")
t_eq "GET /api/documents/<doc_id>: 200" 200 "$code"
t_eq "status: both upload events recorded" 2 "$(j .uploads s1.json)"
t_eq "status: pages" 2 "$(j .pages s1.json)"
t_eq "status: filename of the first upload" a.pdf "$(j .filename s1.json)"
t_eq "status: OCR not started" "pending 0 0" "$(jq -r '"\(.ocr.state) \(.ocr.pages_done) \(.ocr.pages_failed)"' s1.json)"
t_eq "status: annotation state" not_started "$(j .annotation.state s1.json)"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/documents/00000000000000000000")
t_eq "unknown doc_id: 404" 404 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/documents/..%2Fetc")
t_eq "malformed doc_id: 400" 400 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/api/documents/$(sha20 a.pdf)")
t_eq "document status needs the token too: 401" 401 "$code"

# Keyset pagination over the upload events, newest first.
curl -sS -H "Authorization: Bearer $TOKEN" "$URL/api/documents?limit=2" >l1.json
t_eq "list: limit=2 gives 2" 2 "$(jq '.uploads|length' l1.json)"
next=$(j .next l1.json)
curl -sS -H "Authorization: Bearer $TOKEN" "$URL/api/documents?limit=100&after=$next" >l2.json
t_eq "list: the pages cover all 6 events once" "6 6" \
	"$(jq -s '[.[].uploads[].upload_id]|"\(length) \(unique|length)"' -r l1.json l2.json)"
t_eq "list: newest first" "$(jq -s '[.[].uploads[].upload_id]|sort|reverse|map(tostring)|join(",")' -r l1.json l2.json)" \
	"$(jq -s '[.[].uploads[].upload_id]|map(tostring)|join(",")' -r l1.json l2.json)"
t_eq "list: the last page says there is no next" null "$(j .next l2.json)"
t_eq "list: a's two events, one a duplicate" "false,true" \
	"$(jq -s -r --arg d "$(sha20 a.pdf)" '[.[].uploads[]|select(.doc_id==$d)|.duplicate]|sort|map(tostring)|join(",")' l1.json l2.json)"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/documents?limit=0")
t_eq "list: limit=0 is 400" 400 "$code"

# ---- refusals ----
: >empty.pdf
code=$(up x.json -F "file=@empty.pdf")
t_eq "0-byte file: 400" 400 "$code"
t_match "0-byte file: says so" 'empty' "$(j .error x.json)"
code=$(up x.json -H 'Content-Type: application/pdf' --data-binary @empty.pdf)
t_eq "0-byte raw body: 400" 400 "$code"
head -c $(($(stat -c %s f.pdf) * 2 / 3)) f.pdf >trunc.pdf
code=$(up x.json -F "file=@trunc.pdf")
t_eq "truncated PDF: 400" 400 "$code"
t_eq "truncated PDF: code EPDF" EPDF "$(j .code x.json)"
t_match "truncated PDF: says so" 'truncated' "$(j .error x.json)"
# Junk after %%EOF is not truncation, even past the 1 KiB in which MuPDF
# looks for startxref (it then repairs the file).
mkpdf h.pdf 2 hotel
{ cat h.pdf; head -c 1024 /dev/zero; head -c 1024 /dev/zero | tr '\0' x; } >junk.pdf
code=$(up x.json -H 'Content-Type: application/pdf' --data-binary @junk.pdf)
t_eq "valid PDF + 2 KiB of junk: 201" 201 "$code"
t_eq "valid PDF + 2 KiB of junk: its pages" 2 "$(j .pages x.json)"
t_ok "valid PDF + 2 KiB of junk: stored as sent" cmp junk.pdf "data/lake/raw/$(sha20 junk.pdf).pdf"
printf 'just some text, not a PDF\n' >notes.pdf
code=$(up x.json -F "file=@notes.pdf")
t_eq "non-PDF named .pdf: 400" 400 "$code"
t_match "non-PDF: the reason" 'not a PDF' "$(j .error x.json)"
code=$(up x.json -H 'Content-Type: text/plain' --data-binary @a.pdf)
t_eq "other content type: 415" 415 "$code"
t_eq "415 is EMEDIATYPE" EMEDIATYPE "$(j .code x.json)"
code=$(up x.json --data-binary @a.pdf)
t_eq "form-urlencoded body: 415" 415 "$code"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="m.pdf"\r\nContent-Type: application/pdf\r\n\r\n%%PDF-1.4 never ends' >bad.mp
code=$(up x.json -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary @bad.mp)
t_eq "multipart without its closing boundary: 400" 400 "$code"
t_match "malformed multipart: says so" 'multipart' "$(j .error x.json)"
code=$(up x.json -H 'Content-Type: multipart/form-data' --data-binary @bad.mp)
t_eq "multipart without a boundary: 400" 400 "$code"
code=$(up x.json -F "other=@a.pdf")
t_eq "multipart without a 'file' field: 400" 400 "$code"
code=$(curl -sS -o x.json -D x.h -w '%{http_code}' -F "file=@g.pdf" "$URL/upload")
t_eq "no token: 401" 401 "$code"
t_match "401 says how to authenticate" 'WWW-Authenticate: Bearer' "$(cat x.h)"
code=$(curl -sS -o x.json -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" -F "file=@g.pdf" "$URL/upload")
t_eq "wrong token: 401" 401 "$code"
code=$(curl -sS -o x.json -w '%{http_code}' -H "Authorization: Basic $TOKEN" -F "file=@g.pdf" "$URL/upload")
t_eq "token in another scheme: 401" 401 "$code"
code=$(curl -sS -o x.json -D x.h -w '%{http_code}' "$URL/upload")
t_eq "GET /upload: 405" 405 "$code"
t_eq "405 is EMETHOD" EMETHOD "$(j .code x.json)"
t_match "405 names the method allowed" 'Allow: POST' "$(cat x.h)"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/nope")
t_eq "unknown path: 404" 404 "$code"

read -r status ms < <(node "$client" bigcl "$PORT" "$TOKEN")
t_eq "Content-Length: 105906176 (101 MiB): 413" 413 "$status"
t_ok "413 comes before the body is read (${ms} ms)" test "$ms" -lt 2000
read -r status < <(node "$client" chunked "$PORT" "$TOKEN" 101)
t_eq "chunked body past 100 MiB: 413" 413 "$status"

# ---- filenames are metadata, never paths ----
code=$(up n1.json -H 'Content-Type: application/pdf' -H 'X-Filename: ..%2F..%2Fetc%2Fpass%00wd%0A%1B[31m.pdf' --data-binary @g.pdf)
t_eq "hostile X-Filename: accepted" 201 "$code"
t_eq "hostile X-Filename: last component, no NUL or control bytes" "pass""wd[31m.pdf" "$(j .filename n1.json)"
t_ok "hostile X-Filename: the object key is raw/<doc_id>.pdf" test -f "data/lake/raw/$(sha20 g.pdf).pdf"
code=$(curl -sS -o n2.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/pdf' \
	--data-binary @g.pdf "$URL/upload?filename=$(uri '..\..\win%00.pdf')")
t_eq "backslash path in ?filename=: accepted" 200 "$code"
t_eq "backslash path: last component only" "win%00.pdf" "$(j .filename n2.json)"
code=$(curl -sS -o n4.json -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/pdf' --data-binary @g.pdf "$URL/upload?filename=nul%00byte%09.pdf")
t_eq "NUL and tab in ?filename=: dropped" "nulbyte.pdf" "$(j .filename n4.json)"
curl -sS -o n3.json -H "Authorization: Bearer $TOKEN" -F "file=@g.pdf;filename=../../../../tmp/evil.pdf" "$URL/upload"
t_eq "multipart ../ filename: last component" evil.pdf "$(j .filename n3.json)"
t_ok "nothing was written outside the store" test ! -e "$T_DIR/tmp/evil.pdf" -a ! -e /tmp/evil.pdf -a ! -e "$T_DIR/data/evil.pdf"

# ---- a slow client does not hold up the others ----
node "$client" trickle "$PORT" "$TOKEN" slow.pdf 4000 >slow.out &
slow_pid=$!
sleep 0.5
start=$(date +%s%N)
fast_ok=0
for i in 1 2 3 4 5; do
	code=$(up "fast$i.json" -F "file=@fast$i.pdf")
	[ "$code" = 201 ] && fast_ok=$((fast_ok + 1))
done
fast_ms=$((($(date +%s%N) - start) / 1000000))
t_eq "five uploads during the slow one: all 201" 5 "$fast_ok"
t_ok "slow client still sending when the others were done (${fast_ms} ms)" kill -0 "$slow_pid"
wait "$slow_pid"
read -r status body <slow.out
t_eq "the slow upload ends 201" 201 "$status"
t_eq "the slow upload's doc_id" "$(sha20 slow.pdf)" "$(printf '%s' "$body" | jq -r .doc_id)"

# ---- a client that vanishes mid-body leaves nothing ----
node "$client" disconnect "$PORT" "$TOKEN" gone.pdf >/dev/null
sleep 0.5
t_ok "disconnect: no object" test ! -e "data/lake/raw/$(sha20 gone.pdf).pdf"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/documents/$(sha20 gone.pdf)")
t_eq "disconnect: no row" 404 "$code"
t_eq "disconnect: no temp file left" "" "$(temps)"

# ---- after all that, a good upload still works, and nothing is orphaned ----
code=$(up ok.json -F "file=@f.pdf")
t_eq "a good upload after the bad ones: 201" 201 "$code"
code=$(curl -sS -o h.json -w '%{http_code}' "$URL/healthz")
t_eq "healthz: 200" 200 "$code"
t_eq "healthz: only a status, no path or process" '{"status":"ok"}' "$(cat h.json)"
t_eq "no temp file is left" "" "$(temps)"
curl -sS -H "Authorization: Bearer $TOKEN" "$URL/api/documents?limit=500" >all.json
docs_rows=$(jq -r '[.uploads[].doc_id]|unique|.[]' all.json | sort)
objects=$(ls data/lake/raw | sed 's/\.pdf$//' | sort)
t_eq "every object has its row and every row its object" "$objects" "$docs_rows"
t_eq "uploads recorded: 18 events" 18 "$(jq '.uploads|length' all.json)"

# ---- graceful stop: an upload in flight finishes, then exit 0 ----
mkpdf_pad late.pdf 64 latecomer
rm -f late.started
TRICKLE_STARTED=late.started node "$client" trickle "$PORT" "$TOKEN" late.pdf 1500 >late.out &
late_pid=$!
# Stop the server once the upload is under way (node may take a while to
# start on a busy machine), but at most after 10 s.
for _ in $(seq 100); do [ -e late.started ] && break; sleep 0.1; done
kill -TERM "$SRV_PID"
wait "$late_pid"
wait "$SRV_PID"
t_eq "SIGTERM: the server exits 0" 0 "$?"
show_server_log
read -r status body <late.out
t_eq "SIGTERM: the upload in flight still ends 201" 201 "$status"
t_ok "SIGTERM: its object is stored" test -f "data/lake/raw/$(sha20 late.pdf).pdf"
t_match "SIGTERM: the log says it stopped" '^stopped$' "$(tail -1 serve.log)"
t_eq "SIGTERM: no temp file left" "" "$(temps)"

# ---- rows checked in the warehouse itself ----
echo "SELECT count(*) AS n, count(DISTINCT doc_id) AS docs, sum(duplicate::INT) AS dups FROM md_raw_ocr.main.uploads;
SELECT count(*) AS n FROM md_raw_ocr.main.documents;" >count.sql
t_ok "apflow sql reads the warehouse after the server stopped" "$APFLOW" sql count.sql --csv
t_eq "documents table: one row per distinct file" "n
$(ls data/lake/raw | wc -l)" "$(tr -d '\r' <"$T_OUT")"
echo "SELECT count(*) AS n, sum(duplicate::INT) AS dups FROM md_raw_ocr.main.uploads" >count.sql
"$APFLOW" sql count.sql --csv >sql.out
t_eq "uploads table: every event, duplicates included" "n,dups
19,4" "$(tr -d '\r' <sql.out)"

# ---- without a token, uploads are open ----
start_server
code=$(curl -sS -o x.json -w '%{http_code}' -F "file=@a.pdf" "$URL/upload")
t_eq "no token configured: upload needs none (duplicate 200)" 200 "$code"
kill -TERM "$SRV_PID"
wait "$SRV_PID"
t_eq "second server stops cleanly" 0 "$?"
show_server_log

t_done
