# tests/lib/mkpdf.sh: make small test PDFs with mutool (Debian mupdf-tools).
# Sourced by tests and bench scripts; the repository commits no PDF.
#
#   mkpdf OUT.pdf PAGES [TEXT]   born-digital PDF, PAGES pages of Helvetica text;
#                                each page says "TEXT page N" (default TEXT: the file name)
#   mkpdf_pad OUT.pdf KIB [TEXT] one-page PDF of about KIB KiB (an incompressible
#                                stream pads it), distinct per TEXT
mkpdf() {
	local out=$1 pages=$2 text=${3:-$(basename "$1" .pdf)} dir i
	dir=$(mktemp -d)
	local files=()
	for ((i = 1; i <= pages; i++)); do
		# PDF string literals need (, ) and \ escaped.
		local t
		t=$(printf '%s page %d' "$text" "$i" | sed 's/[\\()]/\\&/g')
		printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\nBT /F1 12 Tf 72 770 Td (%s) Tj ET\n' "$t" >"$dir/p$i.txt"
		files+=("$dir/p$i.txt")
	done
	mutool create -o "$out" "${files[@]}" || { rm -rf "$dir"; return 1; }
	rm -rf "$dir"
}

mkpdf_pad() {
	local out=$1 kib=$2 text=${3:-$(basename "$1" .pdf)} dir
	dir=$(mktemp -d)
	# A comment line full of random hex inside the content stream: ignored by
	# renderers, not compressible, so the file has the size asked for.
	{
		printf '%%%%MediaBox 0 0 595 842\n%%%%Font F1 Helvetica\n'
		printf 'BT /F1 12 Tf 72 770 Td (%s) Tj ET\n' "$(printf '%s' "$text" | sed 's/[\\()]/\\&/g')"
		head -c $((kib * 1024)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' | fold -w 120 | sed 's/^/% /'
	} >"$dir/p.txt"
	mutool create -o "$out" "$dir/p.txt" || { rm -rf "$dir"; return 1; }
	rm -rf "$dir"
}
