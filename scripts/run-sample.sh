#!/usr/bin/env bash
# run-sample.sh: the whole flow on the bundled sample (what `make run` does).
#
#   scripts/run-sample.sh [--serve | --no-serve]
#
# Generates the sample corpus (examples/sample/*.pdf from the text in
# examples/sample/text/, scripts/gen-sample.sh), runs `apflow run` on it
# with the embedded defaults, prints where everything went (the merged
# Parquet, the warehouse, `apflow check`), then starts `apflow serve` and
# prints the URLs of the upload page and the dashboard.  The server starts
# only when standard input is a terminal or with --serve (APFLOW_SERVE=1),
# so CI and scripts do not block; --no-serve never starts it.  With
# ARGILLA_API_URL and ARGILLA_API_KEY set, the run also pushes to Argilla.
# Everything goes under ./data, or under $APFLOW_DATA_DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
apflow=./apflow
dataset=${APFLOW_SAMPLE_DATASET:-vessels_ocr_sample}
serve=auto
[ "${APFLOW_SERVE:-}" = 1 ] && serve=yes
for a in "$@"; do
	case $a in
	--serve) serve=yes ;;
	--no-serve) serve=no ;;
	*) echo "usage: scripts/run-sample.sh [--serve | --no-serve]" >&2; exit 2 ;;
	esac
done
[ $serve = auto ] && { [ -t 0 ] && serve=yes || serve=no; }

step() { printf '\n== %s\n' "$*"; }

step "versions"
$apflow version

step "sample PDFs (examples/sample)"
scripts/gen-sample.sh

step "apflow run --dataset $dataset --input examples/sample"
t0=$(date +%s.%N)
$apflow run --dataset "$dataset" --input examples/sample
t1=$(date +%s.%N)

step "where everything went"
data_dir=$($apflow config 2>/dev/null | awk '$1 == "data_dir" {print $3}')
store=$($apflow config 2>/dev/null | awk '$1 == "store" {print $3}')
echo "settings:        apflow config (data_dir ${data_dir:-./data}, store ${store:-file://<data_dir>/lake})"
echo "warehouse:       ${data_dir:-./data}/*.duckdb (md_raw_ocr, md_annotated); query with: apflow sql FILE.sql"
echo "PDFs:            raw/<doc_id>.pdf in the store"
echo "pages export:    argilla/in/$dataset/pages/ in the store"
echo "suggestions:     argilla/in/$dataset/suggestions/apflow-rules-v1/ in the store"
echo "merged records:  argilla/in/$dataset/argilla_records.parquet in the store"
$apflow store ls "argilla/in/$dataset/" -l | grep -E 'argilla_records|_manifest' || true
if [ -n "${ARGILLA_API_KEY:-}" ]; then
	echo "Argilla:         dataset $dataset at ${ARGILLA_API_URL:-http://localhost:6900}"
else
	echo "Argilla:         not configured (set ARGILLA_API_URL and ARGILLA_API_KEY to push)"
fi

step "apflow status --dataset $dataset"
$apflow status --dataset "$dataset"

step "apflow check"
$apflow check || echo "(a check failed: see above)"

printf '\nBatch part done in %.1f s (the run itself).\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"

if [ $serve = yes ]; then
	listen=$($apflow config 2>/dev/null | awk '$1 == "listen" {print $3}')
	listen=${listen:-127.0.0.1:8080}
	step "apflow serve (Ctrl-C stops it)"
	echo "upload page:  http://$listen/"
	echo "dashboard:    http://$listen/dashboard"
	echo "documents:    http://$listen/api/documents"
	exec $apflow serve
else
	echo "Not starting the server (standard input is not a terminal): 'make run' in a terminal, or"
	echo "scripts/run-sample.sh --serve, serves the upload page at http://127.0.0.1:8080/ and the"
	echo "dashboard at http://127.0.0.1:8080/dashboard."
fi
