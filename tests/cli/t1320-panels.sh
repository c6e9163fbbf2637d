#!/usr/bin/env bash
# apflow panels: every query of grafana_panels.sql runs on an empty
# warehouse and on a populated one (tests/lib/annotated.sh) with numbers
# worked out by hand; --json and --csv; the Grafana dashboard file.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/annotated.sh"

NAMES="docs_ingested_per_day ocr_coverage engine_mix label_distribution annotator_throughput suggestion_quality agent_f1_per_export queue_depth"
t_ok "--list" "$APFLOW" panels
t_eq "names every query" "$NAMES" "$(awk '{print $1}' "$T_OUT" | tr '\n' ' ' | sed 's/ $//')"

# ---- empty warehouse ----
t_ok "init" "$APFLOW" init
declare -A EMPTY=(
	[docs_ingested_per_day]="day,documents,pages"
	[ocr_coverage]="documents,documents_read,pages_expected,pages_read,coverage_pct
0,0,0,0,"
	[engine_mix]="engine,pages,pct"
	[label_distribution]="label,suggested,annotated"
	[annotator_throughput]="day,annotator,pages"
	[suggestion_quality]="agent,label,suggested,annotated,matched,precision,recall"
	[agent_f1_per_export]="export_run_id,agent,suggested,annotated,matched,f1"
	[queue_depth]="stage,documents
awaiting_ocr,0
ocr_failed,0
awaiting_annotation,0
annotated,0"
)
for q in $NAMES; do
	t_ok "empty: $q runs" "$APFLOW" panels --name "$q" --csv
	t_eq "empty: $q gives" "${EMPTY[$q]}" "$(cat "$T_OUT")"
done

# ---- populated ----
rm -rf data
t_ok "the populated warehouse" annotated_fixture
declare -A FULL=(
	[docs_ingested_per_day]="day,documents,pages
2026-01-01,1,2
2026-01-02,3,1"
	[ocr_coverage]="documents,documents_read,pages_expected,pages_read,coverage_pct
4,2,5,3,50.0"
	[engine_mix]="engine,pages,pct
mupdf,2,66.7
tesseract,1,33.3"
	[label_distribution]="label,suggested,annotated
ORGANIZATION,1,1
PORT,2,1
VESSEL_NAME,1,2"
	[annotator_throughput]="day,annotator,pages
2026-01-03,alice,1
2026-01-03,bob,1
2026-01-04,bob,1"
	[suggestion_quality]="agent,label,suggested,annotated,matched,precision,recall
apflow-rules-v1,ORGANIZATION,1,1,1,1.0,1.0
apflow-rules-v1,PORT,2,1,1,0.5,1.0
apflow-rules-v1,VESSEL_NAME,1,1,0,0.0,0.0"
	[agent_f1_per_export]="export_run_id,agent,suggested,annotated,matched,f1
1,apflow-rules-v1,4,3,2,0.571"
	[queue_depth]="stage,documents
awaiting_ocr,1
ocr_failed,1
awaiting_annotation,0
annotated,2"
)
for q in $NAMES; do
	t_ok "populated: $q runs" "$APFLOW" panels --name "$q" --csv
	t_eq "populated: $q gives" "${FULL[$q]}" "$(cat "$T_OUT")"
done
t_ok "--json" "$APFLOW" panels --name engine_mix --json
t_eq "an array of objects, numbers as numbers" '[
 {"engine":"mupdf","pages":2,"pct":66.7},
 {"engine":"tesseract","pages":1,"pct":33.3}
]' "$(cat "$T_OUT")"
t_ok "a table by default" "$APFLOW" panels --name queue_depth
t_match "aligned, with a row count" "^stage               \| documents" "$(cat "$T_OUT")"
t_rc 1 "an unknown query" "$APFLOW" panels --name nope
t_match "says so" "no panel query 'nope'" "$(cat "$T_ERR")"
t_rc 2 "--json without --name" "$APFLOW" panels --json

# ---- Grafana ----
t_ok "--grafana-dashboard" "$APFLOW" panels --grafana-dashboard dash.json
t_eq "says what it wrote" "wrote 'dash.json': a Grafana dashboard with 8 panels" "$(cat "$T_OUT")"
t_ok "the dashboard is what Grafana imports" node -e '
const d = JSON.parse(require("fs").readFileSync("dash.json", "utf8"));
const assert = require("assert");
assert.strictEqual(d.__inputs[0].pluginId, "motherduck-duckdb-datasource");
assert.strictEqual(d.panels.length, 8);
const names = d.panels.map((p) => p.description).join(" ");
assert.strictEqual(names, process.argv[1]);
for (const p of d.panels) {
	assert.strictEqual(p.datasource.type, "motherduck-duckdb-datasource");
	assert.strictEqual(p.datasource.uid, "${DS_MOTHERDUCK}");
	assert.strictEqual(p.targets[0].format, "table");
	assert.ok(/^(WITH|SELECT)\b/.test(p.targets[0].rawSql), p.targets[0].rawSql);
	assert.ok(!/;\s*$/.test(p.targets[0].rawSql));
}
assert.strictEqual(d.panels[3].type, "barchart");
assert.strictEqual(d.panels[1].type, "stat");
assert.deepStrictEqual(d.panels[7].gridPos, { h: 8, w: 12, x: 12, y: 24 });
' "$NAMES"
# The SQL of a panel is the query apflow runs: the same rows from a shell.
node -e 'const d = JSON.parse(require("fs").readFileSync("dash.json", "utf8")); process.stdout.write(d.panels[2].targets[0].rawSql + ";\n")' >panel.sql
t_ok "a panel's rawSql runs as is" "$APFLOW" sql --csv panel.sql
t_eq "with the same rows" "${FULL[engine_mix]}" "$(cat "$T_OUT")"
t_done
