#!/usr/bin/env bash
# SIGINT stops a request in flight to a model server within a second
# (issue 15 item 2, a gap left by it): `apflow ocr --engine deepseek`
# against tests/fakes/fake-vlm.js and `apflow preannotate --engine ollama`
# against tests/fakes/fake-ollama.js, both servers answering only after
# 30 s, with timeouts of 60 s: the HTTP client's cancel hook (http.h) stops
# the request, nothing is recorded for the page, and a re-run does it.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
. "$APFLOW_TOP/tests/lib/pages.sh"

export APFLOW_DATA_DIR=$T_DIR/data
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
now_ms() { date +%s%3N; }
# interrupt PID LOG PATTERN: waits for PATTERN in LOG, then for the fake to
# hold a request (1 s), sends SIGINT; sets rc and took (ms to exit).
interrupt() {
	for _ in $(seq 200); do grep -q "$3" "$2" 2>/dev/null && break; sleep 0.05; done
	sleep 1
	local t0
	t0=$(now_ms)
	kill -INT "$1"
	wait "$1"
	rc=$?
	took=$(($(now_ms) - t0))
}

t_ok "apflow init" "$APFLOW" init

# --- DeepSeek-OCR behind vLLM ---
node "$APFLOW_TOP/tests/fakes/fake-vlm.js" --port-file vlm.port 2>vlm.err &
vlm=$!
T_CLEANUP+=("kill $vlm")
for _ in $(seq 1 200); do [ -s vlm.port ] && break; sleep 0.05; done
VURL=http://127.0.0.1:$(cat vlm.port)
curl -sS -o /dev/null -X POST "$VURL/_config?delay_ms=30000"
mkpdf a.pdf 2 alpha
t_ok "ingest a 2-page document" "$APFLOW" ingest a.pdf
"$APFLOW" -c "deepseek_url=$VURL" -c deepseek_timeout=60 ocr --engine deepseek -j1 --concurrency 1 >ds.out 2>ds.err &
interrupt $! ds.err 'ocr run'
echo "# deepseek: SIGINT to exit: $took ms"
t_eq "ocr --engine deepseek, a request in flight for 1 s of 30: SIGINT exits 130" 130 "$rc"
t_eq "... within a second" 1 "$((took < 1000))"
t_eq "... the fake had the request" 1 "$(curl -sS "$VURL/stats" | jq .requests)"
t_eq "... no page and no failure recorded, the run failed" "0,0,failed" \
	"$(q "SELECT (SELECT count(*) FROM md_raw_ocr.main.pages), (SELECT count(*) FROM md_raw_ocr.main.ocr_failures), status FROM md_raw_ocr.main.ocr_runs ORDER BY ocr_run_id DESC LIMIT 1")"
curl -sS -o /dev/null -X POST "$VURL/_reset"
t_ok "a re-run does the pages" "$APFLOW" -c "deepseek_url=$VURL" ocr --engine deepseek -j1
t_eq "... both" 2 "$(q "SELECT count(*) FROM md_raw_ocr.main.pages WHERE engine = 'deepseek'")"

# --- Ollama, for preannotate ---
echo '{"entities": [{"text": "Rotterdam", "label": "PORT"}]}' >script.json
node "$APFLOW_TOP/tests/fakes/fake-ollama.js" --port-file ol.port --script script.json 2>ol.err &
ol=$!
T_CLEANUP+=("kill $ol")
for _ in $(seq 1 200); do [ -s ol.port ] && break; sleep 0.05; done
OURL=http://127.0.0.1:$(cat ol.port)
addpage d1d1d1d1d1d1d1d1d1d1 1 'The ship left Rotterdam.'
t_ok "export a dataset" "$APFLOW" export --dataset vessels_ocr_t0515 --doc d1d1d1d1d1d1d1d1d1d1
curl -sS -o /dev/null -X POST "$OURL/_fault?type=slow&ms=30000&count=5"
"$APFLOW" --log-level info -c ollama_timeout=60 -c ollama_deadline=120 preannotate --dataset vessels_ocr_t0515 \
	--engine ollama --ollama-url "$OURL" --no-cache >pa.out 2>pa.err &
pid=$!
# Wait for the model request itself (after the version and model checks).
for _ in $(seq 200); do [ "$(curl -sS "$OURL/stats" | jq .chat)" -ge 1 ] 2>/dev/null && break; sleep 0.05; done
interrupt $pid pa.err ''
echo "# ollama: SIGINT to exit: $took ms"
t_eq "preannotate --engine ollama, a request in flight: SIGINT exits 130" 130 "$rc"
t_eq "... within a second" 1 "$((took < 1000))"
t_match "... saying nothing was written" "interrupted: nothing was written" "$(cat pa.err)"
t_eq "... and nothing was" "" "$(find data/lake/argilla/in/vessels_ocr_t0515 -path '*suggestions*' -name '*.parquet' 2>/dev/null)"

t_done
