#!/usr/bin/env bash
# Every fenced block of README.md marked ```sh test runs, in order, in a
# scratch directory holding the sample corpus's script and text, with
# `apflow` the binary under test; each block must exit 0 (set -e).  The
# daily-check and production commands need servers and are not marked.
. "$(dirname "$0")/../lib.sh"
export APFLOW_DATA_DIR=$T_DIR/data
mkdir -p scripts examples/sample
cp "$APFLOW_TOP/scripts/gen-sample.sh" scripts/
cp -r "$APFLOW_TOP/examples/sample/text" examples/sample/

awk '
	/^```sh test$/ { n++; f = sprintf("block%02d.sh", n); inb = 1; next }
	/^```/ && inb { inb = 0; close(f); next }
	inb { print > f }
' "$APFLOW_TOP/README.md"
blocks=(block*.sh)
t_match "README has blocks marked sh test" '^[3-9]$|^[1-9][0-9]$' "${#blocks[@]}"
t_match "one block is the quick start" "apflow run --dataset" "$(cat block*.sh)"
for b in "${blocks[@]}"; do
	t_ok "README $b: $(head -1 "$b")" env APFLOW="$APFLOW" bash -euc 'apflow() { "$APFLOW" "$@"; }; . "$1"' _ "$b"
done
t_eq "the quick start merged the sample's 15 pages" 15 \
	"$(echo "SELECT count(*) FROM read_parquet('$T_DIR/data/lake/argilla/in/vessels_ocr_sample/argilla_records.parquet');" | "$APFLOW" sql - --csv | tail -1)"
t_match "the Grafana dashboard was written" '"panels"' "$(head -c 100000 apflow-grafana.json)"
t_done
