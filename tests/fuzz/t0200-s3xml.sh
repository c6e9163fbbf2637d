#!/usr/bin/env bash
# t0200-s3xml: libFuzzer target fuzz_s3xml for a few seconds: the S3 XML answers (src/core/s3xml.c).
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run s3xml
t_done
