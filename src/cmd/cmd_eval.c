/*
 * cmd_eval.c: apflow eval: precision, recall and F1 of suggested spans
 * against a gold JSONL, per agent and label, exact-span match (the
 * scoring is the core's, apflow/eval.h; this file prints it).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "apflow/eval.h"
#include "apflow/labelset.h"
#include "apflow/rules.h"
#include "apflow/util.h"
#include "cmd/cmd.h"

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

/* ---- output ---- */

static double ratio(long a, long b)
{
	return b ? (double)a / (double)b : 0.0;
}

static double f1(double p, double r)
{
	return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

static void report(struct apf_eval *st)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	long gold_all = 0;

	for (size_t l = 0; l < ls->n; l++)
		gold_all += st->gold_n[l];
	printf("%-22s %-13s %6s %6s %6s %9s %7s %6s\n", "agent", "label", "gold", "pred", "tp", "precision",
	       "recall", "f1");
	for (size_t i = 0; i < st->nagents; i++) {
		struct apf_eval_agent *a = &st->agents[i];
		long tp[APF_EVAL_MAX_LABELS] = { 0 }, pred[APF_EVAL_MAX_LABELS] = { 0 }, tpa = 0, preda = 0;
		double p, r;

		apf_eval_score_agent(st, a, tp, pred);
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
	struct apf_eval st = { 0 };
	struct apf_eval_rules_stats rs = { 0 };
	struct apf_err err = { 0 };
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
		rc = apf_eval_read_gold(&st, gold, &err);
	if (rc)
		goto out;

	if (pages && (!agent || !strcmp(agent, APF_RULES_AGENT))) {
		rc = apf_eval_rules(&st, pages, dump, bench, &rs, &err);
		if (rc)
			goto out;
		if (bench) {
			printf("rules: %ld pages, %.0f bytes, %ld spans, cpu %.3f s, wall %.3f s, %.1f MB/s (cpu), %.0f pages/s (cpu)\n",
			       rs.pages, rs.bytes, rs.spans, rs.cpu, rs.secs,
			       rs.cpu > 0 ? rs.bytes / 1e6 / rs.cpu : 0.0, rs.cpu > 0 ? (double)rs.pages / rs.cpu : 0.0);
			goto out;
		}
		if (rs.scored < (long)st.npages)
			fprintf(stderr, "apflow eval: %ld of %zu gold pages are not in '%s'\n",
				(long)st.npages - rs.scored, st.npages, pages);
	}
	if (sugg) {
		rc = apf_eval_read_suggestions(&st, sugg, agent, &err);
		if (rc)
			goto out;
	}
	if (dataset) {
		rc = apf_eval_read_dataset(&st, &ctx->cfg, dataset, agent, &err);
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

		for (int l = 0; l < APF_EVAL_MAX_LABELS; l++)
			gold_all += st.gold_n[l];
		printf("eval: %zu pages, %ld gold spans, %zu agent%s", st.npages, gold_all, st.nagents,
		       st.nagents == 1 ? "" : "s");
		for (size_t i = 0; i < st.nagents; i++)
			printf("%s %s F1 %.3f", i ? "," : ":", st.agents[i].name, st.agents[i].micro_f1);
		if (rs.pages)
			printf("; rules: %ld pages, %ld spans, %.1f MB/s", rs.pages, rs.spans,
			       rs.secs > 0 ? rs.bytes / 1e6 / rs.secs : 0.0);
		printf("\n");
	}
out:
	apf_eval_release(&st);
	return rc ? apf_cmd_fail(&err) : 0;
}
