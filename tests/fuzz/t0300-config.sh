#!/usr/bin/env bash
# t0300-config: libFuzzer target fuzz_config for a few seconds: the config file parser (src/core/config.c).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run config
t_done
