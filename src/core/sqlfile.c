/*
 * sqlfile.c: runs .sql files statement by statement (see sqlfile.h and
 * docs/internals/db.md).
 *
 * One scanner serves both the splitter and the parameter substitution, so
 * that the two agree on what is SQL text and what is inside a string or a
 * comment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/sqlfile.h"
#include "apflow/util.h"

/* A .sql file larger than this is refused; the seed's files are a few KiB. */
#define SQL_FILE_MAX ((size_t)16 << 20)

typedef int (*stmt_fn)(const char *stmt, int line, void *arg);

/* What the scanner needs to replace ${name}; NULL leaves ${...} alone. */
struct subst {
	const char *file;
	const struct apf_sql_param *params;
	size_t nparams;
	struct apf_err *err;
};

static int is_ident_char(char c)
{
	return c == '_' || c == '$' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

static int is_name_start(char c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int count_lines(const char *p, size_t n)
{
	int lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

/* Length of a dollar-quote tag at p ("$$" or "$tag$"), or 0 when p starts none. */
static size_t dollar_tag(const char *p)
{
	size_t n = 1;

	if (p[1] == '$')
		return 2;
	if (!is_name_start(p[1]))
		return 0;
	while (p[n] && p[n] != '$' && (is_name_start(p[n]) || (p[n] >= '0' && p[n] <= '9')))
		n++;
	return p[n] == '$' ? n + 1 : 0;
}

/* The end of the quoted text starting at p (just past the closing quote),
 * or the end of the text. */
static const char *skip_quoted(const char *p, char q, int backslash)
{
	for (p++; *p; p++) {
		if (backslash && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == q) {
			if (p[1] == q) { /* '' or "" is the quote itself */
				p++;
				continue;
			}
			return p + 1;
		}
	}
	return p;
}

/* The end of a block comment starting at p; they nest, as in PostgreSQL. */
static const char *skip_block_comment(const char *p)
{
	int depth = 0;

	while (*p) {
		if (p[0] == '/' && p[1] == '*') {
			depth++;
			p += 2;
		} else if (p[0] == '*' && p[1] == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return p;
}

static const struct apf_sql_param *find_param(const struct subst *sub, const char *name, size_t n)
{
	/* The last one given wins, as with repeated command-line options. */
	for (size_t i = sub->nparams; i-- > 0;)
		if (strlen(sub->params[i].name) == n && !memcmp(sub->params[i].name, name, n))
			return &sub->params[i];
	return NULL;
}

/* Replaces the ${name} at p; returns the number of bytes it took, or -1. */
static long substitute(const struct subst *sub, const char *p, int line, struct apf_buf *out)
{
	const struct apf_sql_param *param;
	const char *name = p + 2, *end = name;
	char *lit;

	while (*end && *end != '}' && *end != '\n' && end - name < 128)
		end++;
	if (*end != '}' || end == name || !is_name_start(*name)) {
		apf_error(sub->err, APF_EUSAGE, "%s:%d: bad parameter reference '%.*s': expected ${name}",
			  sub->file, line, (int)(end - p + (*end == '}')), p);
		return -1;
	}
	for (const char *c = name; c < end; c++) {
		if (!is_name_start(*c) && !(*c >= '0' && *c <= '9')) {
			apf_error(sub->err, APF_EUSAGE, "%s:%d: bad parameter name '%.*s'", sub->file, line,
				  (int)(end - name), name);
			return -1;
		}
	}
	param = find_param(sub, name, (size_t)(end - name));
	if (!param) {
		apf_error(sub->err, APF_EUSAGE, "%s:%d: unknown parameter '%.*s'", sub->file, line,
			  (int)(end - name), name);
		return -1;
	}
	lit = apf_db_quote_literal(param->value);
	if (apf_buf_adds(out, lit)) {
		free(lit);
		apf_error(sub->err, APF_ETOOBIG, "%s:%d: statement too long", sub->file, line);
		return -1;
	}
	free(lit);
	return end + 1 - p;
}

/* Ends the statement in cur: trims it and hands it to fn when it has a token. */
static int emit(struct apf_buf *cur, int *start_line, stmt_fn fn, void *arg)
{
	int rc = 0;

	if (*start_line > 0) {
		while (cur->len > 0 && is_space(cur->data[cur->len - 1]))
			cur->len--;
		if (cur->data)
			cur->data[cur->len] = '\0';
		rc = fn(cur->data ? cur->data : "", *start_line, arg);
	}
	apf_buf_reset(cur);
	*start_line = 0;
	return rc;
}

/*
 * The scanner.  Walks text once, copying each statement into a buffer
 * (leading comments and blank lines left out) and calling fn at each ';'
 * outside quotes and comments.  With sub, ${name} in SQL text is replaced.
 */
static int scan(const char *text, const struct subst *sub, stmt_fn fn, void *arg)
{
	struct apf_buf cur;
	const char *p = text;
	int line = 1, start_line = 0, rc = 0;
	int after_quote = 0; /* the last token was a '...' string */
	const char *param = NULL; /* the last token was this ${name} */

	apf_buf_init(&cur, 0);
	while (*p && !rc) {
		const char *q = p;
		int started = start_line > 0;
		int token = 1; /* does this piece start a statement? */

		if (*p == ';') {
			rc = emit(&cur, &start_line, fn, arg);
			after_quote = 0;
			param = NULL;
			p++;
			continue;
		}
		if (is_space(*p)) {
			q = p + 1;
			token = 0;
		} else if (p[0] == '-' && p[1] == '-') {
			q = p + strcspn(p, "\n");
			token = 0;
		} else if (p[0] == '/' && p[1] == '*') {
			q = skip_block_comment(p);
			token = 0;
		} else if (*p == '\'' && param) {
			/* 'value''x' would read as one string, the quote of
			 * the file's text inside the value. */
			size_t r = strcspn(param + 2, "}\n");
			rc = apf_error(sub->err, APF_EUSAGE,
				       "%s:%d: bad parameter reference '%.*s': a string cannot follow ${name}", sub->file,
				       line, (int)(2 + r + (param[2 + r] == '}')), param);
			break;
		} else if (*p == '\'') {
			/* E'...' takes backslash escapes; 'E' must start a word. */
			int e = p > text && (p[-1] == 'E' || p[-1] == 'e') &&
				(p - 1 == text || !is_ident_char(p[-2]));
			q = skip_quoted(p, '\'', e);
		} else if (*p == '"') {
			q = skip_quoted(p, '"', 0);
		} else if (*p == '$' && p[1] == '{' && sub) {
			long n;
			/* The literal must not join the token before it: E${x}
			 * makes an escape string, and so does 'a'${x} after E'a'
			 * (SQL joins adjacent quotes, and strings split only by
			 * whitespace with a newline), where a backslash in the
			 * value would escape the closing quote. */
			if ((p > text && is_ident_char(p[-1])) || after_quote) {
				const char *w = p;
				size_t r = strcspn(p + 2, "}\n");
				while (w > text && is_ident_char(w[-1]) && p - w < 32)
					w--;
				rc = apf_error(sub->err, APF_EUSAGE,
					       after_quote ? "%s:%d: bad parameter reference '%.*s': ${name} cannot follow a string"
							   : "%s:%d: bad parameter reference '%.*s': ${name} cannot follow a letter, digit, '_' or '$'",
					       sub->file, line, (int)(p - w + 2 + r + (p[2 + r] == '}')), w);
				break;
			}
			if (!started)
				start_line = line;
			n = substitute(sub, p, line, &cur);
			if (n < 0) {
				rc = sub->err ? sub->err->code : APF_EUSAGE;
				break;
			}
			/* Nor may a word stick to its end: the literal stays
			 * one token, whatever the text around it. */
			if (is_ident_char(p[n]) || (unsigned char)p[n] >= 0x80) {
				rc = apf_error(sub->err, APF_EUSAGE,
					       "%s:%d: bad parameter reference '%.*s%.*s': ${name} cannot be followed by a "
					       "letter, digit, '_' or '$'",
					       sub->file, line, (int)n, p, (int)strcspn(p + n, " \t\n;,()'\""), p + n);
				break;
			}
			param = p;
			p += n;
			/* A string or a ${name} after it would join it. */
			after_quote = 1;
			continue;
		} else if (*p == '$' && (p == text || !is_ident_char(p[-1])) && dollar_tag(p)) {
			size_t tl = dollar_tag(p);
			const char *close = p + tl;
			for (;;) {
				close = strchr(close, '$');
				if (!close || !strncmp(close, p, tl))
					break;
				close++;
			}
			q = close ? close + tl : p + strlen(p);
		} else {
			/* A run of plain SQL: up to the next character that matters. */
			q = p + 1;
			while (*q && !strchr(";'\"$-/ \t\n\r\f\v", *q))
				q++;
		}
		if (token) {
			after_quote = *p == '\'';
			param = NULL;
		}
		if (token && !started)
			start_line = line;
		if (start_line > 0 && apf_buf_add(&cur, p, (size_t)(q - p))) {
			rc = sub ? apf_error(sub->err, APF_ETOOBIG, "%s:%d: statement too long", sub->file, line)
				 : APF_ETOOBIG;
			break;
		}
		line += count_lines(p, (size_t)(q - p));
		p = q;
	}
	if (!rc)
		rc = emit(&cur, &start_line, fn, arg);
	apf_buf_release(&cur);
	return rc;
}

int apf_sql_split(const char *text, int (*fn)(const char *stmt, int line, void *arg), void *arg)
{
	return scan(text, NULL, fn, arg);
}

int apf_sql_expand(const char *name, const char *text, const struct apf_sql_param *params,
		   size_t nparams, int (*fn)(const char *stmt, int line, void *arg), void *arg,
		   struct apf_err *err)
{
	struct apf_err scratch;
	struct subst sub = { name, params, nparams, err ? err : &scratch };

	return scan(text, &sub, fn, arg);
}

/* ---- the runner ---- */

struct stmt {
	char *sql;
	int line;
};

struct stmt_list {
	struct stmt *v;
	size_t n, alloc;
};

static int collect(const char *sql, int line, void *arg)
{
	struct stmt_list *l = arg;

	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->v = apf_xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n].sql = apf_xstrdup(sql);
	l->v[l->n].line = line;
	l->n++;
	return 0;
}

static size_t digits(long n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/*
 * DuckDB points at errors with "LINE n: <text>" and a caret line below,
 * n counting from the statement's start.  Turns n into the file's line and
 * moves the caret by as many columns as the number grew.
 */
static void relocate_lines(const char *raw, int first_line, char *out, size_t size)
{
	struct apf_buf b, dedup;
	const char *p, *msg = raw;
	size_t shift = 0;
	int caret_next = 0;

	/* DuckDB's parser errors carry their "LINE n:" block twice; keep one. */
	apf_buf_init(&dedup, size);
	for (p = raw; *p;) {
		const char *end = strstr(p, "\n\n");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *next = end ? end + 2 : p + n;
		int dup = *next && !strncmp(next, p, n) && (next[n] == '\0' || !strncmp(next + n, "\n\n", 2));
		if (!dup) {
			apf_buf_add(&dedup, p, n);
			if (end)
				apf_buf_add(&dedup, "\n\n", 2);
		}
		p = next;
	}
	if (dedup.data)
		msg = dedup.data;

	apf_buf_init(&b, size);
	p = msg;
	while (*p) {
		const char *eol = p + strcspn(p, "\n");
		char *end;
		long n;

		if (!strncmp(p, "LINE ", 5) && (n = strtol(p + 5, &end, 10)) > 0 && *end == ':') {
			long file_line = n + first_line - 1;
			shift = digits(file_line) - digits(n);
			apf_buf_addf(&b, "LINE %ld", file_line);
			apf_buf_add(&b, end, (size_t)(eol - end));
			caret_next = 1;
		} else {
			if (caret_next && strspn(p, " ^") == (size_t)(eol - p))
				for (size_t i = 0; i < shift; i++)
					apf_buf_add(&b, " ", 1);
			caret_next = 0;
			apf_buf_add(&b, p, (size_t)(eol - p));
		}
		if (*eol)
			apf_buf_add(&b, "\n", 1);
		p = *eol ? eol + 1 : eol;
	}
	apf_strlcpy(out, b.data ? b.data : msg, size);
	apf_buf_release(&b);
	apf_buf_release(&dedup);
}

int apf_sql_run_text(struct apf_db *db, const char *name, const char *text,
		     const struct apf_sql_param *params, size_t nparams, int keep_last,
		     struct apf_sql_stats *stats, struct apf_err *err)
{
	struct apf_err scratch, *e = err ? err : &scratch;
	struct subst sub = { name, params, nparams, e };
	struct stmt_list list = { NULL, 0, 0 };
	struct apf_db_result *last = NULL;
	int rc = 0, ran = 0;

	if (stats) {
		stats->statements = 0;
		stats->last_result = NULL;
	}
	for (size_t i = 0; i < nparams; i++) {
		if (!apf_db_name_valid(params[i].name)) {
			rc = apf_error(e, APF_EUSAGE, "bad parameter name '%s': expected [A-Za-z_][A-Za-z0-9_]*",
				       params[i].name ? params[i].name : "");
			goto out;
		}
	}
	/* Resolve everything before running anything. */
	rc = scan(text, &sub, collect, &list);
	if (rc)
		goto out;
	for (size_t i = 0; i < nparams; i++) {
		rc = apf_db_set_variable(db, params[i].name, params[i].value, e);
		if (rc) {
			apf_error_prefix(e, "%s: cannot set variable '%s'", name, params[i].name);
			goto out;
		}
	}
	for (size_t i = 0; i < list.n; i++) {
		struct apf_db_result *r = NULL;

		rc = apf_db_query(db, list.v[i].sql, &r, e);
		if (rc) {
			char msg[APF_ERR_MSG_MAX];
			relocate_lines(e->msg, list.v[i].line, msg, sizeof(msg));
			rc = apf_error(e, APF_ESQL, "%s:%d: %s", name, list.v[i].line, msg);
			goto out;
		}
		ran++;
		if (keep_last && apf_db_result_is_query(r)) {
			apf_db_result_free(last);
			last = r;
		} else {
			apf_db_result_free(r);
		}
	}
out:
	for (size_t i = 0; i < list.n; i++)
		free(list.v[i].sql);
	free(list.v);
	if (stats)
		stats->statements = ran;
	if (rc || !stats || !keep_last)
		apf_db_result_free(last);
	else
		stats->last_result = last;
	return rc;
}

int apf_sql_run_file(struct apf_db *db, const char *path, const struct apf_sql_param *params,
		     size_t nparams, int keep_last, struct apf_sql_stats *stats, struct apf_err *err)
{
	char *text = NULL;
	int rc;

	if (stats) {
		stats->statements = 0;
		stats->last_result = NULL;
	}
	rc = apf_read_file(path, SQL_FILE_MAX, &text, NULL, err);
	if (rc)
		return rc;
	rc = apf_sql_run_text(db, path, text, params, nparams, keep_last, stats, err);
	free(text);
	return rc;
}

const struct apf_asset *apf_sql_asset_find(const char *name)
{
	return apf_asset_in(APF_SQL_DIR, name);
}
