/*
 * eval.c: scoring suggested spans against gold spans (apflow/eval.h).
 *
 * Suggestions come from the rules engine run here on a pages JSONL, from
 * suggestion rows (JSONL, or Parquet read through DuckDB), or from a
 * dataset's suggestions in the store.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/eval.h"
#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/rules.h"
#include "apflow/store.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/banned.h" /* last: after every system header */

/* Suggestion rows from a Parquet file, or every *.parquet under a
 * directory (recursively), through DuckDB. */
static int read_parquet(struct apf_eval *st, const char *path, int is_dir, const char *agent, struct apf_err *err);

/* ---- the tallies ---- */

static int label_index(const char *name)
{
	return apf_labelset_find(apf_labelset_v1(), name);
}

static struct apf_eval_agent *agent_get(struct apf_eval *st, const char *name)
{
	for (size_t i = 0; i < st->nagents; i++)
		if (!strcmp(st->agents[i].name, name))
			return &st->agents[i];
	st->agents = apf_xrealloc(st->agents, (st->nagents + 1) * sizeof(*st->agents));
	memset(&st->agents[st->nagents], 0, sizeof(st->agents[0]));
	st->agents[st->nagents].name = apf_xstrdup(name);
	return &st->agents[st->nagents++];
}

static int key_cmp(const void *a, const void *b)
{
	const struct apf_eval_page *x = a, *y = b;
	int c = strcmp(x->doc_id, y->doc_id);

	return c ? c : (x->page_num > y->page_num) - (x->page_num < y->page_num);
}

static struct apf_eval_page *find_page(struct apf_eval *st, const char *doc_id, long page_num)
{
	struct apf_eval_page k = { .doc_id = (char *)doc_id, .page_num = page_num };

	if (!st->npages)
		return NULL;
	return bsearch(&k, st->pages, st->npages, sizeof(*st->pages), key_cmp);
}

static int span_cmp(const void *a, const void *b)
{
	const struct apf_eval_span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->label - y->label;
}

static void add_pred(struct apf_eval *st, const char *agent, struct apf_eval_page *p, long long start,
		 long long end, int label)
{
	struct apf_eval_agent *a = agent_get(st, agent);
	struct apf_eval_pred *pr;

	if (a->npred == a->apred) {
		a->apred = a->apred ? a->apred * 2 : 1024;
		a->pred = apf_xrealloc(a->pred, a->apred * sizeof(*a->pred));
	}
	pr = &a->pred[a->npred++];
	pr->page = (size_t)(p - st->pages);
	pr->s.start = start;
	pr->s.end = end;
	pr->s.label = label;
}

static int pred_cmp(const void *a, const void *b)
{
	const struct apf_eval_pred *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return span_cmp(&x->s, &y->s);
}

/* Exact matches of agent a against the gold, per label. */
void apf_eval_score_agent(struct apf_eval *st, struct apf_eval_agent *a, long tp[], long pred[])
{
	/* Sort the predictions by page then span; a span given twice (two
	 * copies of an agent's output) counts once, as the merge keeps one. */
	if (a->npred)
		qsort(a->pred, a->npred, sizeof(*a->pred), pred_cmp);
	for (size_t i = 0; i < a->npred; i++) {
		const struct apf_eval_pred *pr = &a->pred[i];
		const struct apf_eval_page *p = &st->pages[pr->page];

		if (i && !pred_cmp(pr, pr - 1))
			continue;
		pred[pr->s.label]++;

		if (bsearch(&pr->s, p->gold, p->ngold, sizeof(*p->gold), span_cmp))
			tp[pr->s.label]++;
	}
}

/* ---- reading the gold ---- */

static int read_lines(const char *path, int (*fn)(json_t *, const char *, long, void *), void *arg,
		      struct apf_err *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	if (!f)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		json_error_t je;
		json_t *o;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		o = json_loadb(line, (size_t)n, 0, &je);
		if (!json_is_object(o)) {
			rc = apf_error(err, APF_EINVAL, "cannot read '%s' line %ld: not a JSON object%s%s", path,
				       lineno, o ? "" : ": ", o ? "" : je.text);
		} else {
			rc = fn(o, path, lineno, arg);
		}
		json_decref(o);
	}
	free(line);
	if (!rc && ferror(f))
		rc = apf_error(err, APF_EIO, "cannot read '%s': %s", path, strerror(errno));
	fclose(f);
	return rc;
}

struct gold_arg {
	struct apf_eval *st;
	struct apf_err *err;
};

static int page_key(json_t *o, const char *path, long lineno, const char **doc, long *pn,
		    struct apf_err *err)
{
	json_t *d = json_object_get(o, "doc_id"), *p = json_object_get(o, "page_num");

	if (!json_is_string(d) || !json_is_integer(p))
		return apf_error(err, APF_EINVAL, "cannot read '%s' line %ld: needs doc_id (string) and page_num (integer)",
				 path, lineno);
	*doc = json_string_value(d);
	*pn = (long)json_integer_value(p);
	return 0;
}

static int gold_line(json_t *o, const char *path, long lineno, void *arg)
{
	struct gold_arg *g = arg;
	struct apf_eval *st = g->st;
	struct apf_eval_page *p;
	json_t *spans = json_object_get(o, "spans"), *sp;
	const char *doc;
	long pn;
	size_t i;
	int rc = page_key(o, path, lineno, &doc, &pn, g->err);

	if (rc)
		return rc;
	if (!json_is_array(spans))
		return apf_error(g->err, APF_EINVAL, "cannot read '%s' line %ld: needs a spans array", path, lineno);
	st->pages = apf_xrealloc(st->pages, (st->npages + 1) * sizeof(*st->pages));
	p = &st->pages[st->npages++];
	memset(p, 0, sizeof(*p));
	p->doc_id = apf_xstrdup(doc);
	p->page_num = pn;
	p->gold = apf_xcalloc(json_array_size(spans) + 1, sizeof(*p->gold));
	json_array_foreach(spans, i, sp) {
		json_t *s = json_object_get(sp, "start"), *e = json_object_get(sp, "end");
		const char *l = json_string_value(json_object_get(sp, "label"));
		int li = l ? label_index(l) : -1;

		if (!json_is_integer(s) || !json_is_integer(e) || li < 0 ||
		    json_integer_value(s) < 0 || json_integer_value(e) <= json_integer_value(s))
			return apf_error(g->err, APF_EINVAL,
					 "cannot read '%s' line %ld: span %zu needs start < end and a label of labelset v1",
					 path, lineno, i);
		p->gold[p->ngold].start = json_integer_value(s);
		p->gold[p->ngold].end = json_integer_value(e);
		p->gold[p->ngold].label = li;
		p->ngold++;
		st->gold_n[li]++;
	}
	qsort(p->gold, p->ngold, sizeof(*p->gold), span_cmp);
	return 0;
}

/* ---- the rules engine on --pages ---- */

struct pages_arg {
	struct apf_eval *st;
	struct apf_rules *rules;
	struct apf_spans spans;
	struct apf_buf slice;
	FILE *dump;
	struct apf_err *err;
	long pages, spans_n, scored;
	double secs, cpu, bytes;
	int bench; /* time only: no slices checked, nothing scored */
};

static double secs_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int pages_line(json_t *o, const char *path, long lineno, void *arg)
{
	struct pages_arg *a = arg;
	json_t *tj = json_object_get(o, "text");
	const char *doc, *text;
	size_t len;
	long pn;
	struct apf_eval_page *p;
	struct timespec t0, t1, c0, c1;
	int rc = page_key(o, path, lineno, &doc, &pn, a->err);

	if (rc)
		return rc;
	if (!json_is_string(tj))
		return apf_error(a->err, APF_EINVAL, "cannot read '%s' line %ld: needs text (string)", path, lineno);
	text = json_string_value(tj);
	len = json_string_length(tj);
	a->spans.n = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	rc = apf_rules_annotate(a->rules, text, len, &a->spans, a->err);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc)
		return apf_error_prefix(a->err, "'%s' line %ld", path, lineno);
	a->secs += secs_between(&t0, &t1);
	a->cpu += secs_between(&c0, &c1);
	a->bytes += (double)len;
	a->pages++;
	a->spans_n += (long)a->spans.n;
	p = find_page(a->st, doc, pn);
	for (size_t i = 0; i < a->spans.n; i++) {
		const struct apf_span *s = &a->spans.v[i];
		size_t bs, be;

		if (a->bench)
			continue;
		/* The slice of the text at the span's code points: what span_text
		 * will hold; a span off a boundary fails here. */
		if (apf_utf8_cp_to_byte(text, len, (size_t)s->start, &bs) ||
		    apf_utf8_cp_to_byte(text, len, (size_t)s->end, &be) || be <= bs)
			return apf_error(a->err, APF_EINTERNAL, "span %lld-%lld of '%s' line %ld is not in the text",
					 (long long)s->start, (long long)s->end, path, lineno);
		if (a->dump) {
			struct apf_jsonw jw;

			apf_jsonw_init(&jw, 0, 0);
			apf_jsonw_object_begin(&jw);
			apf_jsonw_object_string(&jw, "doc_id", doc);
			apf_jsonw_object_int(&jw, "page_num", (int)pn);
			apf_jsonw_object_int(&jw, "start", s->start);
			apf_jsonw_object_int(&jw, "end", s->end);
			apf_jsonw_object_string(&jw, "label", s->label);
			apf_jsonw_object_stringn(&jw, "span_text", text + bs, be - bs);
			apf_jsonw_object_double(&jw, "score", s->score);
			apf_jsonw_end(&jw);
			fprintf(a->dump, "%s\n", jw.buf.data);
			apf_jsonw_release(&jw);
		}
		if (p)
			add_pred(a->st, APF_RULES_AGENT, p, s->start, s->end, label_index(s->label));
	}
	if (p)
		a->scored++;
	return 0;
}

/* ---- suggestions as JSONL ---- */

struct sugg_arg {
	struct apf_eval *st;
	const char *agent;
	struct apf_err *err;
};

static int sugg_line(json_t *o, const char *path, long lineno, void *arg)
{
	struct sugg_arg *a = arg;
	const char *doc, *l = json_string_value(json_object_get(o, "label"));
	const char *ag = json_string_value(json_object_get(o, "agent"));
	json_t *s = json_object_get(o, "start"), *e = json_object_get(o, "end");
	struct apf_eval_page *p;
	long pn;
	int rc = page_key(o, path, lineno, &doc, &pn, a->err), li;

	if (rc)
		return rc;
	if (!ag || !l || !json_is_integer(s) || !json_is_integer(e))
		return apf_error(a->err, APF_EINVAL,
				 "cannot read '%s' line %ld: a suggestion needs agent, label, start and end", path, lineno);
	if (a->agent && strcmp(a->agent, ag))
		return 0;
	li = label_index(l);
	p = find_page(a->st, doc, pn);
	if (!p)
		return 0;
	if (li < 0) { /* a label outside the labelset can never match: a false positive */
		a->st->unknown_labels++;
		agent_get(a->st, ag)->unknown++;
		return 0;
	}
	add_pred(a->st, ag, p, json_integer_value(s), json_integer_value(e), li);
	return 0;
}

/* Whether a .parquet file lies under dir (agents' directories, a few levels). */
static int has_parquet(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char *sub;
		struct stat sb;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		if (apf_ends_with(de->d_name, ".parquet")) {
			found = 1;
			break;
		}
		if (depth >= 3)
			continue;
		sub = apf_xasprintf("%s/%s", dir, de->d_name);
		if (!stat(sub, &sb) && S_ISDIR(sb.st_mode))
			found = has_parquet(sub, depth + 1);
		free(sub);
	}
	closedir(d);
	return found;
}

int apf_eval_read_suggestions(struct apf_eval *st, const char *path, const char *agent, struct apf_err *err)
{
	struct sugg_arg sa = { st, agent, err };
	struct stat sb;
	int rc = 0;

	if (stat(path, &sb))
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;
		int parquet = 0;

		if (!d)
			return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
		while ((de = readdir(d))) {
			if (apf_ends_with(de->d_name, ".jsonl")) {
				names = apf_xrealloc(names, (n + 1) * sizeof(*names));
				names[n++] = apf_xasprintf("%s/%s", path, de->d_name);
			}
		}
		closedir(d);
		parquet = has_parquet(path, 0);
		for (size_t i = 0; i < n; i++) {
			if (!rc)
				rc = read_lines(names[i], sugg_line, &sa, err);
			free(names[i]);
		}
		free(names);
		if (!rc && parquet)
			rc = read_parquet(st, path, 1, agent, err);
		return rc;
	}
	if (apf_ends_with(path, ".parquet"))
		return read_parquet(st, path, 0, agent, err);
	return read_lines(path, sugg_line, &sa, err);
}

static int read_parquet(struct apf_eval *st, const char *path, int is_dir, const char *agent, struct apf_err *err)
{
	struct apf_db *db = NULL;
	struct apf_db_stmt *stmt = NULL;
	struct apf_db_result *res = NULL;
	char *glob = is_dir ? apf_xasprintf("%s/**/*.parquet", path) : apf_xstrdup(path);
	char *lit = apf_db_quote_literal(glob), *sql;
	int rc;

	/* The path is quoted by the one literal helper: DuckDB takes no
	 * parameter in a table function's arguments here. */
	/* A directory's _pages/ lists (PREANNOTATION_SCHEMA.md) are not spans. */
	sql = apf_xasprintf("SELECT doc_id, page_num, label, \"start\", \"end\", agent "
			    "FROM read_parquet(%s, union_by_name => true, filename => true) "
			    "WHERE ($1::VARCHAR IS NULL OR agent = $1) AND NOT regexp_matches(filename, '/_[^/]*/')",
			    lit);
	rc = apf_db_open_memory(&db, err);
	if (!rc)
		rc = apf_db_prepare(db, sql, &stmt, err);
	if (!rc) {
		apf_db_bind_text(stmt, 1, agent);
		rc = apf_db_stmt_exec(stmt, &res, err);
	}
	if (rc) {
		apf_error_prefix(err, "cannot read suggestions '%s'", path);
		goto out;
	}
	for (uint64_t i = 0; i < apf_db_result_rows(res); i++) {
		char *doc = apf_db_result_text(res, 0, i), *label = apf_db_result_text(res, 2, i);
		char *ag = apf_db_result_text(res, 5, i);
		struct apf_eval_page *p = doc ? find_page(st, doc, (long)apf_db_result_i64(res, 1, i)) : NULL;
		int li = label ? apf_labelset_find(apf_labelset_v1(), label) : -1;

		if (p && ag) {
			if (li >= 0)
				add_pred(st, ag, p, apf_db_result_i64(res, 3, i), apf_db_result_i64(res, 4, i), li);
			else
				st->unknown_labels++;
		}
		free(doc);
		free(label);
		free(ag);
	}
out:
	apf_db_result_free(res);
	apf_db_stmt_free(stmt);
	apf_db_close(db);
	free(sql);
	free(lit);
	free(glob);
	return rc;
}

struct list_arg {
	struct apf_store *store;
	const char *dir;
	int n;
	struct apf_err *err;
};

static int fetch_one(const struct apf_store_stat *s, void *arg)
{
	struct list_arg *a = arg;
	char *path;
	int rc;

	if (!apf_ends_with(s->key, ".parquet") || strstr(s->key, "/_"))
		return 0; /* _pages/ lists the pages processed, not spans */
	path = apf_xasprintf("%s/%d.parquet", a->dir, a->n++);
	rc = apf_store_get_file(a->store, s->key, path, a->err);
	free(path);
	return rc;
}

int apf_eval_read_dataset(struct apf_eval *st, const struct apf_config *cfg, const char *dataset, const char *agent,
			  struct apf_err *err)
{
	struct apf_store *store = NULL;
	char tmpl[] = "/tmp/apflow-eval-XXXXXX";
	char *prefix = NULL, *dir = NULL;
	struct list_arg la = { 0 };
	int rc;

	if (!apf_db_name_valid(dataset))
		return apf_error(err, APF_EUSAGE, "invalid dataset name '%s'", dataset);
	rc = apf_store_open(cfg, &store, err);
	if (rc)
		return rc;
	dir = mkdtemp(tmpl);
	if (!dir) {
		rc = apf_error(err, APF_EIO, "cannot create a temporary directory: %s", strerror(errno));
		goto out;
	}
	prefix = apf_xasprintf("argilla/in/%s/suggestions/", dataset);
	la.store = store;
	la.dir = dir;
	la.err = err;
	rc = apf_store_list(store, prefix, fetch_one, &la, err);
	if (!rc && !la.n)
		rc = apf_error(err, APF_ENOTFOUND, "no suggestions under '%s' in the store", prefix);
	if (!rc)
		rc = read_parquet(st, dir, 1, agent, err);
out:
	if (dir) {
		for (int i = 0; i < la.n; i++) {
			char *p = apf_xasprintf("%s/%d.parquet", dir, i);

			unlink(p);
			free(p);
		}
		rmdir(dir);
	}
	free(prefix);
	apf_store_free(store);
	return rc;
}
void apf_eval_release(struct apf_eval *st)
{
	for (size_t i = 0; i < st->npages; i++) {
		free(st->pages[i].doc_id);
		free(st->pages[i].gold);
	}
	free(st->pages);
	for (size_t i = 0; i < st->nagents; i++) {
		free(st->agents[i].name);
		free(st->agents[i].pred);
	}
	free(st->agents);
}


int apf_eval_read_gold(struct apf_eval *st, const char *path, struct apf_err *err)
{
	struct gold_arg ga = { st, err };
	int rc = read_lines(path, gold_line, &ga, err);

	if (rc)
		return rc;
	if (st->npages)
		qsort(st->pages, st->npages, sizeof(*st->pages), key_cmp);
	for (size_t i = 1; i < st->npages; i++)
		if (!key_cmp(&st->pages[i - 1], &st->pages[i]))
			return apf_error(err, APF_EINVAL, "cannot read '%s': page %s:%ld is listed twice", path,
					 st->pages[i].doc_id, st->pages[i].page_num);
	return 0;
}

int apf_eval_rules(struct apf_eval *st, const char *pages, const char *dump, int bench,
		   struct apf_eval_rules_stats *stats, struct apf_err *err)
{
	struct pages_arg pa = { .st = st, .err = err, .bench = bench };
	struct apf_rules_opts ro = { 0 };
	int rc;

	agent_get(st, APF_RULES_AGENT);
	rc = apf_rules_new(&pa.rules, &ro, err);
	if (rc)
		return rc;
	if (dump) {
		pa.dump = fopen(dump, "w");
		if (!pa.dump) {
			rc = apf_error(err, APF_EIO, "cannot create '%s': %s", dump, strerror(errno));
			apf_rules_free(pa.rules);
			return rc;
		}
	}
	rc = read_lines(pages, pages_line, &pa, err);
	if (pa.dump && fclose(pa.dump) && !rc)
		rc = apf_error(err, APF_EIO, "cannot write '%s': %s", dump, strerror(errno));
	apf_spans_release(&pa.spans);
	apf_rules_free(pa.rules);
	if (rc)
		return rc;
	memset(stats, 0, sizeof(*stats));
	stats->pages = pa.pages;
	stats->spans = pa.spans_n;
	stats->scored = pa.scored;
	stats->secs = pa.secs;
	stats->cpu = pa.cpu;
	stats->bytes = pa.bytes;
	return 0;
}
