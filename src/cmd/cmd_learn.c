/* cmd_learn.c: apflow learn --dataset NAME [--label L]... [--dry-run] [--json] */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "apflow/jsonw.h"
#include "apflow/labelset.h"
#include "apflow/learn.h"
#include "apflow/progress.h"
#include "cmd/cmd.h"
#include "apflow/banned.h" /* last: after every system header */

const char cmd_learn_usage[] =
	"usage: apflow learn --dataset NAME [--label LABEL]... [--dry-run] [--json]\n"
	"\n"
	"Turns names the SMEs marked and the rules engine missed into gazetteer\n"
	"files the rules read next time (apflow preannotate, --engine rules):\n"
	"<data_dir>/gazetteers/<LABEL>.v<N>.txt, one name a line, a new version N\n"
	"holding the names of the one before and the new ones (the highest N of\n"
	"each label is read).  Only submitted responses of the latest export of\n"
	"each page count (never discarded or draft ones), and only spans on text\n"
	"that is still the page's text in md_raw_ocr.  A name the SMEs gave two\n"
	"labels is not learnt.  Prints the rules' F1 against the SMEs' spans\n"
	"(exact start, end and label; every label) before and after.\n"
	"\n"
	"  --dataset NAME   the Argilla dataset whose loaded annotations to read\n"
	"  --label LABEL    learn names of LABEL (repeatable; default VESSEL_NAME,\n"
	"                   PORT and ORGANIZATION)\n"
	"  --dry-run        say what would be learnt; write nothing\n"
	"  --json           print the result as one JSON object\n"
	"\n"
	"Exit status: 0 done (also when there is nothing to learn), 1 failure, 2 usage.\n";

/* The member key: {"f1", "precision", "recall", "tp", "fp", "fn"}. */
static void score_json(struct apf_jsonw *jw, const char *key, const struct apf_learn_score *s)
{
	apf_jsonw_object_object(jw, key);
	apf_jsonw_object_double(jw, "f1", apf_learn_f1(s));
	apf_jsonw_object_double(jw, "precision", apf_learn_precision(s));
	apf_jsonw_object_double(jw, "recall", apf_learn_recall(s));
	apf_jsonw_object_int(jw, "tp", (int64_t)s->tp);
	apf_jsonw_object_int(jw, "fp", (int64_t)s->fp);
	apf_jsonw_object_int(jw, "fn", (int64_t)s->fn);
	apf_jsonw_end(jw);
}

int cmd_learn(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "dataset", required_argument, NULL, 'd' },
		{ "label", required_argument, NULL, 'l' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct apf_labelset *ls = apf_labelset_v1();
	struct apf_learn_options lo = { 0 };
	struct apf_learn_result res = { 0 };
	const struct apf_learn_label *learnt = res.learnt;
	struct apf_err err;
	struct apf_progress *pb = NULL;
	int json = 0, c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd') {
			lo.dataset = optarg;
		} else if (c == 'l') {
			int li = apf_labelset_find(ls, optarg);
			if (li < 0)
				return apf_cmd_usage_error("learn", "no label '%s' in labelset %s", optarg, ls->version);
			if (lo.nlabels == APF_LEARN_MAX_LABELS)
				return apf_cmd_usage_error("learn", "too many --label options");
			lo.labels[lo.nlabels++] = ls->labels[li].name;
		} else if (c == 'n') {
			lo.dry_run = 1;
		} else if (c == 'j') {
			json = 1;
		} else if (optopt) {
			return apf_cmd_usage_error("learn", "option '%s' needs a value", argv[optind - 1]);
		} else {
			return apf_cmd_usage_error("learn", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("learn", "unexpected argument '%s'", argv[optind]);
	if (!lo.dataset)
		return apf_cmd_usage_error("learn", "--dataset is required");
	if (!lo.nlabels) {
		static const char *const dflt[] = { "VESSEL_NAME", "PORT", "ORGANIZATION" };
		for (size_t i = 0; i < 3; i++)
			lo.labels[lo.nlabels++] = ls->labels[apf_labelset_find(ls, dflt[i])].name;
	}

	apf_err_clear(&err);
	pb = apf_progress_new("learn", "pages", 0, ctx->stderr_tty);
	lo.progress = apf_progress_cb;
	lo.progress_arg = pb;
	rc = apf_learn_run(&ctx->cfg, &lo, &res, &err);
	if (rc)
		goto fail;
	apf_progress_end(pb, NULL, NULL);
	pb = NULL;
	if (json) {
		struct apf_jsonw jw;
		apf_jsonw_init(&jw, 0, 0);
		apf_jsonw_object_begin(&jw);
		apf_jsonw_object_string(&jw, "dataset", lo.dataset);
		apf_jsonw_object_bool(&jw, "dry_run", lo.dry_run);
		apf_jsonw_object_int(&jw, "pages", (int64_t)res.pages);
		apf_jsonw_object_int(&jw, "spans", (int64_t)res.spans);
		score_json(&jw, "before", &res.before);
		if (lo.dry_run)
			apf_jsonw_object_null(&jw, "after");
		else
			score_json(&jw, "after", &res.after);
		apf_jsonw_object_array(&jw, "learnt");
		for (size_t l = 0; l < res.nlearnt; l++) {
			apf_jsonw_object_begin(&jw);
			apf_jsonw_object_string(&jw, "label", learnt[l].label);
			apf_jsonw_object_string(&jw, "file", learnt[l].file);
			apf_jsonw_object_int(&jw, "version", learnt[l].version);
			apf_jsonw_object_int(&jw, "total", (int64_t)learnt[l].total);
			apf_jsonw_object_array(&jw, "added");
			for (size_t k = 0; k < learnt[l].nnames; k++)
				apf_jsonw_array_string(&jw, learnt[l].names[k]);
			apf_jsonw_end(&jw);
			apf_jsonw_end(&jw);
		}
		apf_jsonw_end(&jw);
		apf_jsonw_end(&jw);
		rc = apf_cmd_print_json(&jw);
	} else {
		for (size_t l = 0; l < res.nlearnt; l++) {
			printf("%s %s: +%zu name%s (%zu in all):", lo.dry_run ? "would write" : "wrote", learnt[l].file,
			       learnt[l].nnames, learnt[l].nnames == 1 ? "" : "s", learnt[l].total);
			for (size_t k = 0; k < learnt[l].nnames; k++)
				printf("%s '%s'", k ? "," : "", learnt[l].names[k]);
			putchar('\n');
		}
		if (!res.nlearnt)
			printf("nothing to learn: the rules find every %s the SMEs marked that can be learnt\n",
			       lo.nlabels == 3 ? "vessel name, port and organization" : "name of those labels");
		printf("rules F1 against %zu submitted span%s on %zu page%s of '%s': before %.3f (P %.3f R %.3f)",
		       res.spans, res.spans == 1 ? "" : "s", res.pages, res.pages == 1 ? "" : "s", lo.dataset,
		       apf_learn_f1(&res.before), apf_learn_precision(&res.before), apf_learn_recall(&res.before));
		if (!lo.dry_run)
			printf(", after %.3f (P %.3f R %.3f)", apf_learn_f1(&res.after), apf_learn_precision(&res.after),
			       apf_learn_recall(&res.after));
		putchar('\n');
	}
	goto out;
fail:
	rc = apf_cmd_fail_progress(&pb, &err);
out:
	apf_learn_result_release(&res);
	return rc;
}
