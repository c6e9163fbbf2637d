# tests/lib/argilla.sh: sourced by the Argilla tests (after tests/lib.sh).
#
#   fake_argilla_start [ARGS]   starts tests/fakes/fake-argilla.js with a random
#                               owner key; sets AURL and AKEY
#   actl PATH [QUERY]           POST to the fake's control endpoint (_config, _fault ...)
#   afake_records DATASET       the fake's records of DATASET as JSON
#   records_from_jsonl IN OUT   argilla_records.parquet from JSON lines
#                               {doc_id, page_num, text, suggestions_json}
#                               (id, text_sha256 and the rest computed)
#   records_synthetic N OUT [PAD]  N records of about PAD+80 bytes each, two
#                               agents' suggestions per page
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

fake_argilla_start() {
	AKEY="argilla-owner-$RANDOM$RANDOM$RANDOM"
	rm -f argilla.port
	node "$APFLOW_TOP/tests/fakes/fake-argilla.js" --port-file argilla.port --api-key "$AKEY" "$@" 2>>argilla.err &
	AFAKE_PID=$!
	T_CLEANUP+=("kill $AFAKE_PID")
	for _ in $(seq 1 200); do [ -s argilla.port ] && break; sleep 0.05; done
	AURL=http://127.0.0.1:$(cat argilla.port)
}

actl() { curl -sS -X POST "$AURL/$1${2:+?$2}"; }
afake_records() { curl -sS "$AURL/_records?dataset=$1"; }

records_from_jsonl() {
	cat >"$T_DIR/.rec.sql" <<'SQL'
COPY (
  SELECT doc_id || ':' || page_num AS id, doc_id, page_num, text, sha256(text) AS text_sha256,
         doc_id || '.pdf' AS filename, 'v1' AS labelset_version, 'text' AS source, 'text' AS engine,
         suggestions_json
  FROM read_json(getvariable('src'), format = 'newline_delimited',
                 columns = {doc_id: 'VARCHAR', page_num: 'INTEGER', text: 'VARCHAR', suggestions_json: 'VARCHAR'})
  ORDER BY doc_id, page_num
) TO ${out} (FORMAT parquet, ROW_GROUP_SIZE 2048);
SQL
	"$APFLOW" sql "$T_DIR/.rec.sql" --set src="$1" --set out="$2" >/dev/null
}

records_synthetic() {
	cat >"$T_DIR/.syn.sql" <<'SQL'
COPY (
  WITH base AS (
    SELECT i, 'doc' || lpad(CAST(i // 10 AS VARCHAR), 6, '0') AS doc_id, CAST(i % 10 + 1 AS INTEGER) AS page_num,
      'Vessel MV Ærø Star ' || i || ' arrived at Rotterdam 🚢 東京 on 2024-01-0' || (i % 9 + 1) || '. ' ||
        repeat('lorem ipsum ', CAST(getvariable('pad') AS INTEGER) // 12) AS text
    FROM range(CAST(getvariable('n') AS INTEGER)) t(i)
  )
  SELECT doc_id || ':' || page_num AS id, doc_id, page_num, text, sha256(text) AS text_sha256, doc_id || '.pdf' AS filename,
    'v1' AS labelset_version, 'text' AS source, 'text' AS engine,
    '[{"question_name":"entities","value":[{"start":10,"end":18,"label":"VESSEL_NAME"}],"score":0.9,"agent":"apflow-rules-v1","type":"model"},' ||
    '{"question_name":"entities","value":[{"start":10,"end":18,"label":"VESSEL_NAME"},{"start":' || (length(CAST(i AS VARCHAR)) + 31) ||
    ',"end":' || (length(CAST(i AS VARCHAR)) + 40) || ',"label":"PORT"}],"score":[0.8,0.7],"agent":"ollama-llama3.3-70b","type":"model"}]' AS suggestions_json
  FROM base
) TO ${out} (FORMAT parquet, ROW_GROUP_SIZE 2048);
SQL
	"$APFLOW" sql "$T_DIR/.syn.sql" --set n="$1" --set out="$2" --set pad="${3:-0}" >/dev/null
}
