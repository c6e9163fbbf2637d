#!/usr/bin/env bash
# apflow push --verbose names its phases with their times (bench/push.sh
# reads them), and a file that changes between the check and the sending
# is caught by the second reading before a changed record is sent: the
# second reading compares each row with the bytes the first one checked,
# instead of checking it again.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY
t_ok "records written (300, and the same 300 with other texts)" records_synthetic 300 recs.parquet 40
# the same ids and suggestions; every text (and its text_sha256) differs
sed_sql() {
	cat >other.sql <<'SQL'
COPY (SELECT * REPLACE (text || '!' AS text, sha256(text || '!') AS text_sha256) FROM 'recs.parquet')
TO 'other.parquet' (FORMAT parquet);
SQL
	"$APFLOW" sql other.sql >/dev/null
}
t_ok "the other file written" sed_sql
bulk() { curl -sS "$AURL/_stats" | jq .bulk_requests; }

# --- the phases, in --verbose ---
t_rc 0 "push --verbose" "$APFLOW" push --dataset phases --parquet recs.parquet --batch-size 100 --verbose
err=$(cat "$T_ERR")
t_match "phase: the check, with its CPU" "apflow: debug: push: 300 records checked in [0-9]+ ms \([0-9.]+ us of CPU a record\)" "$err"
t_match "phase: the dataset, created" "apflow: debug: push: dataset ready in [0-9]+ ms \(created\)" "$err"
t_match "phase: nothing listed in a dataset just created" "apflow: debug: push: the server's 0 records listed in 0 ms \(0 ms of it after the check\)" "$err"
t_match "phase: the sending" "apflow: debug: push: sent 300 records in [0-9]+ ms \([0-9]+ records/s, 3 requests, [0-9.]+ us of CPU a record read\)" "$err"
t_match "the senders' waits for a batch are counted" "apflow: debug: push: the senders found no batch ready [0-9]+ times \([0-9]+ ms in all\)" "$err"
t_nomatch "the key is not in the log" "$AKEY" "$err"
t_rc 0 "push again --verbose" "$APFLOW" push --dataset phases --parquet recs.parquet --verbose
err=$(cat "$T_ERR")
t_match "again: the dataset found while the file was checked" "dataset ready in [0-9]+ ms \(found while the file was checked\)" "$err"
t_match "again: its 300 records listed" "the server's 300 records listed in [0-9]+ ms" "$err"
t_match "again: nothing sent" "sent 0 records in [0-9]+ ms \(0 records/s, 0 requests" "$err"
t_match "again: all unchanged" "300 records: 0 created, 0 updated, 300 unchanged, 0 failed" "$(cat "$T_OUT")"

# --- a bad file against a dataset that exists (looked up while checking) ---
printf "COPY (SELECT * REPLACE (CASE WHEN page_num = 3 AND doc_id = 'doc000007' THEN repeat('0', 64) ELSE text_sha256 END AS text_sha256) FROM 'recs.parquet') TO 'bad.parquet' (FORMAT parquet);\n" >bad.sql
"$APFLOW" sql bad.sql >/dev/null
b0=$(bulk)
t_rc 1 "bad file, existing dataset: exit 1" "$APFLOW" push --dataset phases --parquet bad.parquet --verbose
t_match "bad file, existing dataset: the record named" "record 'doc000007:3': text_sha256 000000000000... is not the SHA-256 of the text" "$(cat "$T_ERR")"
t_match "bad file, existing dataset: 1 of 300, nothing sent" "1 of 300 records are not valid; nothing was sent" "$(cat "$T_ERR")"
t_nomatch "bad file, existing dataset: no phase after the check" "dataset ready|records listed|sent [0-9]+ records" "$(cat "$T_ERR")"
t_eq "bad file, existing dataset: no request" "$b0" "$(bulk)"

# --- the file replaced between the two readings ---
# Every answer of the fake takes 700 ms, so the dataset's creation (after
# the check) leaves time to swap the file.
actl _config "delay_ms=700" >/dev/null
b0=$(bulk)
cp recs.parquet live.parquet
"$APFLOW" push --dataset swapped --parquet live.parquet --verbose >swap.out 2>swap.err &
pid=$!
for _ in $(seq 1 400); do grep -q "records checked" swap.err && break; sleep 0.025; done
cp other.parquet live.tmp && mv live.tmp live.parquet
wait $pid
rc=$?
t_eq "file swapped after the check: exit 1" 1 "$rc"
t_match "file swapped: says so" "'live.parquet' changed while it was pushed: run the push again" "$(cat swap.err)"
t_eq "file swapped: no record sent" "$b0" "$(bulk)"
actl _config "delay_ms=0" >/dev/null
t_rc 0 "file swapped: the next push sends the new file" "$APFLOW" push --dataset swapped --parquet live.parquet
t_match "file swapped: all 300 created" "300 records: 300 created, 0 updated, 0 unchanged, 0 failed" "$(cat "$T_OUT")"
t_eq "file swapped: the texts on the server are the new file's" "300" \
	"$(afake_records swapped | jq '[.items[] | select(.fields.text | endswith("!"))] | length')"

# --- fewer rows the second time ---
actl _config "delay_ms=700" >/dev/null
cp recs.parquet live2.parquet
printf "COPY (SELECT * FROM 'recs.parquet' LIMIT 150) TO 'half.parquet' (FORMAT parquet);\n" >half.sql
"$APFLOW" sql half.sql >/dev/null
"$APFLOW" push --dataset shrunk --parquet live2.parquet --batch-size 200 --verbose >shr.out 2>shr.err &
pid=$!
for _ in $(seq 1 400); do grep -q "records checked" shr.err && break; sleep 0.025; done
cp half.parquet live2.tmp && mv live2.tmp live2.parquet
wait $pid
rc=$?
t_eq "file cut short after the check: exit 1" 1 "$rc"
t_match "file cut short: says so" "'live2.parquet' changed while it was pushed" "$(cat shr.err)"
t_match "file cut short: the 150 rows read again were not sent (one batch of 200 never filled)" "0 created, 0 updated" "$(cat shr.err)"
actl _config "delay_ms=0" >/dev/null
t_done
