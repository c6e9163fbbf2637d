#!/usr/bin/env bash
# apflow sql: output formats, parameters (getvariable and ${name}), quoting
# of hostile values, COPY TO ${out}, FILE:LINE errors and exit codes, and
# waiting for a warehouse file held by another process.
. "$(dirname "$0")/../lib.sh"

t_ok "apflow init" "$APFLOW" init

# ---- output ----
cat >t.sql <<'EOF'
-- two rows; the ; in this comment and in 'a;b' split nothing
SELECT * FROM (VALUES (1, 'a;b', 2.5, NULL, true), (10, 'héllo', -0.25, 'x,"y"', false)) t(n, s, r, z, b)
ORDER BY n;
EOF
t_ok "a table by default" "$APFLOW" sql t.sql
t_eq "aligned, numbers right, NULL shown, a row count" ' n | s     |     r | z     | b
---+-------+-------+-------+------
 1 | a;b   |  2.50 | NULL  | true
10 | héllo | -0.25 | x,"y" | false
(2 rows)' "$(cat "$T_OUT")"
t_ok "--csv" "$APFLOW" sql --csv t.sql
t_eq "CSV quotes what needs it, NULL is empty" 'n,s,r,z,b
1,a;b,2.50,,true
10,héllo,-0.25,"x,""y""",false' "$(cat "$T_OUT")"
t_ok "--json" "$APFLOW" sql t.sql --json
t_eq "JSON: numbers, strings, null, booleans" '[
 {"n":1,"s":"a;b","r":2.50,"z":null,"b":true},
 {"n":10,"s":"héllo","r":-0.25,"z":"x,\"y\"","b":false}
]' "$(cat "$T_OUT")"
printf "SELECT 'tab\there' AS t, 'two\nlines' AS l;" >ctl.sql
t_ok "control characters" "$APFLOW" sql ctl.sql
t_eq "are escaped in a table, so a row stays a line" 't         | l
----------+-----------
tab\there | two\nlines
(1 row)' "$(cat "$T_OUT")"
t_ok "from standard input" sh -c "echo 'SELECT 7 AS x WHERE false' | \"\$1\" sql - --json" sh "$APFLOW"
t_eq "an empty result is an empty array" "[]" "$(cat "$T_OUT")"
printf 'CREATE TABLE md_raw_ocr.main.quiet (i INTEGER);\nINSERT INTO md_raw_ocr.main.quiet VALUES (1);\n' >ddl.sql
t_ok "statements without rows" "$APFLOW" sql ddl.sql
t_eq "print nothing" "" "$(cat "$T_OUT")"
printf 'SELECT count(*) AS n FROM md_raw_ocr.main.quiet;\nINSERT INTO md_raw_ocr.main.quiet VALUES (2);\n' >last.sql
t_ok "the last result with rows is the one shown" "$APFLOW" sql --csv last.sql
t_eq "... not the INSERT after it" "n
1" "$(cat "$T_OUT")"

# ---- parameters ----
cat >p.sql <<'EOF'
SELECT getvariable('who') AS var,
       ${who} AS lit,
       getvariable('who') = ${who} AS same,
       getvariable('n') AS n;
EOF
t_ok "--set reaches getvariable() and \${name}" "$APFLOW" sql --csv p.sql --set "who=O'Brien" --set n=1 --set n=2
t_eq "both give the value; the last --set wins" "var,lit,same,n
O'Brien,O'Brien,true,2" "$(cat "$T_OUT")"

evil="x'); DROP TABLE md_raw_ocr.main.pages; SELECT ('"
cat >inj.sql <<'EOF'
INSERT INTO md_raw_ocr.main.ocr_runs (engine, model) VALUES (${v}, getvariable('v'));
SELECT engine = model AS same, engine FROM md_raw_ocr.main.ocr_runs;
EOF
t_ok "a hostile value" "$APFLOW" sql --csv inj.sql --set "v=$evil"
t_eq "is stored as text, both ways" "same,engine
true,$evil" "$(cat "$T_OUT")"
printf "SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = 'md_raw_ocr' AND table_name = 'pages';\n" >pages.sql
t_ok "and drops nothing" "$APFLOW" sql --csv pages.sql
t_eq "md_raw_ocr.main.pages is still there" "n
1" "$(cat "$T_OUT")"
t_ok "O'Brien; DROP TABLE as a variable" "$APFLOW" sql --csv p.sql --set "who=O'Brien; DROP TABLE md_raw_ocr.main.pages; --" --set n=0
t_eq "is just a string" "var,lit,same,n
O'Brien; DROP TABLE md_raw_ocr.main.pages; --,O'Brien; DROP TABLE md_raw_ocr.main.pages; --,true,0" "$(cat "$T_OUT")"

cat >copy.sql <<'EOF'
COPY (SELECT 42 AS answer, getvariable('label') AS label) TO ${out} (HEADER, DELIMITER ',');
EOF
t_ok "COPY ... TO \${out}" "$APFLOW" sql copy.sql --set out=result.csv --set label=x
t_eq "writes the file" "answer,label
42,x" "$(cat result.csv)"
t_ok "a target with a quote in its name" "$APFLOW" sql copy.sql --set "out=it's.csv" --set label=y
t_eq "is written where it says" "answer,label
42,y" "$(cat "it's.csv")"

cat >unknown.sql <<'EOF'
COPY (SELECT 1) TO 'ran.csv';
SELECT ${known},
       ${nope};
EOF
t_rc 2 "an unknown \${name} is a usage error" "$APFLOW" sql unknown.sql --set known=1
t_eq "naming file, line and name" "apflow: error: unknown.sql:3: unknown parameter 'nope'" "$(cat "$T_ERR")"
t_rc 1 "... found before anything ran" test -e ran.csv
t_rc 2 "--set without =" "$APFLOW" sql p.sql --set novalue
t_eq "says what it wants" "apflow sql: bad --set 'novalue': expected name=value (see 'apflow sql --help')" "$(cat "$T_ERR")"
t_rc 2 "--set with a bad name" "$APFLOW" sql p.sql --set "a-b=1"
t_eq "says what a name is" "apflow sql: bad --set name 'a-b': expected [A-Za-z_][A-Za-z0-9_]* (see 'apflow sql --help')" \
	"$(cat "$T_ERR")"
t_rc 2 "--set with no value at all" "$APFLOW" sql p.sql --set

# ---- errors ----
cat >bad.sql <<'EOF'
CREATE TABLE md_raw_ocr.main.before_error (i INTEGER);

-- the next statement starts on line 4
SELECT *
  FROM nope;
CREATE TABLE md_raw_ocr.main.after_error (i INTEGER);
EOF
t_rc 1 "a failing statement exits 1" "$APFLOW" sql bad.sql
t_eq "FILE:LINE of the statement, DuckDB's message, its LINE made a file line" \
	'apflow: error: bad.sql:4: Catalog Error: Table with name nope does not exist!
Did you mean "pg_enum"?

LINE 5:   FROM nope
               ^' "$(cat "$T_ERR")"
printf "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%%_error' ORDER BY 1;\n" >which.sql
t_ok "which statements ran" "$APFLOW" sql --csv which.sql
t_eq "those before the error, not those after" "table_name
before_error" "$(cat "$T_OUT")"
printf 'SELECT 1;\n\n\n\n\n\n\n\n\nSELEC 2;\n' >syntax.sql
t_rc 1 "a syntax error exits 1" "$APFLOW" sql syntax.sql
t_eq "reported once, at its file line" 'apflow: error: syntax.sql:10: Parser Error: syntax error at or near "SELEC"

LINE 10: SELEC 2
         ^' "$(cat "$T_ERR")"
t_rc 1 "a missing file exits 1" "$APFLOW" sql missing.sql
t_eq "naming it" "apflow: error: cannot open 'missing.sql': No such file or directory" "$(cat "$T_ERR")"
t_rc 2 "no FILE" "$APFLOW" sql
t_eq "is a usage error" "apflow sql: no FILE given (see 'apflow sql --help')" "$(cat "$T_ERR")"
t_rc 2 "two files" "$APFLOW" sql t.sql p.sql
t_rc 2 "an unknown option" "$APFLOW" sql t.sql --tsv
t_eq "names it" "apflow sql: unknown option '--tsv' (see 'apflow sql --help')" "$(cat "$T_ERR")"

# ---- another process holds the warehouse ----
# The holder runs `apflow sql` on a file whose second statement reads a FIFO:
# it keeps the warehouse open until the test writes a line into the FIFO.
mkfifo hold.fifo
cat >hold.sql <<'EOF'
COPY (SELECT 1 AS ready) TO 'ready.csv';
SELECT count(*) AS lines FROM read_csv('hold.fifo', header = false, columns = {'line': 'VARCHAR'});
EOF
release() { timeout 10 sh -c 'echo go >hold.fifo'; }
"$APFLOW" sql --csv hold.sql >holder.out 2>holder.err &
holder=$!
T_CLEANUP+=("kill $holder")
for _ in $(seq 200); do [ -f ready.csv ] && break; sleep 0.05; done
t_ok "the holder has the warehouse open" test -f ready.csv

start=$(date +%s%N)
t_rc 1 "with lock_timeout=1 another process gives up" "$APFLOW" -c lock_timeout=1 sql t.sql
ms=$((($(date +%s%N) - start) / 1000000))
cp "$T_OUT" locked.out
cp "$T_ERR" locked.err
t_ok "after waiting about a second ($ms ms)" test "$ms" -ge 1000 -a "$ms" -lt 6000
t_eq "it said it was waiting, then why it failed, naming the holder's PID" \
	"apflow: warehouse in './data' is locked; waiting up to 1.0 s
apflow: error: cannot open warehouse './data': still locked after 1.0 s: IO Error: Could not set lock on file \"./data/md_raw_ocr.duckdb\": Conflicting lock is held in PROGRAM (PID $holder). See also https://duckdb.org/docs/stable/connect/concurrency" \
	"$(sed -E 's/held in .* \(PID/held in PROGRAM (PID/' locked.err)"
t_eq "it printed nothing on stdout" "" "$(cat locked.out)"

# A process that waits long enough gets the warehouse once the holder is done.
"$APFLOW" -c lock_timeout=30 sql --csv last.sql >waiter.out 2>waiter.err &
waiter=$!
T_CLEANUP+=("kill $waiter")
for _ in $(seq 200); do grep -q waiting waiter.err 2>/dev/null && break; sleep 0.05; done
t_ok "the waiter is waiting" grep -q waiting waiter.err
t_ok "the holder is released" release
wait "$holder"
t_eq "the holder finished normally" "0" "$?"
t_eq "... with its result" "lines
1" "$(cat holder.out)"
start=$(date +%s%N)
wait "$waiter"
t_eq "the waiter succeeded" "0" "$?"
ms=$((($(date +%s%N) - start) / 1000000))
t_ok "soon after the release ($ms ms; the backoff is capped at 1 s)" test "$ms" -lt 3000
t_eq "... with its result" "n
2" "$(cat waiter.out)"
t_eq "... having said it waited" "apflow: warehouse in './data' is locked; waiting up to 30.0 s" "$(cat waiter.err)"

t_done
