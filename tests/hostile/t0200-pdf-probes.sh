#!/usr/bin/env bash
# The hostile suite, PDF part: generated hostile files (truncated and
# corrupted PDFs, non-PDFs, and, from tests/lib/hostile-pdf.sh, lying page
# counts, page-tree bombs and deep trees) ingested in one batch and then
# read by `apflow ocr --engine text`.  Each file must end as a document or
# as a clear error naming it; ingest and ocr end within their bounds with a
# peak RSS under 300 MB (measured on the release build, ./apflow, when it
# is there: the sanitizers' own memory would swamp the figure); nothing is
# left in the spool or temp directories; store and warehouse agree.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
REL=$APFLOW_TOP/apflow
RSS_MAX_KB=$((300 * 1024))

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init" "$APFLOW" init
mkdir in

# ---- generated inputs ----
mkpdf base.pdf 3 "hostile base"
size=$(stat -c %s base.pdf)
# Truncated at 30 places, from the header to the last byte.
for i in $(seq 1 30); do
	head -c $((size * i / 31)) base.pdf >"in/trunc-$i.pdf"
done
# 30 copies with 8 bytes overwritten at a seeded place each.
for i in $(seq 1 30); do
	cp base.pdf "in/flip-$i.pdf"
	off=$(((i * 7919) % (size - 8)))
	printf '\377\000%%)]>>\n' | dd of="in/flip-$i.pdf" bs=1 seek="$off" conv=notrunc status=none
done
# Not PDFs, or only nearly.
: >in/empty.pdf
printf '%%PDF-' >in/sig-only.pdf
printf '%%PDF-1.7\n%%%%EOF\n' >in/no-body.pdf
printf 'hello, not a pdf\n' >in/text.pdf
head -c 4096 /dev/urandom >in/random.pdf
printf '%%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Count 0 /Kids [] >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%%%EOF\n' >in/zero-pages.pdf
{ printf 'junk before the header\n'; cat base.pdf; } >in/prefixed.pdf
printf '%%PDF-1.4\n' >in/huge-header.pdf; head -c 300000 /dev/zero | tr '\0' ' ' >>in/huge-header.pdf
# Valid ones, some with junk after %%EOF (accepted: no PDF structure in it).
for i in 1 2 3; do mkpdf "in/ok-$i.pdf" "$i" "hostile ok $i"; done
{ cat in/ok-1.pdf; printf 'trailing junk without structure\n'; } >in/ok-junk.pdf
hostile_lib=$APFLOW_TOP/tests/lib/hostile-pdf.sh
if [ -f "$hostile_lib" ]; then
	. "$hostile_lib"
	for c in 100000000 2000000000 -5 0 2; do hpdf_lying_count "in/count-$c.pdf" "$c"; done
	for l in 10 20 30; do hpdf_page_dag "in/dag-$l.pdf" "$l"; done
	for d in 50 400; do hpdf_deep_tree "in/deep-$d.pdf" "$d"; done
	hpdf_objstm_kids in/objstm-3.pdf 3
	hpdf_objstm_kids in/objstm-kids-bomb.pdf 10000000
	hpdf_objstm_kids in/objstm-annots-bomb.pdf 10000000 annots
	# Costly to read, not to ingest: bounded per page by ocr (issue 15 item 2).
	hpdf_form_bomb in/bomb-30.pdf 30
	hpdf_deep_forms in/forms-200.pdf 200
	hpdf_blank in/blank-60.pdf 60 20
fi
nfiles=$(ls in | wc -l)
echo "# $nfiles files"

# ---- ingest, in one batch ----
bin=$APFLOW
[ -x "$REL" ] && bin=$REL
start=$(date +%s%N)
/usr/bin/time -f '%M' -o ingest.rss timeout 120 "$bin" ingest --json in >ingest.json 2>ingest.err
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
t_ok "ingest ends within its bound and says some failed (exit $rc, ${ms} ms)" test "$rc" -eq 1
t_eq "one JSON line per file" "$nfiles" "$(wc -l <ingest.json)"
t_eq "each is a document or an error with its code" "$nfiles" \
	"$(jq -r 'select(.doc_id != null or (.error != null and .code != null))' ingest.json | jq -s length)"
t_eq "every error names its file" "" "$(jq -r 'select(.error != null) | select(.filename == null or .filename == "") | .error' ingest.json)"
t_eq "the summary adds up" "$nfiles" "$(tail -1 ingest.err | awk '{print $1 + $3 + $5}')"
good=$(jq -r 'select(.doc_id != null) | .filename' ingest.json | sort | tr '\n' ' ')
echo "# ingested: $good"
t_match "the valid files went in" "ok-1.pdf ok-2.pdf ok-3.pdf ok-junk.pdf" "$good"
t_nomatch "no truncated or junk file went in" "(trunc-([0-9]|1[0-9]|2[0-9])|empty|sig-only|no-body|text|random|zero-pages)\.pdf" "$good"
if [ -f "$hostile_lib" ]; then
	t_eq "a lying /Count records the true page count" 1 \
		"$(jq -r 'select(.filename == "count-100000000.pdf") | .pages' ingest.json)"
fi
if [ "$bin" = "$REL" ]; then
	t_ok "ingest peak RSS under 300 MB ($(tail -1 ingest.rss) KB)" test "$(tail -1 ingest.rss)" -lt $RSS_MAX_KB
fi

# ---- ocr of what went in ----
start=$(date +%s%N)
/usr/bin/time -f '%M' -o ocr.rss timeout 120 "$bin" ocr --engine text -j 2 >ocr.out 2>ocr.err
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
t_ok "ocr --engine text ends within its bound (exit $rc, ${ms} ms)" test "$rc" -le 1
sed 's/^/# ocr: /' ocr.err | tail -5
if [ "$bin" = "$REL" ]; then
	t_ok "ocr peak RSS under 300 MB ($(tail -1 ocr.rss) KB)" test "$(tail -1 ocr.rss)" -lt $RSS_MAX_KB
fi
if [ -f "$hostile_lib" ]; then
	# Blank pages under --engine auto: nothing drawn, so no Tesseract (issue 15 item 9).
	blank=$(jq -r 'select(.filename == "blank-60.pdf") | .doc_id' ingest.json)
	start=$(date +%s%N)
	timeout 120 "$bin" ocr --engine auto --force --doc "$blank" -j 2 >blank.out 2>blank.err
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	t_ok "ocr --engine auto on 60 pages, 57 of them blank, ends within its bound (exit $rc, ${ms} ms)" test "$rc" -le 1
	sed 's/^/# ocr: /' blank.err | tail -3
fi
echo "SELECT count(DISTINCT doc_id) FROM md_raw_ocr.main.pages" >pages.sql
t_ok "the valid documents have their pages" test "$("$APFLOW" sql --csv pages.sql | tail -1)" -ge 4

# ---- nothing left behind; store and warehouse agree ----
t_eq "no spool or temp file is left" "" "$(find data -path '*tmp*' -type f)"
echo "SELECT doc_id FROM md_raw_ocr.main.documents ORDER BY 1" >docs.sql
t_eq "store and warehouse agree" "$(ls data/lake/raw | sed 's/\.pdf$//' | sort)" "$("$APFLOW" sql --csv docs.sql | tail -n +2)"
t_done
