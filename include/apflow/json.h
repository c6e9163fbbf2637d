/*
 * json.h: the one JSON string escaper, for JSON written by hand where
 * building jansson objects would cost too much (a million records pushed
 * to Argilla, rows printed by apflow sql --json).
 *
 * Output is RFC 8259: '"', '\\' and the control characters below U+0020
 * are escaped (\n, \r, \t by name, the others as \u00XX), everything else,
 * UTF-8 included, is copied as is.  The caller passes valid UTF-8.
 */
#ifndef APFLOW_JSON_H
#define APFLOW_JSON_H

#include <stddef.h>

#include "apflow/buf.h"

/* Appends s[0..n) to b as a JSON string, quotes included; returns 0, or -1
 * when b is full (apf_buf_add). */
int apf_json_str(struct apf_buf *b, const char *s, size_t n);

#endif
