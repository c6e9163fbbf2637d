#!/usr/bin/env bash
# t0800-sugg: libFuzzer target fuzz_sugg for a few seconds: push's reader of suggestions_json (src/core/argilla_sugg.c) against Jansson.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run sugg
t_done
