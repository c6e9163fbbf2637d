/*
 * jsonw.h: a streaming JSON writer, after git's json-writer.  The caller
 * opens objects and arrays, adds members and elements, and closes them;
 * the text grows in a capped apf_buf.  Front-end code prints with it, so
 * no command needs a JSON library to say what it did.
 *
 * The layout is jansson's (json_dumps), so output written before with
 * JSON_COMPACT or JSON_INDENT(n) stays byte for byte the same:
 *   indent 0: {"a":1,"b":[true,null]}
 *   indent n: members one a line, n spaces a level, ": " after keys;
 *             an empty object or array is {} or [].
 * Strings go through the one escaper, apf_json_str (apflow/json.h): valid
 * UTF-8 is copied as is; in a string that is not UTF-8 each ill-formed
 * sequence becomes U+FFFD, so the text is always valid JSON.  Doubles are
 * written in the shortest of "%.15g", "%.16g" and "%.17g" that reads back
 * as the same double (0.3, 0.30000000000000004, 0.3333333333333333), with
 * ".0" added when that reads as an integer and the exponent's '+' and
 * leading zeros dropped (1e20, 1.5e-7); NaN and the infinities, which JSON
 * cannot say, are written as null.
 *
 * Invariants: members go into objects and elements into arrays (a member
 * added to an array, or an element to an object, is a programming error
 * and fails apf_jsonw_ok()); nesting is at most APF_JSONW_MAX_DEPTH deep.
 * When the buffer's cap is reached the writer stops adding and
 * apf_jsonw_ok() says so; the text is then incomplete.
 */
#ifndef APFLOW_JSONW_H
#define APFLOW_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/buf.h"

#define APF_JSONW_MAX_DEPTH 32

struct apf_jsonw {
	struct apf_buf buf;  /* the text; NUL-terminated once anything is written */
	int indent;          /* spaces a level; 0: compact */
	int depth;           /* open containers */
	int bad;             /* misuse, too deep, or the buffer's cap reached */
	char open[APF_JSONW_MAX_DEPTH];  /* '{' or '[' for each open container */
	char empty[APF_JSONW_MAX_DEPTH]; /* 1 while that container has nothing in it */
};

/* Sets up an empty writer; cap as for apf_buf_init (0: the default). */
void apf_jsonw_init(struct apf_jsonw *jw, int indent, size_t cap);
/* Frees the text. */
void apf_jsonw_release(struct apf_jsonw *jw);
/* 1 when one whole value was written without error, else 0. */
int apf_jsonw_ok(const struct apf_jsonw *jw);

/* The top-level value, or an element of the open array. */
void apf_jsonw_object_begin(struct apf_jsonw *jw);
void apf_jsonw_array_begin(struct apf_jsonw *jw);
/* Closes the innermost open object or array. */
void apf_jsonw_end(struct apf_jsonw *jw);

/* Members of the open object.  A NULL string is written as null. */
void apf_jsonw_object_string(struct apf_jsonw *jw, const char *key, const char *value);
void apf_jsonw_object_stringn(struct apf_jsonw *jw, const char *key, const char *value, size_t n);
void apf_jsonw_object_int(struct apf_jsonw *jw, const char *key, int64_t value);
void apf_jsonw_object_double(struct apf_jsonw *jw, const char *key, double value);
void apf_jsonw_object_bool(struct apf_jsonw *jw, const char *key, int value);
void apf_jsonw_object_null(struct apf_jsonw *jw, const char *key);
/* A member whose value is an object or array, open until apf_jsonw_end(). */
void apf_jsonw_object_object(struct apf_jsonw *jw, const char *key);
void apf_jsonw_object_array(struct apf_jsonw *jw, const char *key);

/* Elements of the open array. */
void apf_jsonw_array_string(struct apf_jsonw *jw, const char *value);
void apf_jsonw_array_stringn(struct apf_jsonw *jw, const char *value, size_t n);
void apf_jsonw_array_int(struct apf_jsonw *jw, int64_t value);
void apf_jsonw_array_double(struct apf_jsonw *jw, double value);
void apf_jsonw_array_bool(struct apf_jsonw *jw, int value);
void apf_jsonw_array_null(struct apf_jsonw *jw);

/* A member or element whose value is the whole text of another writer
 * (apf_jsonw_ok, same indent; the text is indented to its place), as
 * git's jw_object_sub_jw: for values built apart, e.g. by a callback. */
void apf_jsonw_object_sub(struct apf_jsonw *jw, const char *key, const struct apf_jsonw *value);
void apf_jsonw_array_sub(struct apf_jsonw *jw, const struct apf_jsonw *value);

/* Writes value into out (at least 32 bytes) as apf_jsonw writes doubles;
 * returns out.  For the few places that print a JSON number by hand. */
char *apf_jsonw_fmt_double(char out[32], double value);

#endif
