/*
 * cmd_eval.c: apflow eval: precision, recall and F1 of suggested spans
 * against a gold JSONL, per agent and label, exact-span match.
 *
 * Suggestions come from the rules engine run here on --pages, from
 * --suggestions (JSONL rows of the suggestions schema, or Parquet files
 * read through DuckDB), or from a dataset's suggestions in the store.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "apflow/buf.h"
#include "apflow/labelset.h"
#include "apflow/rules.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "cmd/cmd.h"
#include "cmd/eval_impl.h"

const char cmd_eval_usage[] =
	"usage: apflow eval --gold FILE (--pages FILE | --suggestions FILE|DIR | --dataset NAME)\n"
	"                   [--agent A] [--dump FILE]\n"
	"       apflow eval --bench --pages FILE\n"
	"       apflow eval --rules-patterns\n"
	"\n"
	"Scores suggested entity spans against gold spans: precision, recall and\n"
	"F1 per agent and label, a span counting only when start, end and label\n"
	"all match (offsets in code points).  Prints one table row per agent and\n"
	"label, a row 'ALL' per agent (micro average), and a summary line.\n"
	"\n"
	"  --gold FILE          gold JSONL: {\"doc_id\",\"page_num\",\"spans\":[{\"start\",\"end\",\"label\"}]}\n"
	"                       per page; only the pages listed there are scored\n"
	"  --pages FILE         pages JSONL ({\"doc_id\",\"page_num\",\"text\",...}): runs the rules\n"
	"                       engine (agent " APF_RULES_AGENT ") on them, and checks that every\n"
	"                       suggestion's span_text is its slice of the page text\n"
	"  --suggestions PATH   suggestion rows (the schema of PREANNOTATION_SCHEMA.md): a\n"
	"                       .jsonl file, a .parquet file, or a directory of either\n"
	"  --dataset NAME       the suggestions of dataset NAME in the store\n"
	"                       (argilla/in/NAME/suggestions/<agent>/*.parquet)\n"
	"  --agent A            score agent A only\n"
	"  --dump FILE          write the rules engine's spans as JSONL (with --pages)\n"
	"  --bench              with --pages and no --gold: time the rules engine alone\n"
	"                       (CPU of the annotating thread) and print its speed\n"
	"  --rules-patterns     print the rules' regular expressions, one a line (the\n"
	"                       set bench/preannotate.sh gives to 'rg -P -f')\n"
	"  -h, --help           show this help\n";

/* ---- the tallies ---- */

static int label_index(const char *name)
{
	return apf_labelset_find(apf_labelset_v1(), name);
}

static struct ev_agent *agent_get(struct ev_state *st, const char *name)
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
	const struct ev_page *x = a, *y = b;
	int c = strcmp(x->doc_id, y->doc_id);

	return c ? c : (x->page_num > y->page_num) - (x->page_num < y->page_num);
}

struct ev_page *ev_find_page(struct ev_state *st, const char *doc_id, long page_num)
{
	struct ev_page k = { .doc_id = (char *)doc_id, .page_num = page_num };

	if (!st->npages)
		return NULL;
	return bsearch(&k, st->pages, st->npages, sizeof(*st->pages), key_cmp);
}

static int span_cmp(const void *a, const void *b)
{
	const struct ev_span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->label - y->label;
}

void ev_add_pred(struct ev_state *st, const char *agent, struct ev_page *p, long long start,
		 long long end, int label)
{
	struct ev_agent *a = agent_get(st, agent);
	struct ev_pred *pr;

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
	const struct ev_pred *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return span_cmp(&x->s, &y->s);
}

/* Exact matches of agent a against the gold, per label. */
static void score_agent(struct ev_state *st, struct ev_agent *a, long tp[], long pred[])
{
	/* Sort the predictions by page then span; a span given twice (two
	 * copies of an agent's output) counts once, as the merge keeps one. */
	if (a->npred)
		qsort(a->pred, a->npred, sizeof(*a->pred), pred_cmp);
	for (size_t i = 0; i < a->npred; i++) {
		const struct ev_pred *pr = &a->pred[i];
		const struct ev_page *p = &st->pages[pr->page];

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
	struct ev_state *st;
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
	struct ev_state *st = g->st;
	struct ev_page *p;
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
	struct ev_state *st;
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
	struct ev_page *p;
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
	p = ev_find_page(a->st, doc, pn);
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
			json_t *row = json_pack("{s:s, s:i, s:I, s:I, s:s, s:s%, s:f}", "doc_id", doc, "page_num",
						(int)pn, "start", (json_int_t)s->start, "end", (json_int_t)s->end,
						"label", s->label, "span_text", text + bs, be - bs, "score", s->score);
			char *js = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII * 0);

			fprintf(a->dump, "%s\n", js);
			free(js);
			json_decref(row);
		}
		if (p)
			ev_add_pred(a->st, APF_RULES_AGENT, p, s->start, s->end, label_index(s->label));
	}
	if (p)
		a->scored++;
	return 0;
}

/* ---- suggestions as JSONL ---- */

struct sugg_arg {
	struct ev_state *st;
	const char *agent;
	struct apf_err *err;
};

static int sugg_line(json_t *o, const char *path, long lineno, void *arg)
{
	struct sugg_arg *a = arg;
	const char *doc, *l = json_string_value(json_object_get(o, "label"));
	const char *ag = json_string_value(json_object_get(o, "agent"));
	json_t *s = json_object_get(o, "start"), *e = json_object_get(o, "end");
	struct ev_page *p;
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
	p = ev_find_page(a->st, doc, pn);
	if (!p)
		return 0;
	if (li < 0) { /* a label outside the labelset can never match: a false positive */
		a->st->unknown_labels++;
		agent_get(a->st, ag)->unknown++;
		return 0;
	}
	ev_add_pred(a->st, ag, p, json_integer_value(s), json_integer_value(e), li);
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

static int read_suggestions(struct ev_state *st, struct apf_ctx *ctx, const char *path,
			    const char *agent, struct apf_err *err)
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
			rc = ev_read_parquet(st, ctx, path, 1, agent, err);
		return rc;
	}
	if (apf_ends_with(path, ".parquet"))
		return ev_read_parquet(st, ctx, path, 0, agent, err);
	return read_lines(path, sugg_line, &sa, err);
}

/* ---- output ---- */

static double ratio(long a, long b)
{
	return b ? (double)a / (double)b : 0.0;
}

static double f1(double p, double r)
{
	return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

static void report(struct ev_state *st)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	long gold_all = 0;

	for (size_t l = 0; l < ls->n; l++)
		gold_all += st->gold_n[l];
	printf("%-22s %-13s %6s %6s %6s %9s %7s %6s\n", "agent", "label", "gold", "pred", "tp", "precision",
	       "recall", "f1");
	for (size_t i = 0; i < st->nagents; i++) {
		struct ev_agent *a = &st->agents[i];
		long tp[64] = { 0 }, pred[64] = { 0 }, tpa = 0, preda = 0;
		double p, r;

		score_agent(st, a, tp, pred);
		for (size_t l = 0; l < ls->n; l++) {
			p = ratio(tp[l], pred[l]);
			r = ratio(tp[l], st->gold_n[l]);
			printf("%-22s %-13s %6ld %6ld %6ld %9.3f %7.3f %6.3f\n", a->name, ls->labels[l].name,
			       st->gold_n[l], pred[l], tp[l], p, r, f1(p, r));
			tpa += tp[l];
			preda += pred[l];
		}
		preda += a->unknown;
		p = ratio(tpa, preda);
		r = ratio(tpa, gold_all);
		printf("%-22s %-13s %6ld %6ld %6ld %9.3f %7.3f %6.3f\n", a->name, "ALL", gold_all, preda, tpa, p, r,
		       f1(p, r));
		a->micro_f1 = f1(p, r);
	}
}

void ev_state_release(struct ev_state *st)
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

int cmd_eval(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "gold", required_argument, NULL, 'g' },
		{ "pages", required_argument, NULL, 'p' },
		{ "suggestions", required_argument, NULL, 's' },
		{ "dataset", required_argument, NULL, 'd' },
		{ "agent", required_argument, NULL, 'a' },
		{ "dump", required_argument, NULL, 'D' },
		{ "bench", no_argument, NULL, 'B' },
		{ "rules-patterns", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *gold = NULL, *pages = NULL, *sugg = NULL, *dataset = NULL, *agent = NULL, *dump = NULL;
	struct ev_state st = { 0 };
	struct apf_err err = { 0 };
	struct gold_arg ga = { &st, &err };
	int c, rc = 0, bench = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'g': gold = optarg; break;
		case 'p': pages = optarg; break;
		case 's': sugg = optarg; break;
		case 'd': dataset = optarg; break;
		case 'a': agent = optarg; break;
		case 'D': dump = optarg; break;
		case 'B': bench = 1; break;
		case 'P':
			for (const char *const *p = apf_rules_patterns(); *p; p++)
				printf("%s\n", *p);
			return 0;
		case 'h': fputs(cmd_eval_usage, stdout); return 0;
		default: return apf_cmd_usage_error("eval", "unknown option");
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("eval", "unexpected argument '%s'", argv[optind]);
	if (bench && (gold || !pages || sugg || dataset))
		return apf_cmd_usage_error("eval", "--bench takes --pages and no --gold");
	if (!gold && !bench)
		return apf_cmd_usage_error("eval", "--gold is required");
	if (!pages && !sugg && !dataset)
		return apf_cmd_usage_error("eval", "give --pages, --suggestions or --dataset");
	if (dump && !pages)
		return apf_cmd_usage_error("eval", "--dump needs --pages");
	if (!apf_labelset_v1()) {
		apf_error(&err, APF_EINTERNAL, "labelset v1 is not compiled in");
		return apf_cmd_fail(&err);
	}

	if (gold)
		rc = read_lines(gold, gold_line, &ga, &err);
	if (rc)
		goto out;
	if (st.npages)
		qsort(st.pages, st.npages, sizeof(*st.pages), key_cmp);
	for (size_t i = 1; i < st.npages; i++)
		if (!key_cmp(&st.pages[i - 1], &st.pages[i])) {
			rc = apf_error(&err, APF_EINVAL, "cannot read '%s': page %s:%ld is listed twice", gold,
				       st.pages[i].doc_id, st.pages[i].page_num);
			goto out;
		}

	if (pages && (!agent || !strcmp(agent, APF_RULES_AGENT))) {
		struct pages_arg pa = { .st = &st, .err = &err, .bench = bench };
		struct apf_rules_opts ro = { 0 };

		agent_get(&st, APF_RULES_AGENT);
		rc = apf_rules_new(&pa.rules, &ro, &err);
		if (rc)
			goto out;
		if (dump) {
			pa.dump = fopen(dump, "w");
			if (!pa.dump) {
				rc = apf_error(&err, APF_EIO, "cannot create '%s': %s", dump, strerror(errno));
				apf_rules_free(pa.rules);
				goto out;
			}
		}
		rc = read_lines(pages, pages_line, &pa, &err);
		if (pa.dump && fclose(pa.dump) && !rc)
			rc = apf_error(&err, APF_EIO, "cannot write '%s': %s", dump, strerror(errno));
		apf_spans_release(&pa.spans);
		apf_rules_free(pa.rules);
		if (rc)
			goto out;
		st.rules_pages = pa.pages;
		st.rules_spans = pa.spans_n;
		st.rules_secs = pa.secs;
		st.rules_bytes = pa.bytes;
		if (bench) {
			printf("rules: %ld pages, %.0f bytes, %ld spans, cpu %.3f s, wall %.3f s, %.1f MB/s (cpu), %.0f pages/s (cpu)\n",
			       pa.pages, pa.bytes, pa.spans_n, pa.cpu, pa.secs,
			       pa.cpu > 0 ? pa.bytes / 1e6 / pa.cpu : 0.0, pa.cpu > 0 ? (double)pa.pages / pa.cpu : 0.0);
			goto out;
		}
		if (pa.scored < (long)st.npages)
			fprintf(stderr, "apflow eval: %ld of %zu gold pages are not in '%s'\n",
				(long)st.npages - pa.scored, st.npages, pages);
	}
	if (sugg) {
		rc = read_suggestions(&st, ctx, sugg, agent, &err);
		if (rc)
			goto out;
	}
	if (dataset) {
		rc = ev_read_dataset(&st, ctx, dataset, agent, &err);
		if (rc)
			goto out;
	}
	if (!st.nagents) {
		rc = apf_error(&err, APF_ENOTFOUND, "no suggestions%s%s%s to score", agent ? " of agent '" : "",
			       agent ? agent : "", agent ? "'" : "");
		goto out;
	}
	report(&st);
	{
		long gold_all = 0;

		for (int l = 0; l < 64; l++)
			gold_all += st.gold_n[l];
		printf("eval: %zu pages, %ld gold spans, %zu agent%s", st.npages, gold_all, st.nagents,
		       st.nagents == 1 ? "" : "s");
		for (size_t i = 0; i < st.nagents; i++)
			printf("%s %s F1 %.3f", i ? "," : ":", st.agents[i].name, st.agents[i].micro_f1);
		if (st.rules_pages)
			printf("; rules: %ld pages, %ld spans, %.1f MB/s", st.rules_pages, st.rules_spans,
			       st.rules_secs > 0 ? st.rules_bytes / 1e6 / st.rules_secs : 0.0);
		printf("\n");
	}
out:
	ev_state_release(&st);
	return rc ? apf_cmd_fail(&err) : 0;
}
