/*
 * learn.c: gazetteers learnt from the SMEs' annotations (apflow/learn.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apflow/annotated.h"
#include "apflow/buf.h"
#include "apflow/db.h"
#include "apflow/labelset.h"
#include "apflow/learn.h"
#include "apflow/rules.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/banned.h" /* last: after every system header */

#define NAME_MAX_BYTES 128

struct gold {
	int64_t start, end;
	const char *label; /* static (labelset) */
	char *text;
};

struct page {
	char *doc_id;
	int64_t page_num;
	char *text;
	struct gold *g;
	size_t ng;
};

struct pages {
	struct page *v;
	size_t n;
};

double apf_learn_f1(const struct apf_learn_score *s)
{
	return s->tp ? 2.0 * (double)s->tp / (double)(2 * s->tp + s->fp + s->fn) : 0.0;
}

double apf_learn_precision(const struct apf_learn_score *s)
{
	return s->tp + s->fp ? (double)s->tp / (double)(s->tp + s->fp) : 0.0;
}

double apf_learn_recall(const struct apf_learn_score *s)
{
	return s->tp + s->fn ? (double)s->tp / (double)(s->tp + s->fn) : 0.0;
}

static void pages_release(struct pages *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		for (size_t j = 0; j < ps->v[i].ng; j++)
			free(ps->v[i].g[j].text);
		free(ps->v[i].g);
		free(ps->v[i].doc_id);
		free(ps->v[i].text);
	}
	free(ps->v);
}

/* The submitted spans of the dataset's latest export, on text that is a
 * page's text in md_raw_ocr, grouped by page (every page with a submitted
 * response, even with no span). */
static int read_gold(struct apf_db *db, const char *dataset, struct pages *out, struct apf_err *err)
{
	static const char sql[] =
		"WITH p AS ("
		"  SELECT DISTINCT a.doc_id, a.page_num, t.text"
		"  FROM md_annotated.main.vw_annotations_latest_pages AS a"
		"  JOIN (SELECT DISTINCT doc_id, page_num, text_sha256, text FROM md_raw_ocr.main.pages) AS t"
		"    USING (doc_id, page_num, text_sha256)"
		"  WHERE a.argilla_dataset = $1 AND a.status = 'submitted'"
		"), s AS ("
		"  SELECT DISTINCT doc_id, page_num, start, \"end\", label, span_text"
		"  FROM md_annotated.main.vw_annotations_latest_spans"
		"  WHERE argilla_dataset = $1 AND status = 'submitted'"
		")"
		"SELECT p.doc_id, p.page_num, p.text, s.start, s.\"end\", s.label, s.span_text"
		" FROM p LEFT JOIN s USING (doc_id, page_num)"
		" ORDER BY p.doc_id, p.page_num, s.start, s.\"end\", s.label";
	const struct apf_labelset *ls = apf_labelset_v1();
	struct apf_db_stmt *st = NULL;
	struct apf_db_result *r = NULL;
	struct pages ps = { NULL, 0 };
	int rc;

	rc = apf_db_prepare(db, sql, &st, err);
	if (!rc) {
		apf_db_bind_text(st, 1, dataset);
		rc = apf_db_stmt_exec(st, &r, err);
	}
	apf_db_stmt_free(st);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < apf_db_result_rows(r); i++) {
		char *doc = apf_db_result_text(r, 0, i);
		int64_t pn = apf_db_result_i64(r, 1, i);
		struct page *pg = ps.n ? &ps.v[ps.n - 1] : NULL;

		if (!pg || strcmp(pg->doc_id, doc) || pg->page_num != pn) {
			ps.v = apf_xrealloc(ps.v, (ps.n + 1) * sizeof(*ps.v));
			pg = &ps.v[ps.n++];
			memset(pg, 0, sizeof(*pg));
			pg->doc_id = doc;
			pg->page_num = pn;
			pg->text = apf_db_result_text(r, 2, i);
		} else {
			free(doc);
		}
		if (apf_db_result_is_null(r, 3, i))
			continue;
		char *label = apf_db_result_text(r, 5, i);
		int li = label ? apf_labelset_find(ls, label) : -1;
		free(label);
		if (li < 0)
			continue; /* apflow check reports it; it cannot be scored */
		pg->g = apf_xrealloc(pg->g, (pg->ng + 1) * sizeof(*pg->g));
		pg->g[pg->ng++] = (struct gold){ apf_db_result_i64(r, 3, i), apf_db_result_i64(r, 4, i),
						 ls->labels[li].name, apf_db_result_text(r, 6, i) };
	}
	apf_db_result_free(r);
	*out = ps;
	return 0;
}

/* The progress of the rules' passes over the pages. */
struct prog {
	const struct apf_learn_options *opt;
	uint64_t done, total;
};

static int gold_has(const struct page *pg, const struct apf_span *s)
{
	for (size_t j = 0; j < pg->ng; j++)
		if (pg->g[j].start == s->start && pg->g[j].end == s->end && !strcmp(pg->g[j].label, s->label))
			return 1;
	return 0;
}

static int found_by(const struct apf_spans *sp, const struct gold *g)
{
	for (size_t k = 0; k < sp->n; k++)
		if (sp->v[k].start == g->start && sp->v[k].end == g->end && !strcmp(sp->v[k].label, g->label))
			return 1;
	return 0;
}

/*
 * Runs the rules (bundled gazetteers and those in dir) on every page and
 * scores them; when missed is not NULL, sets missed[p][j] for each gold
 * span the rules did not find.
 */
static int score_rules(const struct pages *ps, const char *dir, struct apf_learn_score *sc, unsigned char **missed,
		       struct prog *pr, struct apf_err *err)
{
	struct apf_rules_opts opts = { dir };
	struct apf_rules *rules = NULL;
	int rc = apf_rules_new(&rules, &opts, err);

	memset(sc, 0, sizeof(*sc));
	for (size_t i = 0; !rc && i < ps->n; i++) {
		const struct page *pg = &ps->v[i];
		struct apf_spans sp = { NULL, 0, 0 };

		if (pr->opt->progress)
			pr->opt->progress(pr->opt->progress_arg, ++pr->done, pr->total);
		rc = apf_rules_annotate(rules, pg->text, strlen(pg->text), &sp, err);
		if (rc) {
			apf_error_prefix(err, "rules on page '%s:%" PRId64 "'", pg->doc_id, pg->page_num);
			apf_spans_release(&sp);
			break;
		}
		for (size_t k = 0; k < sp.n; k++) {
			if (gold_has(pg, &sp.v[k]))
				sc->tp++;
			else
				sc->fp++;
		}
		for (size_t j = 0; j < pg->ng; j++) {
			int hit = found_by(&sp, &pg->g[j]);
			if (!hit)
				sc->fn++;
			if (missed)
				missed[i][j] = !hit;
		}
		apf_spans_release(&sp);
	}
	apf_rules_free(rules);
	return rc;
}

struct names {
	char **v;
	size_t n;
};

static int names_has(const struct names *ns, const char *s)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i], s))
			return 1;
	return 0;
}

static void names_add(struct names *ns, const char *s)
{
	if (names_has(ns, s))
		return;
	ns->v = apf_xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n++] = apf_xstrdup(s);
}

static void names_release(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A span's text fit for a gazetteer: one line, 2+ characters, not a
 * comment, not blank at either end, at most NAME_MAX_BYTES. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_BYTES || s[0] == '#' || strchr(s, '\n') || strchr(s, '\r'))
		return 0;
	if (s[0] == ' ' || s[n - 1] == ' ' || apf_utf8_validate(s, n, NULL))
		return 0;
	return apf_utf8_count(s, n) >= 2;
}

/* The highest N of <dir>/<label>.v<N>.txt, or 0 when there is none. */
static long latest_version(const char *dir, const char *label)
{
	size_t ln = strlen(label);
	long best = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		char *end;
		long v;
		if (strncmp(nm, label, ln) || strncmp(nm + ln, ".v", 2))
			continue;
		v = strtol(nm + ln + 2, &end, 10);
		if (end != nm + ln + 2 && !strcmp(end, ".txt") && v > best)
			best = v;
	}
	closedir(d);
	return best;
}

/* Reads the names of a gazetteer file (one a line, '#' comments). */
static int read_names(const char *path, struct names *ns, struct apf_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = apf_read_file(path, 64u << 20, &data, &len, err);

	if (rc)
		return rc;
	for (char *p = data; *p;) {
		char *eol = p + strcspn(p, "\n");
		char save = *eol;
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		if (*p && *p != '#')
			names_add(ns, p);
		*eol = save;
		p = *eol ? eol + 1 : eol;
	}
	free(data);
	return 0;
}

struct learnt {
	const char *label;
	long version;      /* written, or would be */
	size_t added;
	size_t total;
	char *file;        /* file name, malloc'ed */
	struct names added_names;
};

void apf_learn_result_release(struct apf_learn_result *res)
{
	for (size_t l = 0; l < res->nlearnt; l++) {
		for (size_t k = 0; k < res->learnt[l].nnames; k++)
			free(res->learnt[l].names[k]);
		free(res->learnt[l].names);
		free(res->learnt[l].file);
	}
	memset(res, 0, sizeof(*res));
}

int apf_learn_run(const struct apf_config *cfg, const struct apf_learn_options *opt, struct apf_learn_result *res,
		  struct apf_err *err)
{
	const char *dataset = opt->dataset;
	const char *const *labels = opt->labels;
	struct learnt learnt[APF_LEARN_MAX_LABELS];
	size_t nlabels = opt->nlabels, ngold = 0, nlearnt = 0;
	struct pages ps = { NULL, 0 };
	struct apf_learn_score before, after;
	struct apf_db *db = NULL;
	unsigned char **missed = NULL;
	struct prog pr = { opt, 0, 0 };
	char *dir = NULL;
	int dry = opt->dry_run, rc = 0;

	memset(learnt, 0, sizeof(learnt));
	if (nlabels > APF_LEARN_MAX_LABELS)
		return apf_error(err, APF_EUSAGE, "too many labels to learn (at most %d)", APF_LEARN_MAX_LABELS);
	dir = apf_xasprintf("%s/gazetteers", apf_config_get(cfg, APF_CFG_DATA_DIR));
	rc = apf_annotated_open(cfg, 0, &db, err);
	if (!rc)
		rc = read_gold(db, dataset, &ps, err);
	apf_db_close(db);
	if (rc)
		goto out;
	missed = apf_xcalloc(ps.n + 1, sizeof(*missed));
	for (size_t i = 0; i < ps.n; i++) {
		missed[i] = apf_xcalloc(ps.v[i].ng + 1, 1);
		ngold += ps.v[i].ng;
	}
	/* The rules run over the pages once, and again with what was learnt. */
	pr.total = dry ? ps.n : 2 * ps.n;
	rc = score_rules(&ps, dir, &before, missed, &pr, err);
	if (rc)
		goto out;

	/* The names to learn: missed spans of the labels asked for, whose text
	 * the SMEs gave no other label anywhere in the dataset. */
	for (size_t l = 0; l < nlabels; l++) {
		struct learnt *le = &learnt[nlearnt];
		struct names old = { NULL, 0 };
		le->label = labels[l];
		for (size_t i = 0; i < ps.n; i++) {
			for (size_t j = 0; j < ps.v[i].ng; j++) {
				const struct gold *g = &ps.v[i].g[j];
				int other = 0;
				if (!missed[i][j] || strcmp(g->label, le->label) || !g->text || !name_ok(g->text))
					continue;
				for (size_t a = 0; a < ps.n && !other; a++)
					for (size_t b = 0; b < ps.v[a].ng && !other; b++)
						other = ps.v[a].g[b].text && !strcmp(ps.v[a].g[b].text, g->text) &&
							strcmp(ps.v[a].g[b].label, g->label);
				if (!other)
					names_add(&le->added_names, g->text);
			}
		}
		long v = latest_version(dir, le->label);
		if (v > 0) {
			char *path = apf_xasprintf("%s/%s.v%ld.txt", dir, le->label, v);
			rc = read_names(path, &old, err);
			free(path);
			if (rc) {
				names_release(&old);
				names_release(&le->added_names);
				goto out;
			}
		}
		/* Names already in the latest file are not new. */
		struct names fresh = { NULL, 0 };
		for (size_t k = 0; k < le->added_names.n; k++)
			if (!names_has(&old, le->added_names.v[k]))
				names_add(&fresh, le->added_names.v[k]);
		names_release(&le->added_names);
		le->added_names = fresh;
		if (!fresh.n) {
			names_release(&old);
			continue;
		}
		qsort(fresh.v, fresh.n, sizeof(*fresh.v), cmp_str);
		le->version = v + 1;
		le->added = fresh.n;
		le->file = apf_xasprintf("%s.v%ld.txt", le->label, le->version);
		for (size_t k = 0; k < fresh.n; k++)
			names_add(&old, fresh.v[k]);
		le->total = old.n;
		if (!dry) {
			struct apf_buf b;
			char when[32], *path;
			time_t now = time(NULL);
			struct tm tm;
			gmtime_r(&now, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			qsort(old.v, old.n, sizeof(*old.v), cmp_str);
			apf_buf_init(&b, 0);
			apf_buf_addf(&b, "# %s gazetteer v%ld, learnt by 'apflow learn' on %s\n", le->label,
				     le->version, when);
			apf_buf_addf(&b, "# from dataset '%s': %zu names, %zu new (SME-submitted spans the rules missed)\n",
				     dataset, old.n, fresh.n);
			for (size_t k = 0; k < old.n; k++)
				apf_buf_addf(&b, "%s\n", old.v[k]);
			rc = apf_mkdirs(dir, 0755, err);
			path = apf_xasprintf("%s/%s", dir, le->file);
			if (!rc)
				rc = apf_write_file_atomic(path, b.data, b.len, err);
			free(path);
			apf_buf_release(&b);
		}
		names_release(&old);
		nlearnt++;
		if (rc)
			goto out;
	}
	/* Without a write there is nothing new for the rules to read. */
	after = before;
	if (nlearnt && !dry) {
		rc = score_rules(&ps, dir, &after, NULL, &pr, err);
		if (rc)
			goto out;
	}


	memset(res, 0, sizeof(*res));
	res->pages = ps.n;
	res->spans = ngold;
	res->before = before;
	res->after = after;
	for (size_t l = 0; l < nlearnt; l++) {
		struct apf_learn_label *o = &res->learnt[l];
		o->label = learnt[l].label;
		o->version = learnt[l].version;
		o->total = learnt[l].total;
		o->file = learnt[l].file;
		o->names = learnt[l].added_names.v;
		o->nnames = learnt[l].added_names.n;
		learnt[l].file = NULL;
		learnt[l].added_names.v = NULL;
		learnt[l].added_names.n = 0;
	}
	res->nlearnt = nlearnt;
out:
	for (size_t l = 0; l < APF_LEARN_MAX_LABELS; l++) {
		names_release(&learnt[l].added_names);
		free(learnt[l].file);
	}
	for (size_t i = 0; missed && i < ps.n; i++)
		free(missed[i]);
	free(missed);
	pages_release(&ps);
	free(dir);
	return rc;
}
