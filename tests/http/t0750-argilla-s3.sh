#!/usr/bin/env bash
# apflow push and pull with an S3 store (s3rver behind the SigV4-checking
# proxy): --parquet s3://BUCKET/KEY, --dataset alone from the bucket, pull
# into the bucket; a missing key is a clear error; no secret in any output.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/s3.sh"
. "$APFLOW_TOP/tests/lib/argilla.sh"

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "s3rver and the verifying proxy start" s3_start apflow-test
fake_argilla_start
export ARGILLA_API_URL=$AURL ARGILLA_API_KEY=$AKEY
all=$T_DIR/all.txt
keep() { cat "$T_OUT" "$T_ERR" >>"$all"; }

t_ok "records written" records_synthetic 300 recs.parquet 100
t_ok "the file into the bucket" "$APFLOW" store put argilla/in/vessels_ocr_s3/argilla_records.parquet recs.parquet
t_rc 0 "push --parquet s3://BUCKET/KEY" "$APFLOW" push --dataset from_url --parquet s3://apflow-test/argilla/in/vessels_ocr_s3/argilla_records.parquet
t_match "push from s3://: 300 created" "^push 'from_url': 300 records: 300 created" "$(cat "$T_OUT")"
keep
t_rc 0 "push --dataset alone reads the bucket" "$APFLOW" push --dataset vessels_ocr_s3
t_match "push from the store: 300 created" "^push 'vessels_ocr_s3': 300 records: 300 created" "$(cat "$T_OUT")"
keep
t_rc 1 "a missing key: exit 1" "$APFLOW" push --dataset nope --parquet s3://apflow-test/argilla/in/nope/argilla_records.parquet
t_match "a missing key: named" "argilla/in/nope/argilla_records.parquet.*(no such object|not found|404)" "$(cat "$T_ERR")"
keep
t_rc 0 "pull into the bucket" "$APFLOW" pull --dataset vessels_ocr_s3
t_match "pull: where it went" "^pull 'vessels_ocr_s3': 300 records, 0 responses \(0 submitted\) to s3://apflow-test/argilla/out/vessels_ocr_s3/[0-9]{8}T[0-9]{6}Z/records.parquet" "$(cat "$T_OUT")"
keep
key=$("$APFLOW" store ls argilla/out/vessels_ocr_s3/ | head -1)
t_ok "the export back from the bucket" "$APFLOW" store get "$key" back.parquet
printf "SELECT count(*) FROM 'back.parquet';\n" >q.sql
t_eq "the export holds the 300 records" 300 "$("$APFLOW" sql q.sql --csv | tail -1 | tr -d '\r')"
t_nomatch "no S3 secret in any output" "$AWS_SECRET_ACCESS_KEY" "$(cat "$all")"
t_nomatch "no Argilla key in any output" "$AKEY" "$(cat "$all")"
t_done
