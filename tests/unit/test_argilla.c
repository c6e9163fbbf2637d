/* test_argilla.c: the Argilla client's pure parts: agent names, span F1,
 * merging several agents' spans into one suggestion, error details. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/argilla.h"

static void agent(const char *in, const char *want)
{
	char out[256];

	apf_argilla_agent_name(in, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_agent_name(void **state)
{
	char out[256], longname[300];

	(void)state;
	agent("apflow-rules-v1", "apflow-rules-v1");
	agent("ollama-llama3.3:70b", "ollama-llama3.3:70b"); /* ':' and '.' are allowed */
	agent("gliner/urchade v2.1", "gliner/urchade v2.1");
	agent("model@home+x", "model-home-x");
	agent("caf\xc3\xa9-ner", "caf--ner"); /* one '-' per character, not per byte */
	agent("\xf0\x9f\x9a\xa2", "agent--");
	agent("@@", "agent---");
	agent("", "agent");
	agent(NULL, "agent");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	apf_argilla_agent_name(longname, out, sizeof(out));
	assert_int_equal(strlen(out), 200); /* Argilla's limit */
	apf_argilla_agent_name("abcdef", out, 4);
	assert_string_equal(out, "abc");
}

#define SPAN(s, e, l, sc) { s, e, l, sc, 1 }

static void test_f1(void **state)
{
	struct apf_argilla_span a[] = { SPAN(0, 5, 1, 0.9), SPAN(10, 12, 2, 0.5) };
	struct apf_argilla_span b[] = { SPAN(0, 5, 1, 0.7), SPAN(20, 22, 2, 0.5) };
	struct apf_argilla_span c[] = { SPAN(0, 5, 3, 0.7) };

	(void)state;
	assert_true(apf_argilla_span_f1(a, 2, b, 2) == 0.5);
	assert_true(apf_argilla_span_f1(a, 2, a, 2) == 1.0);
	assert_true(apf_argilla_span_f1(a, 2, c, 1) == 0.0); /* same offsets, other label */
	assert_true(apf_argilla_span_f1(NULL, 0, NULL, 0) == 1.0);
	assert_true(apf_argilla_span_f1(a, 2, NULL, 0) == 0.0);
	assert_true(apf_argilla_span_f1(a, 1, b, 2) * 3 == 2.0); /* 2*1/(1+2) */
}

static void test_merge(void **state)
{
	/* rules: PORT [0,5) 0.9, DATE [20,30) 0.6; LLM: PORT [0,5) 0.8,
	 * VESSEL [3,8) 0.95 (overlaps the agreed PORT), TONNAGE [40,45) 0.3,
	 * DATE [25,35) 0.7 (overlaps DATE [20,30), higher score wins) */
	struct apf_argilla_span in[] = {
		SPAN(0, 5, 5, 0.9), SPAN(20, 30, 6, 0.6), SPAN(0, 5, 5, 0.8),
		SPAN(3, 8, 0, 0.95), SPAN(40, 45, 9, 0.3), SPAN(25, 35, 6, 0.7),
	};
	struct apf_argilla_span out[6];
	size_t n = apf_argilla_merge_spans(in, 6, out);

	(void)state;
	assert_int_equal(n, 3);
	assert_int_equal(out[0].start, 0);
	assert_int_equal(out[0].end, 5);
	assert_int_equal(out[0].label, 5);
	assert_true(out[0].score == 0.9);
	assert_int_equal(out[0].agents, 2);
	assert_int_equal(out[1].start, 25);
	assert_int_equal(out[1].end, 35);
	assert_true(out[1].score == 0.7);
	assert_int_equal(out[2].start, 40);
	assert_int_equal(out[2].label, 9);
	for (size_t i = 0; i + 1 < n; i++)
		assert_true(out[i].end <= out[i + 1].start); /* sorted, no overlaps */
	assert_int_equal(apf_argilla_merge_spans(NULL, 0, out), 0);
}

static void detail(const char *body, const char *want)
{
	char *d = apf_argilla_detail(body, body ? strlen(body) : 0);

	assert_string_equal(d, want);
	free(d);
}

static void test_detail(void **state)
{
	(void)state;
	detail("{\"detail\":\"Dataset with id `x` not found\"}", "Dataset with id `x` not found");
	detail("{\"detail\":\"undefined label 'X' for span question.\\nValid labels are: ['A']\"}",
	       "undefined label 'X' for span question. Valid labels are: ['A']");
	detail("{\"detail\":{\"code\":\"argilla.api.errors::UnauthorizedError\",\"params\":{\"detail\":\"Could not validate credentials\"}}}",
	       "Could not validate credentials");
	detail("{\"detail\":{\"code\":\"argilla.api.errors::ValidationError\",\"params\":{\"errors\":[]}}}",
	       "{\"code\":\"argilla.api.errors::ValidationError\",\"params\":{\"errors\":[]}}");
	detail("<html>\nBad Gateway</html>", "<html>");
	detail(NULL, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_name),
		cmocka_unit_test(test_f1),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_detail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
