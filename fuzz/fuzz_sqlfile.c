/*
 * fuzz_sqlfile.c: libFuzzer target for the SQL file splitter and the
 * ${name} substitution (src/core/sqlfile.c).
 *
 * Input: up to three parameter values, each ended by a 0x01 byte, then a
 * 0x00 byte, then the SQL text (without the 0x00, the whole input is SQL
 * text and there are no values).  The parameters are called a, path and
 * dataset_1.
 *
 * Checks beyond "no crash, no leak":
 *   - each statement the splitter gives is non-empty, trimmed, and starts
 *     on a line >= 1 that never goes backwards and is within the text;
 *   - splitting a statement again gives that one statement unchanged
 *     (nothing in it ends a statement early);
 *   - substitution (apf_sql_expand(), the runner's first pass) gives as
 *     many statements as the splitter, on the same lines, and each
 *     expanded statement again splits as one: a value, quoted, can never
 *     end a statement or open a comment; when it fails it names the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/err.h"
#include "apflow/sqlfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_sqlfile: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                        \
		}                                                                       \
	} while (0)

#define MAX_STMTS 4096

struct seen {
	int n;
	int lines[MAX_STMTS];
	int max_line;
	int last_line;
	int check_resplit;
};

static int count_one(const char *stmt, int line, void *arg)
{
	int *n = arg;

	(void)stmt;
	(void)line;
	(*n)++;
	return 0;
}

static int resplit_once(const char *stmt, int line, void *arg)
{
	const char *want = arg;

	CHECK(line >= 1);
	CHECK(!strcmp(stmt, want));
	return 0;
}

static int on_stmt(const char *stmt, int line, void *arg)
{
	struct seen *s = arg;
	size_t len = strlen(stmt);
	int n = 0;

	CHECK(len > 0);
	CHECK(stmt[0] != ' ' && stmt[0] != '\n' && stmt[0] != '\t' && stmt[0] != '\r');
	CHECK(stmt[len - 1] != ' ' && stmt[len - 1] != '\n' && stmt[len - 1] != '\t' && stmt[len - 1] != '\r');
	CHECK(line >= 1 && line >= s->last_line && line <= s->max_line);
	s->last_line = line;
	if (s->n < MAX_STMTS)
		s->lines[s->n] = line;
	s->n++;
	if (s->check_resplit) {
		CHECK(apf_sql_split(stmt, count_one, &n) == 0);
		if (n != 1)
			fprintf(stderr, "fuzz_sqlfile: statement at line %d splits in %d:\n%s\n", line, n, stmt);
		CHECK(n == 1);
		CHECK(apf_sql_split(stmt, resplit_once, (void *)stmt) == 0);
	}
	return 0;
}

struct expanded {
	const struct seen *plain;
	int n;
};

static int on_expanded(const char *stmt, int line, void *arg)
{
	struct expanded *e = arg;
	int n = 0;

	CHECK(e->n < e->plain->n);
	if (e->n < MAX_STMTS)
		CHECK(line == e->plain->lines[e->n]);
	e->n++;
	CHECK(apf_sql_split(stmt, count_one, &n) == 0);
	if (n != 1)
		fprintf(stderr, "fuzz_sqlfile: expanded statement at line %d splits in %d:\n%s\n", line, n, stmt);
	CHECK(n == 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *zero = memchr(data, 0, size);
	const uint8_t *p = data, *text_start = data;
	char *values[3] = { NULL, NULL, NULL }, *text;
	struct apf_sql_param params[3];
	size_t nparams = 0, text_len;
	struct seen s;
	struct apf_err err = { 0, "" };
	int rc;

	if (zero) {
		while (nparams < 3 && p < zero) {
			const uint8_t *end = memchr(p, 1, (size_t)(zero - p));
			if (!end)
				end = zero;
			values[nparams] = strndup((const char *)p, (size_t)(end - p));
			nparams++;
			p = end < zero ? end + 1 : end;
		}
		text_start = zero + 1;
	}
	text_len = size - (size_t)(text_start - data);
	text = malloc(text_len + 1);
	memcpy(text, text_start, text_len);
	text[text_len] = '\0';

	memset(&s, 0, sizeof(s));
	s.max_line = 1;
	for (size_t i = 0; i < text_len && text[i]; i++)
		s.max_line += text[i] == '\n';
	s.check_resplit = 1;
	CHECK(apf_sql_split(text, on_stmt, &s) == 0);

	static const char *names[3] = { "a", "path", "dataset_1" };
	for (size_t i = 0; i < nparams; i++) {
		params[i].name = names[i];
		params[i].value = values[i];
	}
	struct expanded e = { &s, 0 };
	rc = apf_sql_expand("fuzz.sql", text, params, nparams, on_expanded, &e, &err);
	if (rc == 0) {
		CHECK(e.n == s.n);
	} else {
		CHECK(rc == APF_EUSAGE || rc == APF_ETOOBIG);
		CHECK(!strncmp(err.msg, "fuzz.sql:", 9));
	}

	for (size_t i = 0; i < nparams; i++)
		free(values[i]);
	free(text);
	return 0;
}
