#!/usr/bin/env bash
# bench/pipeline.sh: a dataset's way from the warehouse to Argilla records:
# export, preannotate (rules, batch and --stdin-jsonl) and merge, on
# BENCH_PAGES pages (default 10,000) of `node tests/data/gen-gold.js
# --bench N` (documents of 1 to 3 pages, so about half as many Parquet
# partitions as pages), with a file:// store in a private directory.
#
# Each row: wall seconds, CPU seconds (user + system; on a shared machine
# the wall time measures the neighbours too), peak RSS, pages/s and MB/s of
# page text (UTF-8) by CPU time.  The peer for export is DuckDB alone
# running the same export_for_argilla.sql into a local directory (`apflow
# sql`): the ratio is what publishing it atomically into the store costs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_PAGES:-10000}
APFLOW=${APFLOW:-$top/apflow}
[ -x "$APFLOW" ] || { echo "bench/pipeline.sh: build apflow first (make apflow)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/apflow-bench-pipeline.XXXXXX")
trap 'rm -rf "$work"' EXIT
export APFLOW_DATA_DIR=$work/data
DS=vessels_ocr_bench

node "$top/tests/data/gen-gold.js" --bench "$N" "$work/pages.jsonl" >/dev/null
bytes=$(jq -j .text "$work/pages.jsonl" | wc -c)
cat >"$work/load.sql" <<'SQL'
CREATE TEMP TABLE g AS SELECT * FROM read_json(getvariable('f'), format = 'newline_delimited',
    columns = {doc_id: 'VARCHAR', page_num: 'INTEGER', text: 'VARCHAR', text_sha256: 'VARCHAR'});
INSERT INTO md_raw_ocr.main.documents (doc_id, sha256, filename, bytes, pages)
SELECT DISTINCT doc_id, 'x', doc_id || '.pdf', 1, 1 FROM g ON CONFLICT DO NOTHING;
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
SELECT doc_id, page_num, 1, 'deepseek', text, text_sha256, length(text) FROM g;
SQL
"$APFLOW" init >/dev/null
"$APFLOW" sql "$work/load.sql" --set "f=$work/pages.jsonl" >/dev/null
docs=$(jq -r .doc_id "$work/pages.jsonl" | sort -u | wc -l)
printf 'bench/pipeline.sh: %d pages of %d documents, %.1f MB of text, %s\n' "$N" "$docs" "$(echo "$bytes / 1000000" | bc -l)" \
	"$("$APFLOW" version 2>/dev/null | head -1)"
printf '%-26s %8s %8s %9s %10s %8s\n' step wall_s cpu_s rss_MB pages/cpu_s MB/cpu_s

declare -A CPU RSSMB
row() {	# name command...
	local name=$1 t
	shift
	/usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >"$work/out" 2>"$work/err" ||
		{ echo "bench/pipeline.sh: $name failed:" >&2; cat "$work/err" >&2; exit 1; }
	read -r wall user sys rss <"$work/time"
	cpu=$(echo "$user + $sys" | bc -l)
	CPU[$name]=$cpu
	RSSMB[$name]=$((rss / 1024))
	printf '%-26s %8.2f %8.2f %9.1f %10.0f %8.2f\n' "$name" "$wall" "$cpu" "$(echo "$rss / 1024" | bc -l)" \
		"$(echo "$N / ($cpu + 0.001)" | bc -l)" "$(echo "$bytes / 1000000 / ($cpu + 0.001)" | bc -l)"
}
row "duckdb COPY (peer)" "$APFLOW" sql "$top/sql/motherduck/export_for_argilla.sql" --set "target=$work/peer" --set docs= --set since=
row "export" "$APFLOW" export --dataset $DS
row "re-export (replaces)" "$APFLOW" export --dataset $DS
row "preannotate rules" "$APFLOW" preannotate --dataset $DS
row "preannotate --stdin-jsonl" sh -c "'$APFLOW' preannotate --stdin-jsonl <'$work/pages.jsonl' >'$work/rows.jsonl'"
row "merge" "$APFLOW" merge --dataset $DS
printf 'export / duckdb COPY (CPU): %.2f x\n' "$(echo "${CPU[export]} / (${CPU["duckdb COPY (peer)"]} + 0.001)" | bc -l)"
# RESULT|stage|apflow|peer|ratio|target|met rows for bench/run-all (no
# target of their own: the flow's targets are bench/flow.sh's).
pcs() { awk -v n="$N" -v c="${CPU[$1]}" 'BEGIN {printf "%.0f", n / (c + 0.001)}'; }
echo "RESULT|pipeline: export, $N pages (CPU)|$(pcs export) pages/s|$(pcs "duckdb COPY (peer)") pages/s (duckdb COPY)|$(awk -v a="${CPU["duckdb COPY (peer)"]}" -v b="${CPU[export]}" 'BEGIN {printf "%.2f", a / (b + 0.001)}')|-|n/a"
echo "RESULT|pipeline: preannotate rules, $N pages (CPU)|$(pcs "preannotate rules") pages/s, ${RSSMB["preannotate rules"]} MB|-|-|-|n/a"
echo "RESULT|pipeline: merge, $N pages (CPU)|$(pcs merge) pages/s, ${RSSMB[merge]} MB|-|-|-|n/a"
