/*
 * fuzz_sugg.c: libFuzzer target for the reader of suggestions_json
 * (src/core/argilla_sugg.c), checked against Jansson.
 *
 * push reads suggestions_json with a reader of its own, because Jansson
 * took about 5 us a record of the 20 us push spends (it builds a tree of
 * allocated objects for each record).  This target holds that reader to
 * Jansson's decisions: for any valid UTF-8 input (DuckDB hands push only
 * valid UTF-8), parsed as suggestions_json against a text of 100 code
 * points and labelset v1,
 *   - it accepts exactly what Jansson (json_loadb, flags 0) followed by the
 *     same checks accepts (the checks of each element are written again
 *     here over Jansson's values; those of each span are the one
 *     apf_argilla_suggestions_add_span() both readers call);
 *   - when both accept: the same agents (names and span ranges) and the
 *     same spans (start, end, label, score bit for bit);
 *   - when both refuse: the same message, except for text that is not
 *     JSON at all, where both say "suggestions_json is not a JSON list"
 *     (Jansson's own words after that differ);
 *   - the reader's state, reused from call to call, gives the same answer
 *     the second time.
 * Two deliberate differences:
 *   - the reader stops at 64 levels of nesting, Jansson at 2048: inputs
 *     deeper than 60 are only run, not compared;
 *   - a NUL byte is never JSON, and the reader refuses any input with one
 *     (checked here), where Jansson skips a NUL that follows a number.
 * A failed check calls abort(), which libFuzzer reports as a crash.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/argilla.h"
#include "apflow/labelset.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_sugg: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                              \
		}                                                                             \
	} while (0)

#define TEXT_CPS 100

/* One agent's element: its spans go to sg->spans; problems to why. */
static int ref_element(struct apf_argilla_suggestions *sg, json_t *el, size_t text_cps, const struct apf_labelset *ls,
		   char *agent, size_t agent_n, char *why, size_t why_n)
{
	json_t *value = json_object_get(el, "value"), *score = json_object_get(el, "score"), *sp;
	const char *q = json_string_value(json_object_get(el, "question_name"));
	size_t i, first = sg->nspans;

	if (!json_is_object(el))
		return snprintf(why, why_n, "suggestions_json: an element is not an object"), -1;
	if (q && strcmp(q, ls->question_name))
		return snprintf(why, why_n, "suggestions_json: question '%s' is not '%s'", q, ls->question_name), -1;
	if (!json_is_array(value))
		return snprintf(why, why_n, "suggestions_json: 'value' is not a list"), -1;
	if (score && !json_is_null(score) && !json_is_number(score) && !json_is_array(score))
		return snprintf(why, why_n, "suggestions_json: 'score' is not a number or a list"), -1;
	if (json_is_array(score) && json_array_size(score) != json_array_size(value))
		return snprintf(why, why_n, "suggestions_json: %zu scores for %zu spans", json_array_size(score),
				json_array_size(value)),
		       -1;
	apf_argilla_agent_name(json_string_value(json_object_get(el, "agent")), agent, agent_n);
	json_array_foreach(value, i, sp)
	{
		json_t *js = json_object_get(sp, "start"), *je = json_object_get(sp, "end");
		const char *label = json_string_value(json_object_get(sp, "label"));
		json_t *sc = json_is_array(score) ? json_array_get(score, i) : score;
		if (!json_is_integer(js) || !json_is_integer(je) || !label)
			return snprintf(why, why_n, "span %zu: needs integer start and end and a label", i), -1;
		if (apf_argilla_suggestions_add_span(sg, first, i, json_integer_value(js), json_integer_value(je), label,
						     json_is_number(sc), json_is_number(sc) ? json_number_value(sc) : 0.0,
						     text_cps, ls, why, why_n))
			return -1;
	}
	return 0;
}

/* The reference: Jansson, then the checks push made before it had its own
 * reader.  Returns 0, -1 (refused by the checks, why set) or -2 (not JSON). */
static int ref_parse(struct apf_argilla_suggestions *sg, const char *json, size_t len, const struct apf_labelset *ls,
		     char *why, size_t why_n)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr), *el;
	size_t i;
	int rc = 0;

	if (!root)
		return -2;
	if (!json_is_array(root)) {
		json_decref(root);
		snprintf(why, why_n, "suggestions_json is not a JSON list");
		return -1;
	}
	json_array_foreach(root, i, el)
	{
		struct apf_argilla_sugg_agent *ag;
		size_t first_span = sg->nspans;
		char w[512];

		if (sg->nagents == sg->cap_agents) {
			sg->cap_agents = sg->cap_agents ? sg->cap_agents * 2 : 4;
			sg->agents = apf_xrealloc(sg->agents, sg->cap_agents * sizeof(*sg->agents));
		}
		ag = &sg->agents[sg->nagents];
		if (ref_element(sg, el, TEXT_CPS, ls, ag->name, sizeof(ag->name), w, sizeof(w))) {
			snprintf(why, why_n, "suggestion %zu: %s", i, w);
			rc = -1;
			break;
		}
		ag->first = first_span;
		ag->n = sg->nspans - first_span;
		sg->nagents++;
	}
	json_decref(root);
	return rc;
}

/* Deeper than the reader's 64 levels, counting brackets outside strings. */
static int too_deep(const char *s, size_t n)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = 0;
		} else if (s[i] == '"') {
			in_str = 1;
		} else if (s[i] == '[' || s[i] == '{') {
			if (++depth > 60)
				return 1;
		} else if (s[i] == ']' || s[i] == '}') {
			depth--;
		}
	}
	return 0;
}

static struct apf_argilla_suggestions mine; /* reused across inputs, as push does */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	struct apf_argilla_suggestions ref;
	const char *json = (const char *)data;
	char why_mine[1024], why_ref[1024];
	int rm, rr;

	if (!ls || apf_utf8_validate(json, size, NULL))
		return 0;
	memset(&ref, 0, sizeof(ref));
	why_mine[0] = why_ref[0] = '\0';
	rm = apf_argilla_suggestions_parse(&mine, json, size, TEXT_CPS, ls, why_mine, sizeof(why_mine));
	rr = ref_parse(&ref, json, size, ls, why_ref, sizeof(why_ref));
	if (memchr(json, 0, size)) {
		CHECK(rm != 0 && !strncmp(why_mine, "suggestions_json is not a JSON list", 35));
	} else if (!too_deep(json, size)) {
		if ((rm == 0) != (rr == 0))
			fprintf(stderr, "fuzz_sugg: reader %s, Jansson %s\n  reader: %s\n  Jansson: %s\n", rm ? "refuses" : "accepts",
				rr ? "refuses" : "accepts", why_mine, why_ref);
		CHECK((rm == 0) == (rr == 0));
		if (rr == -2) {
			CHECK(!strncmp(why_mine, "suggestions_json is not a JSON list", 35));
		} else if (rr == -1) {
			if (strcmp(why_mine, why_ref))
				fprintf(stderr, "fuzz_sugg: reader says '%s'\n  Jansson: '%s'\n", why_mine, why_ref);
			CHECK(!strcmp(why_mine, why_ref));
		} else {
			CHECK(mine.nagents == ref.nagents && mine.nspans == ref.nspans);
			for (size_t i = 0; i < ref.nagents; i++)
				CHECK(!strcmp(mine.agents[i].name, ref.agents[i].name) && mine.agents[i].first == ref.agents[i].first &&
				      mine.agents[i].n == ref.agents[i].n);
			for (size_t i = 0; i < ref.nspans; i++)
				CHECK(mine.spans[i].start == ref.spans[i].start && mine.spans[i].end == ref.spans[i].end &&
				      mine.spans[i].label == ref.spans[i].label && mine.spans[i].agents == ref.spans[i].agents &&
				      !memcmp(&mine.spans[i].score, &ref.spans[i].score, sizeof(double)));
		}
		/* the reused state answers the same the second time */
		{
			size_t na = mine.nagents, ns = mine.nspans;
			char again[1024] = "";
			int r2 = apf_argilla_suggestions_parse(&mine, json, size, TEXT_CPS, ls, again, sizeof(again));
			CHECK(r2 == rm && !strcmp(again, why_mine));
			if (!rm)
				CHECK(mine.nagents == na && mine.nspans == ns);
		}
	}
	apf_argilla_suggestions_release(&ref);
	return 0;
}
