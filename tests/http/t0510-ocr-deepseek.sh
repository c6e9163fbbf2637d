#!/usr/bin/env bash
# apflow ocr --engine deepseek against tests/fakes/fake-vlm.js, which answers
# vLLM's OpenAI-compatible API and Ollama's chat API on 127.0.0.1: text
# stored with DeepSeek's grounding tags and end token stripped, both APIs,
# retries on 503 and 429 (Retry-After), a hang that times out, runaway and
# malformed answers, the --concurrency bound, the API key kept secret.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"

export APFLOW_DATA_DIR=$T_DIR/data
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
KEY="sk-apflow-test-$RANDOM$RANDOM$RANDOM"
sha20() { sha256sum "$1" | cut -c1-20; }
q() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --csv | tail -n +2 | tr -d '\r'
}
qjson() {
	printf '%s\n' "$1" >q.sql
	"$APFLOW" sql q.sql --json
}

node "$APFLOW_TOP/tests/fakes/fake-vlm.js" --port-file vlm.port --texts texts.json --api-key "$KEY" 2>vlm.err &
vlm=$!
T_CLEANUP+=("kill $vlm")
for _ in $(seq 1 200); do [ -s vlm.port ] && break; sleep 0.05; done
URL=http://127.0.0.1:$(cat vlm.port)
ctl() { curl -sS -o /dev/null -X POST "$URL/$1"; }
stats() { curl -sS "$URL/stats"; }
ds() { "$APFLOW" -c "deepseek_url=$URL" -c "deepseek_api_key=$KEY" "$@"; }

# --- the fake itself validates requests as the real servers do ---
png=$(printf '\x89PNG\r\n\x1a\nxxxx' | base64 -w0)
code() { curl -sS -o resp.json -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$2" "$URL$1"; }
t_eq "fake: broken JSON is 400" 400 "$(code /v1/chat/completions '{"model":')"
t_eq "fake: vLLM's error body" "error BadRequestError 400" "$(jq -r '"\(.object) \(.type) \(.code)"' resp.json)"
t_eq "fake: a request without an image is 400" 400 \
	"$(code /v1/chat/completions '{"model":"deepseek-ai/DeepSeek-OCR","messages":[{"role":"user","content":[{"type":"text","text":"Free OCR."}]}]}')"
t_eq "fake: an image that is not a PNG is 400" 400 \
	"$(code /api/chat '{"model":"deepseek-ocr","stream":false,"messages":[{"role":"user","content":"Free OCR.","images":["bm90IGEgcG5n"]}]}')"
t_eq "fake: Ollama's error body" "true" "$(jq 'has("error")' resp.json)"
t_eq "fake: an unknown model is 404" 404 \
	"$(code /api/chat '{"model":"llava","stream":false,"messages":[{"role":"user","content":"x","images":["'"$png"'"]}]}')"
t_eq "fake: a good Ollama request is answered" "200 stop true" \
	"$(code /api/chat '{"model":"deepseek-ocr","stream":false,"messages":[{"role":"user","content":"Free OCR.","images":["'"$png"'"]}]}') $(jq -r '"\(.done_reason) \(.done)"' resp.json)"
t_eq "fake: no bearer token is 401" 401 "$(curl -sS -o /dev/null -w '%{http_code}' -d '{}' "$URL/v1/chat/completions")"
ctl _reset

# --- three born-digital documents, nine pages ---
t_ok "apflow init" "$APFLOW" init
mkpdf a.pdf 3 alpha
mkpdf b.pdf 2 bravo
mkpdf c.pdf 4 charlie
t_ok "ingest" "$APFLOW" ingest a.pdf b.pdf c.pdf
A=$(sha20 a.pdf) B=$(sha20 b.pdf) C=$(sha20 c.pdf)

# --- vLLM's OpenAI-compatible API ---
t_rc 0 "deepseek over the OpenAI API: exit 0" ds ocr --engine deepseek -j1 --concurrency 2
t_match "summary" '^ocr run 1: 3 documents, 9 pages \(text 0, tesseract 0, deepseek 9\), 0 failed in' "$(cat "$T_OUT")"
t_eq "nine requests, all to /v1/chat/completions" "9 9 0" "$(stats | jq -r '"\(.requests) \(.by_api.openai) \(.bad_requests)"')"
t_eq "the stored texts are the fake's answers, tags and end token stripped" \
	"$(stats | jq -c '[.answers[] | select(.status == 200) | .text] | sort')" \
	"$(qjson 'SELECT text FROM md_raw_ocr.main.pages WHERE ocr_run_id = 1' | jq -c '[.[].text] | sort')"
t_eq "no grounding tag or end token is left" 0 \
	"$(q "SELECT count(*) FROM md_raw_ocr.main.pages WHERE text LIKE '%<|%' OR text LIKE '%|>%' OR text LIKE '%sentence%'")"
t_eq "nine distinct page images, nine distinct texts" 9 "$(q 'SELECT count(DISTINCT text) FROM md_raw_ocr.main.pages')"
t_eq "engine, model, no confidence, text_sha256" "deepseek,deepseek-ai/DeepSeek-OCR,9,0" \
	"$(q "SELECT DISTINCT engine, model, count(*) OVER (), count(*) FILTER (confidence IS NOT NULL OR text_sha256 <> sha256(text)) OVER () FROM md_raw_ocr.main.pages")"
t_eq "the run records the API, endpoint, model, prompt and dpi" \
	"openai $URL/v1/chat/completions deepseek-ai/DeepSeek-OCR 2 144" \
	"$(qjson 'SELECT params FROM md_raw_ocr.main.ocr_runs WHERE ocr_run_id = 1' | jq -r '.[0].params | fromjson | "\(.deepseek.api) \(.deepseek.endpoint) \(.deepseek.model) \(.deepseek.concurrency) \(.dpi)"')"
t_eq "the API key is in no output" 0 "$(cat "$T_OUT" "$T_ERR" | grep -c -- "$KEY")"
t_eq "nor in the run's row" 0 "$(q 'SELECT * FROM md_raw_ocr.main.ocr_runs' | grep -c -- "$KEY")"

# The text follows the image: map one page's PNG to a text of our own.
sha=$(stats | jq -r '.answers[0].sha256')
page=$(q "SELECT doc_id || ':' || page_num FROM md_raw_ocr.main.pages WHERE text LIKE 'Page image ${sha:0:12}%'")
printf '{"%s": "Ærø Søfart — 東京港\\n\\nIMO  9321483"}' "$sha" >texts.json
ctl _reset

# --- Ollama's chat API ---
t_rc 0 "deepseek over the Ollama API (--force): exit 0" \
	ds -c deepseek_api=ollama ocr --engine deepseek --force -j2 --concurrency 3
t_eq "nine requests, all to /api/chat" "9 0 9" "$(stats | jq -r '"\(.requests) \(.by_api.openai) \(.by_api.ollama)"')"
t_eq "the run's model is Ollama's" "deepseek-ocr" "$(q 'SELECT model FROM md_raw_ocr.main.ocr_runs WHERE ocr_run_id = 2')"
t_eq "the page whose image was mapped got that text, normalised" "Ærø Søfart — 東京港

IMO 9321483" "$(printf '%s\n' "SELECT text FROM md_raw_ocr.main.pages WHERE ocr_run_id = 2 AND doc_id || ':' || page_num = getvariable('p')" >qp.sql; "$APFLOW" sql qp.sql --set "p=$page" --json | jq -j '.[0].text')"
t_eq "the view shows the latest run" "2 9" "$(q 'SELECT min(ocr_run_id), count(*) FROM md_raw_ocr.main.vw_argilla_pages' | tr ',' ' ')"
rm -f texts.json
ctl _reset

# --- retries: 503, 503, then 429 with Retry-After ---
ctl '_fault?type=status&status=503&count=2'
ctl '_fault?type=retry&retry_after=1&count=1'
start=$(date +%s%N)
t_rc 0 "503 twice and 429: retried, exit 0" ds ocr --engine deepseek --force --doc "$A" -j1 --concurrency 1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_eq "every page stored" "3 0" "$(q 'SELECT count(*), (SELECT count(*) FROM md_raw_ocr.main.ocr_failures) FROM md_raw_ocr.main.pages WHERE ocr_run_id = 3' | tr ',' ' ')"
t_eq "the fake saw 503, 503, 429, then answers" "503 503 429 200 200 200" "$(stats | jq -r '[.answers[].status] | join(" ")')"
t_match "the retries were logged" "HTTP 503; retrying.*HTTP 503; retrying.*HTTP 429; retrying in 1000 ms" "$(tr '\n' ' ' <"$T_ERR")"
t_match "Retry-After was honoured (${ms} ms >= 1000)" '^([1-9][0-9]{3,})$' "$ms"
ctl _reset

# --- runaway output, a malformed answer, a refused request ---
ctl '_fault?type=runaway&count=1'
ctl '_fault?type=malformed&count=1'
ctl '_fault?type=status&status=400&count=1'
t_rc 1 "runaway, malformed and 400: exit 1" ds ocr --engine deepseek --force --doc "$C" -j1 --concurrency 1
t_match "one page stored, three failed" '^ocr run 4: 1 document, 1 page .* 3 failed' "$(cat "$T_OUT")"
fails=$(q "SELECT page_num, error FROM md_raw_ocr.main.ocr_failures WHERE ocr_run_id = 4 ORDER BY page_num")
t_match "runaway output is a page failure" 'runaway output: the model stopped at its limit of 8192 tokens' "$fails"
t_match "a malformed answer is a page failure" 'malformed answer from the DeepSeek server' "$fails"
t_match "HTTP 400 is a page failure with the server's message" "answered HTTP 400: fake fault: HTTP 400" "$fails"
t_eq "400 and malformed answers are not retried" 4 "$(stats | jq .requests)"
ctl _reset

# --- a hang: the request times out and the page fails; the run goes on ---
ctl '_fault?type=hang&count=1'
t0=$(date +%s%N)
t_rc 1 "a hanging request times out: exit 1" \
	ds -c deepseek_timeout=1 -c deepseek_retries=0 ocr --engine deepseek --force --doc "$B" -j1 --concurrency 1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
t_match "the other page of the document is stored" '^ocr run 5: 1 document, 1 page .* 1 failed' "$(cat "$T_OUT")"
t_match "the timeout is recorded" "no answer from the DeepSeek server '$URL/v1/chat/completions': .*(too slow|timed out)" \
	"$(q 'SELECT error FROM md_raw_ocr.main.ocr_failures WHERE ocr_run_id = 5')"
# deepseek_timeout bounds the request, not curl's low-speed average (7 s before).
t_ok "... within the timeout, not seconds after it (took $ms ms)" test "$ms" -lt 3500
ctl _reset

# --- the --concurrency bound ---
ctl '_config?delay_ms=400'
t_ok "--concurrency 3 over nine pages" ds ocr --engine deepseek --force -j1 --concurrency 3
t_eq "at most three requests in flight, and three reached" "3 9" "$(stats | jq -r '"\(.max_inflight) \(.requests)"')"
ctl _reset
ctl '_config?delay_ms=100'
t_ok "--concurrency 1, -j2" ds ocr --engine deepseek --force -j2 --concurrency 1 --doc "$C"
t_eq "one request at a time" "1 4" "$(stats | jq -r '"\(.max_inflight) \(.requests)"')"
ctl _reset

# --- settings the server refuses ---
t_rc 1 "an unknown model: exit 1" ds -c deepseek_model=llava ocr --engine deepseek --force --doc "$B" -j1
t_match "the server's 404 message is kept" 'answered HTTP 404: The model `llava` does not exist' "$(cat "$T_ERR")"
t_rc 1 "a wrong API key: exit 1" "$APFLOW" -c "deepseek_url=$URL" -c deepseek_api_key=wrong-key ocr --engine deepseek --force --doc "$B" -j1
t_match "401 is a page failure" 'answered HTTP 401' "$(cat "$T_ERR")"
t_rc 2 "a bad deepseek_api: exit 2" ds -c deepseek_api=grpc ocr --engine deepseek
t_rc 1 "an URL that is not http: exit 1" "$APFLOW" -c deepseek_url=ftp://x ocr --engine deepseek --force
t_eq "no temp file is left" "" "$(ls data/tmp)"

t_done
