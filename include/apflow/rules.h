/*
 * rules.h: the offline pre-annotation engine (agent "apflow-rules-v1").
 *
 * Maritime rules (IMO numbers with check digits, MMSI with valid maritime
 * identification digits in context, call signs, vessel names after their
 * prefixes, vessel types, dates, tonnage, organizations) and gazetteers
 * (flag states, world ports, class societies: bundled data files plus the
 * learnt ones in an extra directory) over PCRE2 with JIT in UTF mode.
 *
 * A loaded engine is read-only: any number of threads may call
 * apf_rules_annotate() on it at once.
 */
#ifndef APFLOW_RULES_H
#define APFLOW_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/err.h"

#define APF_RULES_AGENT "apflow-rules-v1"

/* One suggested span: code points into the page text, end exclusive. */
struct apf_span {
	int64_t start;
	int64_t end;
	const char *label; /* a name from apf_labelset_v1(); static storage */
	double score;      /* 0..1, the rule's precision estimate */
};

struct apf_spans {
	struct apf_span *v;
	size_t n, alloc;
};

void apf_spans_release(struct apf_spans *s);

struct apf_rules_opts {
	/* Directory of learnt gazetteer files (<data_dir>/gazetteers, written
	 * by `apflow learn`) read beside the bundled ones; NULL or missing
	 * directory: none. */
	const char *extra_gazetteer_dir;
};

struct apf_rules;

int apf_rules_new(struct apf_rules **out, const struct apf_rules_opts *opts, struct apf_err *err);
void apf_rules_free(struct apf_rules *r);

/*
 * Appends the spans found in text (UTF-8, len bytes; invalid UTF-8 is an
 * APF_EINVAL error) to out, sorted by start then end, without overlaps.
 */
int apf_rules_annotate(const struct apf_rules *r, const char *text, size_t len,
		       struct apf_spans *out, struct apf_err *err);

/*
 * The regular expressions the engine runs (PCRE2 syntax, UTF mode), in a
 * NULL-terminated array of static strings: bench/preannotate.sh hands the
 * same set to `rg -P`.
 */
const char *const *apf_rules_patterns(void);

#endif
