#!/usr/bin/env bash
# apflow learn: names the SMEs marked and the rules missed become a
# versioned gazetteer file the rules read next time (F1 goes up); nothing
# is learnt from a discarded response; a second run has nothing to learn;
# a later export adds a new version holding the old names too.
. "$(dirname "$0")/../lib.sh"

D1=aaaaaaaaaaaaaaaaaaaa
P1='Vessel Zephyrine Arctica called at Kallavik for Halvorsen Brothers on 3 March 2024.'
P2='The MV Ever Given (IMO 9811000) sailed from Rotterdam, owned by Evergreen Marine Corporation.'
P3='Nordhavn Spirit moored at Kallavik.'
P4='Zephyrine Arctica left Kallavik again; Halvorsen Brothers paid the dues.'

t_ok "init" "$APFLOW" init
cat >seed.sql <<SQL
INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, text, text_sha256, chars)
SELECT '$D1', n, 1, 'mupdf', t, sha256(t), length(t)
FROM (VALUES (1, '$P1'), (2, '$P2'), (3, '$P3'), (4, '$P4')) v(n, t);
SQL
t_ok "four pages" "$APFLOW" sql seed.sql
SP='STRUCT(label VARCHAR, start BIGINT, "end" BIGINT)'
mkexport() {	# FILE ROWS (id, text, responses, users, statuses)
	cat >mk.sql <<SQL
COPY (SELECT id, text, CAST(resp AS $SP[][]) AS "entities.responses", users AS "entities.responses.users",
  st AS "entities.responses.status" FROM (VALUES $2) t(id, text, resp, users, st)) TO \${out} (FORMAT parquet);
SQL
	"$APFLOW" sql mk.sql --set out="$1" >/dev/null
}
# alice submits pages 1 and 2; bob discards page 3 with a vessel name on it.
mkexport e1.parquet "
 ('$D1:1', '$P1', [[{'label': 'VESSEL_NAME', 'start': 7, 'end': 24}, {'label': 'PORT', 'start': 35, 'end': 43},
                    {'label': 'ORGANIZATION', 'start': 48, 'end': 66}, {'label': 'DATE', 'start': 70, 'end': 82}]],
  ['alice'], ['submitted']),
 ('$D1:2', '$P2', [[{'label': 'VESSEL_NAME', 'start': 4, 'end': 17}, {'label': 'IMO_NUMBER', 'start': 23, 'end': 30},
                    {'label': 'PORT', 'start': 44, 'end': 53}, {'label': 'ORGANIZATION', 'start': 64, 'end': 92}]],
  ['alice'], ['submitted']),
 ('$D1:3', '$P3', [[{'label': 'VESSEL_NAME', 'start': 0, 'end': 15}]], ['bob'], ['discarded'])"
t_ok "the export loads" "$APFLOW" load --dataset ds1 --parquet e1.parquet

# What `apflow preannotate` (rules) finds on page 4 before and after.
pa4() {
	printf '{"doc_id":"%s","page_num":4,"text":"%s","text_sha256":"%s"}\n' "$D1" "$P4" \
		"$(printf '%s' "$P4" | sha256sum | cut -c1-64)" |
		"$APFLOW" preannotate --stdin-jsonl 2>/dev/null |
		node -e 'require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean).forEach((l) => { const s = JSON.parse(l); console.log(`${s.label} ${s.start} ${s.end} ${s.span_text}`); })'
}
t_eq "before: preannotate finds none of the names on page 4" "" "$(pa4)"

t_ok "--dry-run" "$APFLOW" learn --dataset ds1 --dry-run
t_eq "says what it would learn and the F1 now" "would write VESSEL_NAME.v1.txt: +1 name (1 in all): 'Zephyrine Arctica'
would write PORT.v1.txt: +1 name (1 in all): 'Kallavik'
would write ORGANIZATION.v1.txt: +1 name (1 in all): 'Halvorsen Brothers'
rules F1 against 8 submitted spans on 2 pages of 'ds1': before 0.769 (P 1.000 R 0.625)" "$(cat "$T_OUT")"
t_ok "and writes nothing" test ! -e data/gazetteers

t_ok "learn" "$APFLOW" learn --dataset ds1
t_eq "learns the three names; F1 goes up" "wrote VESSEL_NAME.v1.txt: +1 name (1 in all): 'Zephyrine Arctica'
wrote PORT.v1.txt: +1 name (1 in all): 'Kallavik'
wrote ORGANIZATION.v1.txt: +1 name (1 in all): 'Halvorsen Brothers'
rules F1 against 8 submitted spans on 2 pages of 'ds1': before 0.769 (P 1.000 R 0.625), after 1.000 (P 1.000 R 1.000)" "$(cat "$T_OUT")"
t_eq "the files, one name a line after '#' comments" "Zephyrine Arctica
Kallavik
Halvorsen Brothers" "$(grep -hv '^#' data/gazetteers/VESSEL_NAME.v1.txt data/gazetteers/PORT.v1.txt data/gazetteers/ORGANIZATION.v1.txt)"
t_match "with where they came from" "^# VESSEL_NAME gazetteer v1, learnt by 'apflow learn' on 20[0-9-]+T[0-9:]+Z
# from dataset 'ds1': 1 names, 1 new" "$(cat data/gazetteers/VESSEL_NAME.v1.txt)"
t_nomatch "nothing learnt from the discarded response" "Nordhavn" "$(cat data/gazetteers/*.txt)"
t_eq "the next preannotate finds them on page 4, which nobody annotated" "VESSEL_NAME 0 17 Zephyrine Arctica
PORT 23 31 Kallavik
ORGANIZATION 39 57 Halvorsen Brothers" "$(pa4)"

t_ok "learn again" "$APFLOW" learn --dataset ds1 --json
t_match "the rules read the files: F1 is 1.0 before, nothing new" '"before":\{"f1":1\.0,.*"learnt":\[\]' "$(cat "$T_OUT")"
t_eq "no second version" "ORGANIZATION.v1.txt PORT.v1.txt VESSEL_NAME.v1.txt" "$(ls data/gazetteers | tr '\n' ' ' | sed 's/ $//')"

# The next export: bob submits page 3 and 4; the rules already know
# Zephyrine Arctica and Kallavik, not Nordhavn Spirit.
mkexport e2.parquet "
 ('$D1:1', '$P1', [[{'label': 'VESSEL_NAME', 'start': 7, 'end': 24}, {'label': 'PORT', 'start': 35, 'end': 43},
                    {'label': 'ORGANIZATION', 'start': 48, 'end': 66}, {'label': 'DATE', 'start': 70, 'end': 82}]],
  ['alice'], ['submitted']),
 ('$D1:3', '$P3', [[{'label': 'VESSEL_NAME', 'start': 0, 'end': 15}, {'label': 'PORT', 'start': 26, 'end': 34}]], ['bob'], ['submitted']),
 ('$D1:4', '$P4', [[{'label': 'VESSEL_NAME', 'start': 0, 'end': 17}, {'label': 'PORT', 'start': 23, 'end': 31},
                    {'label': 'ORGANIZATION', 'start': 39, 'end': 57}]], ['bob'], ['submitted'])"
t_ok "a second export loads" "$APFLOW" load --dataset ds1 --parquet e2.parquet
t_ok "learn from it" "$APFLOW" learn --dataset ds1
t_match "a new version with the new name" "^wrote VESSEL_NAME.v2.txt: \+1 name \(2 in all\): 'Nordhavn Spirit'
rules F1 against 9 submitted spans on 3 pages of 'ds1': before 0.941 \(P 1.000 R 0.889\), after 1.000" "$(cat "$T_OUT")"
t_eq "v2 holds v1's names too" "Nordhavn Spirit
Zephyrine Arctica" "$(grep -v '^#' data/gazetteers/VESSEL_NAME.v2.txt)"

t_rc 2 "--dataset is required" "$APFLOW" learn
t_rc 2 "a label outside the labelset" "$APFLOW" learn --dataset ds1 --label SHIP
t_done
