#!/usr/bin/env bash
# bench/push-floor.sh: what moving the bytes alone costs a Node server here,
# against what bench/push.sh's target leaves the fake Argilla.
#
# bench/push.sh's target is >= 80% of batch x concurrency / latency, with
# the fake's own work on top of the 10 ms latency (tests/fakes/
# fake-argilla.js is one Node thread).  With CONC requests in flight, a
# request may then take at most latency / 0.8, so everything else in it,
# the fake's work and apflow's turn-around, must fit in latency / 0.8 -
# latency = 2.5 ms for BATCH records.  This script measures the least of
# that work: Node servers that only read a body of BATCH records of the
# bench's size and answer a copy of it (bench/lib/echo-floor.js: Node's
# http module, and a bare socket), driven by curl with CONC requests in
# flight.  It prints their CPU per record and the share of the 2.5 ms
# budget they use before any parsing, validation or storage.
#
#   bench/push-floor.sh [BATCH] [CONC] [REQUESTS]
# Without arguments: bench/push.sh's two settings, 100 x 2 and 200 x 2
# (the default of apflow push), 80,000 records each.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	"$0" 100 2 800
	exec "$0" 200 2 400
fi
batch=$1
conc=${2:-2}
reqs=${3:-$((80000 / batch))}
delay=${DELAY_MS:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/apflow-bench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# A body of BATCH records like bench/push.sh's: ~2 KB of text with accents,
# CJK and an emoji, metadata and a suggestion of ten spans.
node -e '
const n = Number(process.argv[1]);
const t = "Le navire « Élan » (IMO 9321483) arrive à 東京港 🚢 avec équipage. ".repeat(28);
const items = [];
for (let i = 0; i < n; i++)
  items.push({ external_id: "doc" + i + ":1", fields: { text: t },
    metadata: { doc_id: "doc" + i, page_num: 1, text_sha256: "a".repeat(64), labelset_version: "v1", source: "text", engine: "text",
      agreement: 0.5, min_score: 0.8, n_spans: 10 },
    suggestions: [{ value: Array.from({ length: 10 }, (_, k) => ({ label: "VESSEL_NAME", start: k * 10, end: k * 10 + 5 })),
      score: Array(10).fill(0.9), agent: "apflow-rules-v1", type: "model", question_id: "1b4e28ba-2fa1-41d2-883f-0016d3cca427" }] });
process.stdout.write(JSON.stringify({ items }));
' "$batch" >"$work/body.json"
bytes=$(stat -c %s "$work/body.json")
f() { awk "BEGIN { printf \"$1\", $2 }"; }
budget_us=$(f "%.1f" "($delay / 0.8 - $delay) * 1000 / $batch")

floor() {	# kind -> CPU us per record
	rm -f "$work/port"
	node "$top/bench/lib/echo-floor.js" "$1" "$work/port" >"$work/cpu.txt" &
	pid=$!
	for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.05; done
	local url=http://127.0.0.1:$(cat "$work/port")/api/v1/datasets/x/records/bulk
	printf "url = \"$url\"\n%.0s" $(seq 1 "$reqs") >"$work/urls"
	curl -s --no-progress-meter --parallel --parallel-max "$conc" -X PUT -H 'content-type: application/json' \
		--data-binary @"$work/body.json" -K "$work/urls" >/dev/null 2>&1
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	f "%.1f" "$(cat "$work/cpu.txt") * 1000 / ($reqs * $batch)"
}
http=$(floor http)
net=$(floor net)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo "Node echo servers: $reqs requests of $batch records ($bytes bytes), $conc in flight; load $load0 before, $load1 after"
echo "  budget for everything but the latency, at >= 0.80 of the ideal: $delay / 0.8 - $delay ms per request = $budget_us us a record"
echo "  http module: $http us of CPU a record ($(f "%.0f" "100 * $http / $budget_us")% of the budget), bare socket: $net us ($(f "%.0f" "100 * $net / $budget_us")%)"
echo "RESULT|push floor: a Node server that only echoes the bodies (http module), batch $batch x $conc|$http us a record|$budget_us us a record left by the target|$(f "%.2f" "$http / $budget_us")|-|-"
echo "RESULT|push floor: the same on a bare socket, batch $batch x $conc|$net us a record|$budget_us us a record left by the target|$(f "%.2f" "$net / $budget_us")|-|-"
