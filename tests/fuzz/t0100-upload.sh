#!/usr/bin/env bash
# t0100-upload: libFuzzer target fuzz_upload for a few seconds: POST /upload through libmicrohttpd: Content-Type, multipart, X-Filename, filename sanitizer.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run upload
t_done
