#!/usr/bin/env bash
# apflow push of 5,000 records while the fake Argilla answers 20% of record
# requests with 500/502/503, and more with 429 + Retry-After, dropped
# connections and requests that commit but never answer (the client times
# out and sends the batch again): exactly 5,000 records, each once, each with
# its suggestion; a second push changes nothing; pull retries the same way.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
fake_argilla_start --seed 7
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY

t_ok "5,000 records written" records_synthetic 5000 recs.parquet 100
actl _config "error_rate=0.2&retry_rate=0.05&retry_after=1&reset_rate=0.05&commit_timeout_rate=0.05&hang_ms=3000" >/dev/null
# One of each for certain, then the random ones.
for f in status retry reset commit_hang; do actl _fault "type=$f&count=1&status=502" >/dev/null; done
t_rc 0 "push under faults: exit 0" "$APFLOW" push --dataset faults --parquet recs.parquet --timeout 1 --retries 10
t_match "push under faults: all created, none failed" "^push 'faults': 5000 records: 5000 created, 0 updated, 0 unchanged, 0 failed" "$(cat "$T_OUT")"
t_match "push under faults: retries were logged" "retrying in [0-9]+ ms" "$(cat "$T_ERR")"
t_match "push under faults: the 429's Retry-After (1 s) was honoured" "HTTP 429; retrying in 1000 ms" "$(cat "$T_ERR")"
stats=$(curl -sS "$AURL/_stats")
t_eq "every kind of fault was injected" "true true true true" \
	"$(jq -r '"\(.faults.status > 0) \(.faults.retry > 0) \(.faults.reset > 0) \(.faults.commit_hang > 0)"' <<<"$stats")"
t_eq "the server created each record once" 5000 "$(jq -r .records_created <<<"$stats")"
afake_records faults >fake.json
t_eq "5,000 records, 5,000 distinct ids, each with one suggestion of two spans" "5000 5000 5000" \
	"$(jq -r '"\(.count) \([.items[].external_id] | unique | length) \([.items[] | select((.suggestions | length) == 1 and (.suggestions[0].value | length) == 2)] | length)"' fake.json)"
t_eq "record doc000123:4 carries its spans and metadata" 'Ærø Star|Rotterdam|0.6666666666666666|0.7' \
	"$(jq -r '.items[] | select(.external_id=="doc000123:4") | . as $r | ($r.fields.text | explode) as $t |
		[($r.suggestions[0].value[] | ($t[.start:.end] | implode)), ($r.metadata.agreement|tostring), ($r.metadata.min_score|tostring)] | join("|")' fake.json)"

# Fewer faults from here: the second push and the pull only read pages.
actl _config "error_rate=0.1&retry_rate=0.03&reset_rate=0.03&commit_timeout_rate=0.03" >/dev/null
t_rc 0 "second push under faults: exit 0" "$APFLOW" push --dataset faults --parquet recs.parquet --timeout 1 --retries 10
t_match "second push changes nothing" "5000 records: 0 created, 0 updated, 5000 unchanged, 0 failed" "$(cat "$T_OUT")"
t_eq "still 5,000 records created in all" 5000 "$(curl -sS "$AURL/_stats" | jq -r .records_created)"

t_rc 0 "pull under faults: exit 0" "$APFLOW" pull --dataset faults --out all.parquet --timeout 1 --retries 10
printf "SELECT count(*), count(DISTINCT id), sum(len(\"entities.suggestion\")) FROM 'all.parquet';\n" >q.sql
t_eq "pull under faults: 5,000 records once each" "5000,5000,10000" "$("$APFLOW" sql q.sql --csv | tail -1 | tr -d '\r')"
t_done
