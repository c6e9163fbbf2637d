#!/usr/bin/env bash
# Store and warehouse reconciled at start (issue 15 item 8, issue 10 item 8):
# an object in raw/ without its documents row (a kill or a refused write
# between store and record) gets its row when apflow serve starts; an
# object whose bytes are not a PDF, or not what its name says, is named;
# a second start changes nothing.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
export APFLOW_DATA_DIR=$T_DIR/data
sha20() { sha256sum "$1" | cut -c1-20; }
q() { "$APFLOW" sql --csv - <<<"$1" | tail -n +2; }
mkpdf a.pdf 1 alpha
mkpdf b.pdf 3 bravo
mkpdf c.pdf 1 charlie
printf 'no pdf here\n' >junk.txt

t_ok "a.pdf goes in as usual" "$APFLOW" ingest a.pdf
# Objects stored without their rows, as a crash between the two leaves them.
t_ok "b.pdf stored behind the warehouse's back" "$APFLOW" store put "raw/$(sha20 b.pdf).pdf" b.pdf
t_ok "a non-PDF under its own hash" "$APFLOW" store put "raw/$(sha20 junk.txt).pdf" junk.txt
t_ok "c.pdf's bytes under another doc_id" "$APFLOW" store put "raw/0123456789abcdef0123.pdf" c.pdf
t_ok "a key that is no doc_id" "$APFLOW" store put "raw/notes.txt" junk.txt
t_eq "one row before" 1 "$(q 'SELECT count(*) FROM md_raw_ocr.main.documents')"

start() {
	rm -f serve.log
	"$APFLOW" serve --listen 127.0.0.1:0 2>serve.log &
	SRV_PID=$!
	T_CLEANUP+=("kill $SRV_PID")
	for _ in $(seq 150); do grep -q '^listening on ' serve.log 2>/dev/null && break; sleep 0.1; done
	kill -TERM "$SRV_PID"
	wait "$SRV_PID"
}
start
t_eq "serve starts and stops cleanly" 0 "$?"
sed 's/^/# server: /' serve.log
log=$(cat serve.log)
t_match "b's object is recorded" "^apflow: 'raw/$(sha20 b.pdf)\\.pdf' was stored without its row: recorded$" "$log"
t_match "the non-PDF is named with the reason" "'raw/$(sha20 junk.txt)\\.pdf' in the store has no row and cannot have one: not a PDF" "$log"
t_match "the mismatched bytes are named" "'raw/0123456789abcdef0123\\.pdf' in the store has no row and cannot have one: its bytes have sha256 $(sha20 c.pdf)\\.\\.\\., not the 0123456789abcdef0123 its name says" "$log"
t_match "the stray key is named" "'raw/notes\\.txt' in the store has no row and cannot have one: not named raw/<doc_id>\\.pdf" "$log"
t_match "a summary line" "reconciled store and warehouse: 5 objects in raw/, 3 without a row, 1 recorded now, 3 named above" "$log"
t_nomatch "no sanitizer report" 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"
t_eq "b has its row, with its pages" "$(sha20 b.pdf),3,$(sha20 b.pdf).pdf" \
	"$(q "SELECT doc_id, pages, filename FROM md_raw_ocr.main.documents WHERE doc_id = '$(sha20 b.pdf)'")"
t_eq "... and an upload row saying where it came from" "reconcile" \
	"$(q "SELECT source FROM md_raw_ocr.main.uploads WHERE doc_id = '$(sha20 b.pdf)'")"
t_eq "two documents now" 2 "$(q 'SELECT count(*) FROM md_raw_ocr.main.documents')"
t_ok "nothing of the bad objects was recorded or removed" test -f "data/lake/raw/0123456789abcdef0123.pdf"

start
t_match "a second start records nothing" "reconciled store and warehouse: 5 objects in raw/, 2 without a row, 0 recorded now, 3 named above" "$(cat serve.log)"
t_nomatch "... and b is not seen again" "$(sha20 b.pdf)" "$(cat serve.log)"
t_eq "still two documents, one upload of b" "2 1" \
	"$(q 'SELECT count(*) FROM md_raw_ocr.main.documents') $(q "SELECT count(*) FROM md_raw_ocr.main.uploads WHERE doc_id = '$(sha20 b.pdf)'")"
t_done
