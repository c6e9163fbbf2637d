# tests/lib/hostile-pdf.sh: make small hostile PDFs, byte by byte (no tool
# needed), for the tests of pdf.c/pdf_text.c/ocrstage and the hostile suite
# (tests/hostile/).  Sourced; the repository commits no PDF.  Every file is a
# valid PDF 1.7 with a correct cross-reference table, so MuPDF opens it without
# repair: what is hostile is only what it says.
#
#   hpdf_objects OUT OBJ...        a PDF of the objects given (object 1 is the
#                                  catalog), numbered 1..N in order
#   hpdf_stream DATA [DICT]        prints a stream object of DATA (ASCII)
#   hpdf_lying_count OUT COUNT     one page saying "Hello" whose page tree
#                                  claims /Count COUNT (issue 15: 435 bytes
#                                  that cost 1.6 GB at 100000000)
#   hpdf_page_dag OUT LEVELS       a page tree whose every node lists the next
#                                  one twice: 2^LEVELS pages from LEVELS objects
#   hpdf_deep_tree OUT DEPTH       one page under DEPTH nested page-tree nodes
#   hpdf_form_bomb OUT LEVELS [LEAF]
#                                  one page whose form XObjects each draw the
#                                  next one twice, LEVELS deep: 2^LEVELS draws
#                                  of "Hello" (30 levels: some 7 KB), or of the
#                                  content LEAF (e.g. '0 g 72 72 9 9 re f')
#   hpdf_deep_forms OUT DEPTH      one page with forms nested DEPTH deep, each
#                                  drawing the next once, the last one a box
#   hpdf_blank OUT PAGES [EVERY]   PAGES pages with nothing drawn; with EVERY,
#                                  every EVERY-th page says "Page N text" in
#                                  Helvetica (so some pages have text)
#   hpdf_slow_page OUT PAGES SLOW LEVELS [BUSY]
#                                  PAGES blank pages but page SLOW, a form
#                                  bomb of LEVELS levels (slow to read); with
#                                  BUSY, the others draw 2^BUSY small boxes
#                                  through a small bomb (some work, no text)

# hpdf_objects OUT OBJ...
hpdf_objects() {
	local out=$1 n=0 o xref
	local -a offs=()
	shift
	printf '%%PDF-1.7\n%%\342\343\317\323\n' >"$out"
	for o in "$@"; do
		n=$((n + 1))
		offs+=("$(stat -c %s "$out")")
		printf '%d 0 obj\n%s\nendobj\n' "$n" "$o" >>"$out"
	done
	xref=$(stat -c %s "$out")
	{
		printf 'xref\n0 %d\n0000000000 65535 f \n' $((n + 1))
		for o in "${offs[@]}"; do printf '%010d 00000 n \n' "$o"; done
		printf 'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' $((n + 1)) "$xref"
	} >>"$out"
}

# hpdf_stream DATA [DICT-ENTRIES]
hpdf_stream() {
	printf '<< /Length %d %s>>\nstream\n%s\nendstream' $((${#1} + 1)) "${2:-}" "$1"
}

_HPDF_FONT='<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'

hpdf_lying_count() {
	local out=$1 count=$2
	hpdf_objects "$out" \
		'<< /Type /Catalog /Pages 2 0 R >>' \
		"<< /Type /Pages /Count $count /Kids [3 0 R] >>" \
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>' \
		"$(hpdf_stream 'BT /F1 24 Tf 72 720 Td (Hello) Tj ET')" \
		"$_HPDF_FONT"
}

hpdf_page_dag() {
	local out=$1 levels=$2 i
	local -a objs=('<< /Type /Catalog /Pages 2 0 R >>')
	# Objects 2..levels+1 are Pages nodes, each listing the next twice;
	# object levels+2 is the page, levels+3 its content, levels+4 the font.
	for ((i = 2; i <= levels + 1; i++)); do
		objs+=("<< /Type /Pages /Count $((1 << (levels - i + 2))) /Kids [$((i + 1)) 0 R $((i + 1)) 0 R] >>")
	done
	objs+=("<< /Type /Page /MediaBox [0 0 595 842] /Resources << /Font << /F1 $((levels + 4)) 0 R >> >> /Contents $((levels + 3)) 0 R >>")
	objs+=("$(hpdf_stream 'BT /F1 24 Tf 72 720 Td (Hello) Tj ET')" "$_HPDF_FONT")
	hpdf_objects "$out" "${objs[@]}"
}

hpdf_deep_tree() {
	local out=$1 depth=$2 i
	local -a objs=('<< /Type /Catalog /Pages 2 0 R >>')
	for ((i = 2; i <= depth + 1; i++)); do
		objs+=("<< /Type /Pages /Count 1 /Kids [$((i + 1)) 0 R] >>")
	done
	objs+=("<< /Type /Page /MediaBox [0 0 595 842] /Resources << /Font << /F1 $((depth + 4)) 0 R >> >> /Contents $((depth + 3)) 0 R >>")
	objs+=("$(hpdf_stream 'BT /F1 24 Tf 72 720 Td (Hello) Tj ET')" "$_HPDF_FONT")
	hpdf_objects "$out" "${objs[@]}"
}

# The form objects of a bomb: first object number FIRST, LEVELS forms, then
# the font; each form draws the next twice, the last one draws "Hello".
_hpdf_bomb_forms() {
	local first=$1 levels=$2 leaf=${3:-BT /F1 24 Tf 72 720 Td (Hello) Tj ET} i n font=$(($1 + $2))
	for ((i = 0; i < levels; i++)); do
		n=$((first + i))
		if ((i < levels - 1)); then
			hpdf_stream 'q /X Do Q q 1 0 0 1 1 0 cm /X Do Q' \
				"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /XObject << /X $((n + 1)) 0 R >> >> "
		else
			hpdf_stream "$leaf" \
				"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 $font 0 R >> >> "
		fi
		printf '\001'
	done
	printf '%s\001' "$_HPDF_FONT"
}

hpdf_form_bomb() {
	local out=$1 levels=$2 leaf=${3:-}
	local -a objs=(
		'<< /Type /Catalog /Pages 2 0 R >>'
		'<< /Type /Pages /Count 1 /Kids [3 0 R] >>'
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X 5 0 R >> >> /Contents 4 0 R >>'
		"$(hpdf_stream '/X Do')"
	)
	local -a forms
	mapfile -t -d $'\001' forms < <(_hpdf_bomb_forms 5 "$levels" ${leaf:+"$leaf"})
	objs+=("${forms[@]}")
	hpdf_objects "$out" "${objs[@]}"
}

hpdf_deep_forms() {
	local out=$1 depth=$2 i n
	local -a objs=(
		'<< /Type /Catalog /Pages 2 0 R >>'
		'<< /Type /Pages /Count 1 /Kids [3 0 R] >>'
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X 5 0 R >> >> /Contents 4 0 R >>'
		"$(hpdf_stream '/X Do')"
	)
	for ((i = 0; i < depth; i++)); do
		n=$((5 + i))
		if ((i < depth - 1)); then
			objs+=("$(hpdf_stream '/X Do' "/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /XObject << /X $((n + 1)) 0 R >> >> ")")
		else
			objs+=("$(hpdf_stream '0 0 0 rg 72 72 100 100 re f' '/Type /XObject /Subtype /Form /BBox [0 0 595 842] ')")
		fi
	done
	hpdf_objects "$out" "${objs[@]}"
}

# Objects: 3 the empty content, 4 the font, then per page its page object
# and its content (or null).
hpdf_blank() {
	local out=$1 pages=$2 every=${3:-0} i kids="" first
	local -a objs=('<< /Type /Catalog /Pages 2 0 R >>' 'PAGES' "$(hpdf_stream '')" "$_HPDF_FONT")
	first=$((5))
	for ((i = 1; i <= pages; i++)); do
		kids+="$((first + 2 * (i - 1))) 0 R "
		if ((every > 0 && i % every == 0)); then
			objs+=("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents $((first + 2 * (i - 1) + 1)) 0 R >>")
			objs+=("$(hpdf_stream "BT /F1 12 Tf 72 720 Td (Page $i text, enough characters to count as real) Tj ET")")
		else
			objs+=("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>" "null")
		fi
	done
	objs[1]="<< /Type /Pages /Count $pages /Kids [$kids] >>"
	hpdf_objects "$out" "${objs[@]}"
}

hpdf_slow_page() {
	local out=$1 pages=$2 slow=$3 levels=$4 busy=${5:-0} i kids="" n
	local -a objs=('<< /Type /Catalog /Pages 2 0 R >>' 'PAGES' "$(hpdf_stream '')" "$(hpdf_stream '/X Do')")
	# pages are objects 5..4+pages, the bomb's forms follow (levels + 1
	# objects), then the busy pages' forms
	local fx=$((5 + pages)) bx=$((5 + pages + levels + 1))
	for ((i = 1; i <= pages; i++)); do
		n=$((4 + i))
		kids+="$n 0 R "
		if ((i == slow)); then
			objs+=("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X $fx 0 R >> >> /Contents 4 0 R >>")
		elif ((busy > 0)); then
			objs+=("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /X $bx 0 R >> >> /Contents 4 0 R >>")
		else
			objs+=("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>")
		fi
	done
	objs[1]="<< /Type /Pages /Count $pages /Kids [$kids] >>"
	local -a forms
	mapfile -t -d $'\001' forms < <(_hpdf_bomb_forms "$fx" "$levels")
	objs+=("${forms[@]}")
	if ((busy > 0)); then
		mapfile -t -d $'\001' forms < <(_hpdf_bomb_forms "$bx" "$busy" '0 g 1 1 1 1 re f')
		objs+=("${forms[@]}")
	fi
	hpdf_objects "$out" "${objs[@]}"
}

# hpdf_objstm_kids OUT N [annots]
#   one page listed N times in a /Kids array that sits in a Flate-compressed
#   object stream (PDF 1.5 cross-reference stream): some N/1000 bytes of
#   file for N references, where a direct /Kids costs 6 bytes each.  With
#   "annots", the page tree is sound and the page's /Annots array is the
#   one in the object stream (N references to the font): read when the
#   page is, not when the file is opened.
#   Written by node (zlib), which the tests need anyway.
hpdf_objstm_kids() {
	node - "$1" "$2" "${3:-}" <<'JS'
const fs = require('fs'), zlib = require('zlib');
const [out, n, mode] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const parts = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
let size = parts[0].length;
const offs = {};
const add = (num, body) => {
	const b = Buffer.concat([Buffer.from(`${num} 0 obj\n`), Buffer.isBuffer(body) ? body : Buffer.from(body), Buffer.from('\nendobj\n')]);
	offs[num] = size; size += b.length; parts.push(b);
};
const stream = (dict, data) => Buffer.concat([Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`), data, Buffer.from('\nendstream')]);
const annots = mode === 'annots';
add(1, annots ? '<< /Type /Catalog /Pages 3 0 R >>' : '<< /Type /Catalog /Pages 2 0 R >>');
add(3, annots ? '<< /Type /Pages /Count 1 /Kids [5 0 R] >>'
	: '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>');
add(4, stream('', Buffer.from('BT /F1 24 Tf 72 720 Td (Hello) Tj ET')));
add(5, annots ? '<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Annots 2 0 R >>'
	: '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
const head = '2 0 ';
const obj = annots ? `[${'4 0 R '.repeat(n)}]` : `<< /Type /Pages /Count ${n} /Kids [${'3 0 R '.repeat(n)}] >>`;
add(6, stream(`/Type /ObjStm /N 1 /First ${head.length} /Filter /FlateDecode`, zlib.deflateSync(Buffer.from(head + obj), { level: 9 })));
// The cross-reference stream, object 7: W [1 4 2].
const rows = [];
const row = (t, a, b) => { const r = Buffer.alloc(7); r[0] = t; r.writeUInt32BE(a, 1); r.writeUInt16BE(b, 5); rows.push(r); };
offs[7] = size;
row(0, 0, 65535);
for (let i = 1; i <= 7; i++) i === 2 ? row(2, 6, 0) : row(1, offs[i], 0);
add(7, stream('/Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R', Buffer.concat(rows)));
parts.push(Buffer.from(`startxref\n${offs[7]}\n%%EOF\n`));
fs.writeFileSync(out, Buffer.concat(parts));
JS
}
