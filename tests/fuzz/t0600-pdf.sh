#!/usr/bin/env bash
# t0600-pdf: libFuzzer target fuzz_pdf for a few seconds: the PDF text path (src/core/pdf*.c), also seeded with fuzz/gen-pdf-seeds.sh's PDFs.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/fuzz/fuzz.sh"
fuzz_run pdf "$APFLOW_TOP/build/fuzz/seeds/pdf"
t_done
