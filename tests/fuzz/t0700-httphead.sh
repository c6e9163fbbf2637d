#!/usr/bin/env bash
# t0700-httphead: libFuzzer target fuzz_httphead for a few seconds: the request-head check the server's gate runs (src/server/httphead.c).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run httphead
t_done
