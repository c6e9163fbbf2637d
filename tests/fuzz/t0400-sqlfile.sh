#!/usr/bin/env bash
# t0400-sqlfile: libFuzzer target fuzz_sqlfile for a few seconds: the SQL file splitter and ${name} substitution (src/core/sqlfile.c).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run sqlfile
t_done
