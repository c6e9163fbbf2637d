#!/usr/bin/env bash
# The upload page in headless Chromium (tests/browser/upload.spec.js):
# picker and drag-and-drop uploads show the right doc_ids, duplicates and
# errors in plain words; keyboard, token, no outside assets, phone width.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
TOKEN=t0420-page-token

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init" "$APFLOW" init
mkdir files
mkpdf files/one.pdf 1 "page test one"
mkpdf files/two.pdf 3 "page test two"
mkpdf files/three.pdf 2 "page test three"
printf 'This is a text file wearing a .pdf name.\n' >files/fake.pdf

"$APFLOW" serve --listen 127.0.0.1:0 --upload-token "$TOKEN" 2>serve.log &
srv=$!
T_CLEANUP+=("kill $srv")
for _ in $(seq 100); do grep -q '^listening' serve.log && break; sleep 0.1; done
url=$(sed -n 's|^listening on ||p' serve.log)
t_match "server is up" '^http://127\.0\.0\.1:[0-9]+$' "$url"

: "${TEST_OUT:=$T_DIR}"
node "$APFLOW_TOP/tests/browser/upload.spec.js" "$url" "$TOKEN" "$T_DIR/files"
t_eq "the browser spec passed" 0 "$?"
t_ok "the screenshot is a PNG" sh -c "file '$TEST_OUT/upload-page.png' | grep -q 'PNG image'"
for f in one two three; do
	id=$(sha256sum "files/$f.pdf" | cut -c1-20)
	t_ok "$f.pdf is stored at raw/$id.pdf" cmp "files/$f.pdf" "data/lake/raw/$id.pdf"
done
t_eq "the fake PDF was not stored" 3 "$(ls data/lake/raw | wc -l)"

kill -TERM "$srv"
wait "$srv"
t_eq "server stops cleanly" 0 "$?"
sed 's/^/# server: /' serve.log
t_done
