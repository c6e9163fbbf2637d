#!/usr/bin/env bash
# /dashboard in headless Chromium (tests/browser/dashboard.spec.js): on the
# fixture warehouse of tests/lib/annotated.sh every chart carries the
# expected values; the screenshot is saved and its size checked; the JSON
# API behind it answers unknown panels with 404.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/annotated.sh"

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "the fixture warehouse" annotated_fixture

"$APFLOW" serve --listen 127.0.0.1:0 2>serve.log &
srv=$!
T_CLEANUP+=("kill $srv")
for _ in $(seq 100); do grep -q '^listening' serve.log && break; sleep 0.1; done
url=$(sed -n 's|^listening on ||p' serve.log)
t_match "server is up" '^http://127\.0\.0\.1:[0-9]+$' "$url"

t_ok "GET /api/panels" curl -sf "$url/api/panels"
t_match "lists the panels" '^\{"panels": ?\[\{"name": ?"docs_ingested_per_day"' "$(cat "$T_OUT")"
t_ok "GET /api/panels/engine_mix" curl -sf "$url/api/panels/engine_mix"
t_eq "gives its rows, numbers as numbers" '[["mupdf",2,66.7],["tesseract",1,33.3]] pages' \
	"$(node -e 'const q = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(JSON.stringify(q.rows), q.y.join())' <"$T_OUT")"
t_eq "the whole answer, doubles in their shortest form (66.7, not 66.700000000000003)" \
	'{"name":"engine_mix","title":"Pages per OCR engine","chart":"bar","x":"engine","y":["pages"],"unit":null,"columns":[{"name":"engine","type":"text"},{"name":"pages","type":"int"},{"name":"pct","type":"real"}],"rows":[["mupdf",2,66.7],["tesseract",1,33.3]]}' \
	"$(cat "$T_OUT")"
t_eq "an unknown panel is 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/panels/nope")"

: "${TEST_OUT:=$T_DIR}"
node "$APFLOW_TOP/tests/browser/dashboard.spec.js" "$url"
t_eq "the browser spec passed" 0 "$?"

kill -TERM "$srv"
wait "$srv"
t_eq "server stops cleanly" 0 "$?"
t_done
