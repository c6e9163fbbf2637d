#!/usr/bin/env bash
# t0500-utf8: libFuzzer target fuzz_utf8 for a few seconds: UTF-8, offset conversions and the text normaliser (src/core/utf8.c).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run utf8
t_done
