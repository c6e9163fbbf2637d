#!/usr/bin/env bash
# An apflow push interrupted (SIGINT, then kill -9) while batches are in
# flight, then run again: every record on the fake Argilla exactly once.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY
t_ok "2,000 records written" records_synthetic 2000 recs.parquet 200
actl _config "delay_ms=80" >/dev/null
bulk() { curl -sS "$AURL/_stats" | jq .bulk_requests; }
wait_bulk() {	# until the fake has seen N bulk requests (at most 20 s)
	for _ in $(seq 1 400); do [ "$(bulk)" -ge "$1" ] && return 0; sleep 0.05; done
	return 1
}
check_once() {	# dataset -> "count distinct created"
	afake_records "$1" | jq -r '"\(.count) \([.items[].external_id] | unique | length)"'
}

for sig in INT KILL; do
	ds=intr_$(echo "$sig" | tr A-Z a-z)
	before=$(curl -sS "$AURL/_stats" | jq .records_created)
	"$APFLOW" push --dataset "$ds" --parquet recs.parquet --batch-size 100 >out.$sig 2>err.$sig &
	pid=$!
	wait_bulk $(( $(bulk) + 4 ))
	kill -s "$sig" $pid
	wait $pid
	rc=$?
	if [ "$sig" = INT ]; then
		t_eq "SIGINT: exit 130" 130 "$rc"
		t_match "SIGINT: says how to finish" "push interrupted; run it again to finish" "$(cat err.$sig)"
	else
		t_eq "kill -9: killed" 137 "$rc"
	fi
	n=$(afake_records "$ds" | jq .count)
	t_match "$sig: part of the records arrived ($n)" '^[1-9][0-9]*$' "$([ "$n" -lt 2000 ] && echo "$n")"
	t_rc 0 "$sig: the push run again: exit 0" "$APFLOW" push --dataset "$ds" --parquet recs.parquet --batch-size 100
	t_match "$sig: the rest created, what arrived unchanged" "2000 records: $((2000 - n)) created, 0 updated, $n unchanged, 0 failed" "$(cat "$T_OUT")"
	t_eq "$sig: every record once" "2000 2000" "$(check_once "$ds")"
	t_eq "$sig: the server created 2,000 records for it" 2000 "$(( $(curl -sS "$AURL/_stats" | jq .records_created) - before ))"
done

# --- pull while a record is deleted between its pages ---
actl _config "delay_ms=400" >/dev/null
ds=intr_int
ids=$(afake_records $ds | jq -r '[.items[] | .id] | .[5], .[1000]')
del=$(sed -n 1p <<<"$ids")
at1000=$(afake_records $ds | jq -r '.items[1000].external_id')
l0=$(curl -sS "$AURL/_stats" | jq .list_requests)
"$APFLOW" pull --dataset $ds --out moving.parquet >pull.out 2>pull.err &
pid=$!
for _ in $(seq 1 400); do [ "$(curl -sS "$AURL/_stats" | jq .list_requests)" -gt "$l0" ] && break; sleep 0.02; done
t_eq "a record deleted while the first page is on its way" 204 \
	"$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "X-Argilla-Api-Key: $AKEY" "$AURL/api/v1/datasets/$(afake_records $ds | jq -r .dataset.id)/records?ids=$del")"
wait $pid
t_eq "pull: exit 0" 0 "$?"
printf "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || count(*) FILTER (WHERE id = '%s') FROM 'moving.parquet';\n" "$at1000" >q.sql
t_eq "pull: the 1,999 records left, once each, the one that moved back a page included" "1999 1999 1" "$("$APFLOW" sql q.sql --csv | tail -1 | tr -d '\r')"
t_done
