#!/usr/bin/env bash
# The gold corpus and apflow eval: the corpus regenerates byte for byte, the
# rules engine meets its F1 targets on it with exactly the spans it had,
# every span's text is its code-point slice of the page, and eval reads
# suggestions from JSONL, Parquet and a dataset in the store.
. "$(dirname "$0")/../lib.sh"

gold=$APFLOW_TOP/tests/data/gold
export APFLOW_DATA_DIR=$T_DIR/data

# ---- the corpus ----
t_ok "the generator runs" node "$APFLOW_TOP/tests/data/gen-gold.js" regen
t_match "it says what it wrote" '^gen-gold: 200 pages, VESSEL_NAME=318 IMO_NUMBER=240 MMSI=92 CALL_SIGN=92 FLAG_STATE=282 PORT=398 VESSEL_TYPE=279 TONNAGE=272 ORGANIZATION=414 DATE=744$' "$(cat "$T_ERR")"
t_ok "pages.jsonl is what the generator writes" cmp regen/pages.jsonl "$gold/pages.jsonl"
t_ok "gold.jsonl is what the generator writes" cmp regen/gold.jsonl "$gold/gold.jsonl"
# Every gold span lies in its page, sha256 matches the text, kinds are all there.
cat >check-gold.js <<'JS'
const fs = require('fs'), crypto = require('crypto');
const pages = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const gold = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map(JSON.parse);
let bad = 0, nfd = 0, cjk = 0, emoji = 0;
pages.forEach((p, i) => {
	const cps = [...p.text], g = gold[i];
	if (g.doc_id !== p.doc_id || g.page_num !== p.page_num) bad++;
	if (crypto.createHash('sha256').update(p.text).digest('hex') !== p.text_sha256) bad++;
	for (const s of g.spans) if (!(s.start >= 0 && s.end > s.start && s.end <= cps.length) || /^\s|\s$/.test(cps.slice(s.start, s.end).join(''))) bad++;
	if (/[\u0300-\u036f]/.test(p.text)) nfd++;
	if (/[\u4e00-\u9fff]/.test(p.text)) cjk++;
	if (/\p{Extended_Pictographic}/u.test(p.text)) emoji++;
});
console.log(`${pages.length} pages, ${bad} bad, ${nfd} with combining marks, ${cjk} with CJK, ${emoji} with emoji`);
JS
t_ok "gold spans check" node check-gold.js "$gold/pages.jsonl" "$gold/gold.jsonl"
t_match "gold spans are in their pages; hard cases present" '^200 pages, 0 bad, [1-9][0-9]* with combining marks, [1-9][0-9]* with CJK, [1-9][0-9]* with emoji$' "$(cat "$T_OUT")"

# ---- the rules engine on it ----
t_ok "eval --pages runs the rules engine" "$APFLOW" eval --gold "$gold/gold.jsonl" --pages "$gold/pages.jsonl" --dump dump.jsonl
cp "$T_OUT" eval.txt
f1() { awk -v l="$1" '$1 == "apflow-rules-v1" && $2 == l { print $8 }' eval.txt; }
for l in IMO_NUMBER MMSI CALL_SIGN DATE TONNAGE; do
	t_ok "F1 of $l >= 0.95 ($(f1 $l))" awk -v f="$(f1 $l)" 'BEGIN { exit !(f >= 0.95) }'
done
for l in VESSEL_NAME PORT FLAG_STATE; do
	t_ok "F1 of $l >= 0.85 ($(f1 $l))" awk -v f="$(f1 $l)" 'BEGIN { exit !(f >= 0.85) }'
done
# The exact counts: a change of the rules shows here and is judged.
t_eq "exact spans per label (gold, suggested, exact matches)" \
"VESSEL_NAME 318 309 309
IMO_NUMBER 240 240 240
MMSI 92 92 92
CALL_SIGN 92 92 92
FLAG_STATE 282 285 267
PORT 398 436 393
DATE 744 744 744
ORGANIZATION 414 414 414
VESSEL_TYPE 279 275 274
TONNAGE 272 272 272
ALL 3131 3159 3097" "$(awk '$1 == "apflow-rules-v1" { print $2, $3, $4, $5 }' eval.txt)"
t_match "a summary line" '^eval: 200 pages, 3131 gold spans, 1 agent: apflow-rules-v1 F1 0\.985; rules: 200 pages, 3159 spans, [0-9.]+ MB/s$' "$(tail -1 eval.txt)"

# Every suggested span is the code-point slice of its page (accents, CJK,
# emoji, combining marks), spans are sorted and disjoint per page.
cat >check-dump.js <<'JS'
const fs = require('fs');
const pages = new Map();
for (const l of fs.readFileSync(process.argv[2], 'utf8').trim().split('\n')) { const p = JSON.parse(l); pages.set(p.doc_id + ':' + p.page_num, [...p.text]); }
let n = 0, bad = 0, order = 0, nonascii = 0, last = new Map();
for (const l of fs.readFileSync(process.argv[3], 'utf8').trim().split('\n')) {
	const s = JSON.parse(l), t = pages.get(s.doc_id + ':' + s.page_num), k = s.doc_id + ':' + s.page_num;
	n++;
	if (!t || t.slice(s.start, s.end).join('') !== s.span_text) bad++;
	if (/[^\x00-\x7f]/.test(t.slice(0, s.end).join(''))) nonascii++;
	if (last.has(k) && s.start < last.get(k)) order++;
	last.set(k, s.end);
}
console.log(`${n} spans, ${bad} not their slice, ${order} out of order or overlapping, ${nonascii > 0 ? 'some' : 'none'} after non-ASCII text`);
JS
t_ok "dump check" node check-dump.js "$gold/pages.jsonl" dump.jsonl
t_eq "every span_text is its slice; sorted, disjoint" "3159 spans, 0 not their slice, 0 out of order or overlapping, some after non-ASCII text" "$(cat "$T_OUT")"

# ---- suggestions from files ----
# The dump as suggestion rows of two agents; one has a label outside the
# labelset and one span moved by one code point.
node -e '
const fs = require("fs");
const rows = fs.readFileSync("dump.jsonl", "utf8").trim().split("\n").map(JSON.parse);
const out = [];
rows.forEach((r, i) => {
	out.push(JSON.stringify({ ...r, agent: "apflow-rules-v1", question_name: "entities", type: "model" }));
	const o = { ...r, agent: "other" };
	if (i === 0) o.label = "SHIPYARD";
	if (i === 1) o.start += 1;
	out.push(JSON.stringify(o));
	if (i === 2) out.push(JSON.stringify(o)); /* a duplicate counts once */
});
fs.writeFileSync("sugg.jsonl", out.join("\n") + "\n");'
t_ok "eval --suggestions FILE.jsonl" "$APFLOW" eval --gold "$gold/gold.jsonl" --suggestions sugg.jsonl
t_eq "both agents scored; the same spans give the same F1" \
"apflow-rules-v1 ALL 3131 3159 3097
other ALL 3131 3159 3095" "$(awk '$2 == "ALL" { print $1, $2, $3, $4, $5 }' "$T_OUT")"
t_ok "--agent picks one" "$APFLOW" eval --gold "$gold/gold.jsonl" --suggestions sugg.jsonl --agent other
t_match "only that agent" '^eval: 200 pages, 3131 gold spans, 1 agent: other F1 0\.984$' "$(tail -1 "$T_OUT")"

# Parquet, written by DuckDB as a suggestions writer would.
cat >to-parquet.sql <<'SQL'
COPY (SELECT doc_id, page_num::INTEGER AS page_num, '' AS text_sha256, 'entities' AS question_name, label,
             "start"::INTEGER AS "start", "end"::INTEGER AS "end", span_text, score, agent, 'model' AS type,
             'v1' AS labelset_version, now() AS created_at
      FROM read_json_auto(getvariable('src')) WHERE agent = 'apflow-rules-v1')
TO ${out} (FORMAT parquet);
SQL
mkdir -p store/argilla/in/vessels_ocr_t/suggestions/apflow-rules-v1
t_ok "write a suggestions parquet" "$APFLOW" sql to-parquet.sql --set src=sugg.jsonl --set out=store/argilla/in/vessels_ocr_t/suggestions/apflow-rules-v1/part-0.parquet
t_ok "eval --suggestions FILE.parquet" "$APFLOW" eval --gold "$gold/gold.jsonl" --suggestions store/argilla/in/vessels_ocr_t/suggestions/apflow-rules-v1/part-0.parquet
t_eq "the same figures from Parquet" "apflow-rules-v1 ALL 3131 3159 3097" "$(awk '$2 == "ALL" { print $1, $2, $3, $4, $5 }' "$T_OUT")"
mkdir -p store/argilla/in/vessels_ocr_t/suggestions/apflow-rules-v1/_pages
cat >pages-list.sql <<'SQL'
COPY (SELECT DISTINCT doc_id, page_num::INTEGER AS page_num, '' AS text_sha256, agent, 1 AS spans, now() AS created_at
      FROM read_json_auto(getvariable('src'))) TO ${out} (FORMAT parquet);
SQL
t_ok "write the agent's _pages list" "$APFLOW" sql pages-list.sql --set src=sugg.jsonl --set out=store/argilla/in/vessels_ocr_t/suggestions/apflow-rules-v1/_pages/part-0-of-1.parquet
t_ok "eval --suggestions DIR skips _pages/" "$APFLOW" eval --gold "$gold/gold.jsonl" --suggestions store/argilla/in/vessels_ocr_t/suggestions
t_eq "the same figures from the directory" "apflow-rules-v1 ALL 3131 3159 3097" "$(awk '$2 == "ALL" { print $1, $2, $3, $4, $5 }' "$T_OUT")"
t_ok "eval --dataset reads the store" "$APFLOW" --store "file://$T_DIR/store" eval --gold "$gold/gold.jsonl" --dataset vessels_ocr_t
t_eq "the same figures from the dataset" "apflow-rules-v1 ALL 3131 3159 3097" "$(awk '$2 == "ALL" { print $1, $2, $3, $4, $5 }' "$T_OUT")"
t_rc 1 "a dataset without suggestions" "$APFLOW" --store "file://$T_DIR/store" eval --gold "$gold/gold.jsonl" --dataset vessels_ocr_none
t_eq "says where it looked" "apflow: error: no suggestions under 'argilla/in/vessels_ocr_none/suggestions/' in the store" "$(cat "$T_ERR")"

# ---- bench/ helpers ----
t_ok "--bench times the engine alone" "$APFLOW" eval --bench --pages "$gold/pages.jsonl"
t_match "pages, bytes, spans, CPU" '^rules: 200 pages, [0-9]+ bytes, 3159 spans, cpu [0-9.]+ s, wall [0-9.]+ s, [0-9.]+ MB/s \(cpu\), [0-9]+ pages/s \(cpu\)$' "$(cat "$T_OUT")"
t_rc 2 "--bench takes no --gold" "$APFLOW" eval --bench --pages "$gold/pages.jsonl" --gold "$gold/gold.jsonl"
t_ok "--rules-patterns" "$APFLOW" eval --rules-patterns
cp "$T_OUT" patterns.txt
t_eq "one pattern a line" 11 "$(wc -l <patterns.txt)"
if command -v rg >/dev/null; then
	node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) console.log(JSON.parse(l).text)' "$gold/pages.jsonl" >text.txt
	t_ok "ripgrep's PCRE2 takes them all" rg -P -c -f patterns.txt text.txt
else
	echo "ok - # skip ripgrep not installed"
	T_NUM=$((T_NUM + 1))
fi

# ---- bad input ----
t_rc 2 "--gold is required" "$APFLOW" eval --pages "$gold/pages.jsonl"
t_eq "usage error" "apflow eval: --gold is required (see 'apflow eval --help')" "$(cat "$T_ERR")"
printf '{"doc_id":"a","page_num":1,"spans":[]}\n{"doc_id":"a","page_num":2,"spans":[{"start":3,"end":1,"label":"PORT"}]}\n' >bad-gold.jsonl
t_rc 1 "a bad gold span" "$APFLOW" eval --gold bad-gold.jsonl --pages "$gold/pages.jsonl"
t_eq "names file, line and span" "apflow: error: cannot read 'bad-gold.jsonl' line 2: span 0 needs start < end and a label of labelset v1" "$(cat "$T_ERR")"
printf '{"doc_id":"a","page_num":1,"spans":[]}\nnot json\n' >bad2.jsonl
t_rc 1 "a line that is not JSON" "$APFLOW" eval --gold bad2.jsonl --pages "$gold/pages.jsonl"
t_match "names the line" "^apflow: error: cannot read 'bad2.jsonl' line 2: not a JSON object: " "$(cat "$T_ERR")"
t_rc 1 "missing pages file" "$APFLOW" eval --gold "$gold/gold.jsonl" --pages nope.jsonl
t_eq "says so" "apflow: error: cannot open 'nope.jsonl': No such file or directory" "$(cat "$T_ERR")"
t_ok "--help" "$APFLOW" eval --help
t_match "help names the options" '--suggestions PATH' "$(cat "$T_OUT")"
t_done
