#!/usr/bin/env bash
# apflow ingest and hostile files (issue 15 item 7): the %PDF- signature is
# checked before a byte is spooled, max_upload_mb holds for files, pipes and
# devices alike, and SIGINT/SIGTERM leave no spool file behind.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
export APFLOW_DATA_DIR=$T_DIR/data
spooled() { find data/tmp data/lake/.apflow-tmp-spool -type f 2>/dev/null | wc -l; }
stored() { find data/lake/raw -type f 2>/dev/null | wc -l; }
mkpdf a.pdf 1 alpha
t_ok "a first ingest makes the warehouse" "$APFLOW" ingest a.pdf

t0=$(date +%s%N)
t_rc 1 "/dev/zero is refused" timeout 20 "$APFLOW" ingest /dev/zero
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
t_eq "... as no PDF" "apflow: error: '/dev/zero': not a PDF (no %PDF- signature)" "$(head -1 "$T_ERR")"
t_ok "... at once, not after spooling it (took $ms ms)" test "$ms" -lt 5000
t_eq "... leaving no spool file" 0 "$(spooled)"

# A 200 MB non-PDF is not copied before it is refused (a sparse file).
truncate -s 200M big.bin
t_rc 1 "a 200 MB non-PDF is refused" "$APFLOW" -c max_upload_mb=500 ingest big.bin
t_match "... by its signature" "'big\\.bin': not a PDF" "$(cat "$T_ERR")"
t_eq "... nothing spooled" 0 "$(spooled)"

# A PDF over max_upload_mb: refused by its size before it is read.
{ cat a.pdf; head -c 2500000 /dev/zero; } >padded.pdf
t_rc 1 "a file over max_upload_mb is refused" "$APFLOW" -c max_upload_mb=2 ingest padded.pdf
t_match "... naming the limit" "'padded\\.pdf': file of [0-9]+ bytes is larger than max_upload_mb \\(2 MiB\\)" "$(cat "$T_ERR")"
t_eq "... and nothing stored" 1 "$(stored)"
# The same bytes through a pipe: the copy stops at the limit.
t_rc 1 "a pipe over max_upload_mb is cut at the limit" "$APFLOW" -c max_upload_mb=2 ingest <(cat padded.pdf)
t_match "... naming the limit" "larger than max_upload_mb \\(2 MiB\\)" "$(cat "$T_ERR")"
t_eq "... leaving no spool file" 0 "$(spooled)"
t_rc 0 "under the limit it goes in" "$APFLOW" -c max_upload_mb=3 ingest padded.pdf
t_eq "... stored" 2 "$(stored)"

# SIGTERM while a PDF trickles in through a FIFO: no spool file stays.
for sig in TERM INT; do
	rm -f slow.fifo
	mkfifo slow.fifo
	( printf '%%PDF-1.4\n'; head -c 100000 /dev/zero; sleep 30 ) >slow.fifo &
	writer=$!
	T_CLEANUP+=("kill $writer")
	"$APFLOW" ingest slow.fifo >sig.out 2>sig.err &
	pid=$!
	for _ in $(seq 50); do [ "$(spooled)" -gt 0 ] && break; sleep 0.1; done
	t_eq "SIG$sig: the file is being spooled" 1 "$(spooled)"
	kill -"$sig" "$pid"
	wait "$pid"
	t_eq "SIG$sig: exit 130" 130 "$?"
	t_eq "SIG$sig: the spool file is gone" 0 "$(spooled)"
	t_match "SIG$sig: says what was dropped" "interrupted: the file being read was dropped" "$(cat sig.err)"
	t_nomatch "SIG$sig: no sanitizer report" 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$(cat sig.err)"
	kill "$writer" 2>/dev/null
	wait "$writer" 2>/dev/null
done
t_eq "nothing more stored" 2 "$(stored)"
t_done
