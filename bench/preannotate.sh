#!/usr/bin/env bash
# bench/preannotate.sh: the rules engine (agent apflow-rules-v1) against
# ripgrep's PCRE2 engine (`rg -P`, Debian's ripgrep) running the same
# regular expressions over the same text, in the same run.
#
# Pages: BENCH_PAGES (default 10,000) pages written by
# `node tests/data/gen-gold.js --bench N` (the gold corpus's six kinds of
# maritime document, other seeds), made once into build/bench/.  rg reads
# their texts as one file; apflow reads the pages JSONL.  MB/s always
# counts the bytes of the page texts (UTF-8), the same for every row.
#
# Rows:
#   engine          `apflow eval --bench --pages`: apflow_rules_annotate()
#                   alone, timed by the CPU clock of its thread (what "one
#                   core" means on a shared machine); the full labelling:
#                   10 labels, gazetteers, context, overlaps resolved, code
#                   points
#   eval process    the same command as a whole (start, JSONL parsing):
#                   user + system seconds, wall, peak RSS
#   preannotate     `apflow preannotate --stdin-jsonl --engine rules`:
#                   pages JSONL in, one JSON row per span out (the Spark
#                   path), when this apflow has it
#   rg -o           `rg -P -j1 -o -f PATTERNS`: every match of every rule,
#                   printed (the nearest ripgrep comes to labelling)
#   rg -c           `rg -P -j1 -c -f PATTERNS`: lines with a match, counted
#                   (ripgrep's cheapest mode; it stops at a line's first match)
# PATTERNS is `apflow eval --rules-patterns`: each rule as one PCRE2
# expression.  The engine runs fewer of them over the text: it finds
# month names, tonnage units, field names and the gazetteers (which
# ripgrep does not look for at all) in one trie pass and matches the rest
# of those rules anchored there.
#
# Each command runs BENCH_REPEAT rounds (default 3), round-robin, and keeps
# its fastest; CPU seconds (user + system) are what the targets compare,
# since on a shared machine wall time measures the neighbours too.
#
# Targets (issue 11): engine >= 0.5 x rg (full labelling against rg -o),
# engine >= 20 MB/s on one core; peak RSS reported.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
apflow=${APFLOW_BIN:-$top/apflow}
n=${BENCH_PAGES:-10000}
repeat=${BENCH_REPEAT:-3}
work=$top/build/bench/preannotate
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "bench/preannotate.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
command -v rg >/dev/null || { echo "bench/preannotate.sh: needs ripgrep (apt-get install ripgrep)" >&2; exit 1; }
[ -x "$apflow" ] || { echo "bench/preannotate.sh: no $apflow (run make)" >&2; exit 1; }

pages=$work/pages-$n.jsonl
text=$work/text-$n.txt
pats=$work/patterns.txt
if [ ! -s "$pages" ]; then
	node "$top/tests/data/gen-gold.js" --bench "$n" "$pages"
fi
if [ ! -s "$text" ] || [ "$pages" -nt "$text" ]; then
	node -e '
const fs = require("fs");
const out = fs.openSync(process.argv[2] + ".tmp", "w");
for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) if (l) fs.writeSync(out, JSON.parse(l).text + "\n");
fs.closeSync(out); fs.renameSync(process.argv[2] + ".tmp", process.argv[2]);' "$pages" "$text"
fi
"$apflow" eval --rules-patterns >"$pats"
bytes=$(node -e '
const fs = require("fs"); let b = 0;
for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) if (l) b += Buffer.byteLength(JSON.parse(l).text);
console.log(b);' "$pages")
has_pa=0
"$apflow" preannotate --help 2>/dev/null | grep -q -- --stdin-jsonl && has_pa=1

calc() { awk "BEGIN { x = ($1); print x }"; }
declare -A CMD BEST_CPU BEST_WALL RSS
CMD[eval]="'$apflow' eval --bench --pages '$pages'"
CMD[pa]="'$apflow' preannotate --stdin-jsonl --engine rules --concurrency 1 <'$pages'"
CMD[rgo]="rg -P -j1 -o --no-filename -f '$pats' '$text'"
CMD[rgc]="rg -P -j1 -c --no-filename -f '$pats' '$text'"
names="eval rgo rgc"
[ $has_pa -eq 1 ] && names="eval pa rgo rgc"
engine_best=

for r in $(seq "$repeat"); do
	for name in $names; do
		start=$(date +%s.%N)
		if ! eval "/usr/bin/time -f '%U %S %M' -o '$work/time' ${CMD[$name]}" >"$work/out.$name" 2>"$work/err.$name"; then
			echo "bench/preannotate.sh: '$name' failed:" >&2
			cat "$work/err.$name" >&2
			exit 1
		fi
		end=$(date +%s.%N)
		read -r u s m <"$work/time"
		cpu=$(calc "$u + $s")
		wall=$(calc "$end - $start")
		if [ -z "${BEST_CPU[$name]:-}" ] || [ "$(calc "$cpu < ${BEST_CPU[$name]}")" -eq 1 ]; then
			BEST_CPU[$name]=$cpu
			BEST_WALL[$name]=$wall
			RSS[$name]=$m
		fi
		if [ "$name" = eval ]; then
			e=$(sed -n 's/.*cpu \([0-9.]*\) s,.*/\1/p' "$work/out.eval")
			if [ -z "$engine_best" ] || [ "$(calc "$e < $engine_best")" -eq 1 ]; then
				engine_best=$e
				engine_line=$(cat "$work/out.eval")
			fi
		fi
	done
done

mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
pps() { awk -v n="$n" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
label() {
	case $1 in
	eval) echo "eval process" ;; pa) echo "preannotate --stdin-jsonl" ;;
	rgo) echo "rg -P -o" ;; rgc) echo "rg -P -c" ;;
	esac
}
echo "pages: $n ($bytes bytes of text), $(wc -l <"$pats") patterns, best of $repeat rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ripgrep: $(rg --version | head -1)"
printf '%-27s %9s %9s %10s %10s %10s\n' "command" "cpu s" "wall s" "MB/s cpu" "pages/s" "peak RSS"
printf '%-27s %9s %9s %10s %10s %10s\n' "engine (annotate calls)" "$engine_best" "-" "$(mbs "$engine_best")" "$(pps "$engine_best")" "-"
for name in $names; do
	printf '%-27s %9.3f %9.3f %10s %10s %8d KB\n' "$(label $name)" "${BEST_CPU[$name]}" "${BEST_WALL[$name]}" \
		"$(mbs "${BEST_CPU[$name]}")" "$(pps "${BEST_CPU[$name]}")" "${RSS[$name]}"
done
echo "engine: $engine_line"
echo "spans labelled: $(sed -n 's/.*bytes, \([0-9]*\) spans.*/\1/p' "$work/out.eval"); rg -o matches: $(wc -l <"$work/out.rgo")"

ratio=$(awk -v a="${BEST_CPU[rgo]}" -v b="$engine_best" 'BEGIN { printf "%.2f", a / b }')
ratio_proc=$(awk -v a="${BEST_CPU[rgo]}" -v b="${BEST_CPU[eval]}" 'BEGIN { printf "%.2f", a / b }')
speed=$(mbs "$engine_best")
verdict() { [ "$(calc "$1")" -eq 1 ] && echo PASS || echo FAIL; }
echo "target: engine >= 0.5 x rg -P -o: ${ratio} x ($(verdict "$ratio >= 0.5")); whole eval process ${ratio_proc} x"
echo "target: engine >= 20 MB/s on one core: $speed MB/s ($(verdict "$speed >= 20"))"
# RESULT|stage|apflow|peer|ratio|target|met rows for bench/run-all.
yn() { [ "$(verdict "$1")" = PASS ] && echo yes || echo no; }
echo "RESULT|preannotate: rules engine, $n pages (CPU)|$(mbs "$engine_best") MB/s|$(mbs "${BEST_CPU[rgo]}") MB/s (rg -P -o)|$ratio|>= 0.5x|$(yn "$ratio >= 0.5")"
echo "RESULT|preannotate: rules engine on one core|$speed MB/s|-|-|>= 20 MB/s|$(yn "$speed >= 20")"
