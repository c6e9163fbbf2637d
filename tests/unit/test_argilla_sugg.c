/* test_argilla_sugg.c: apf_argilla_suggestions_parse(), the strict reader of
 * suggestions_json that push uses in place of Jansson: what it accepts and
 * gives back (spans per agent, scores, decoded strings), what it refuses
 * and the words it says it with, and Jansson's decisions on the edge cases
 * (integers vs reals, \u0000, surrogates, duplicate keys, nesting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/argilla.h"
#include "apflow/labelset.h"

static struct apf_argilla_suggestions sg;
static char why[1024];

static int parse_n(const char *json, size_t text_cps)
{
	const struct apf_labelset *ls = apf_labelset_v1();

	assert_non_null(ls);
	why[0] = '\0';
	return apf_argilla_suggestions_parse(&sg, json, strlen(json), text_cps, ls, why, sizeof(why));
}

static void ok(const char *json)
{
	if (parse_n(json, 100)) {
		print_error("refused: %s\n  %s\n", json, why);
		fail();
	}
}

/* Refused, with why containing want. */
static void bad(const char *json, const char *want)
{
	if (!parse_n(json, 100)) {
		print_error("accepted: %s\n", json);
		fail();
	}
	if (!strstr(why, want)) {
		print_error("for %s\n  want '%s'\n  got  '%s'\n", json, want, why);
		fail();
	}
}

static int label(const char *name)
{
	return apf_labelset_find(apf_labelset_v1(), name);
}

static void test_accepts(void **state)
{
	(void)state;
	ok("[{\"question_name\":\"entities\",\"value\":[{\"start\":10,\"end\":18,\"label\":\"VESSEL_NAME\"}],"
	   "\"score\":0.9,\"agent\":\"apflow-rules-v1\",\"type\":\"model\"},"
	   "{\"question_name\":\"entities\",\"value\":[{\"start\":10,\"end\":18,\"label\":\"VESSEL_NAME\"},"
	   "{\"start\":31,\"end\":40,\"label\":\"PORT\"}],\"score\":[0.8,0.7],\"agent\":\"ollama-llama3.3:70b\"}]");
	assert_int_equal(sg.nagents, 2);
	assert_int_equal(sg.nspans, 3);
	assert_string_equal(sg.agents[0].name, "apflow-rules-v1");
	assert_int_equal(sg.agents[0].first, 0);
	assert_int_equal(sg.agents[0].n, 1);
	assert_string_equal(sg.agents[1].name, "ollama-llama3.3:70b");
	assert_int_equal(sg.agents[1].first, 1);
	assert_int_equal(sg.agents[1].n, 2);
	assert_int_equal(sg.spans[0].start, 10);
	assert_int_equal(sg.spans[0].end, 18);
	assert_int_equal(sg.spans[0].label, label("VESSEL_NAME"));
	assert_true(sg.spans[0].score == 0.9);
	assert_int_equal(sg.spans[2].start, 31);
	assert_int_equal(sg.spans[2].label, label("PORT"));
	assert_true(sg.spans[1].score == 0.8 && sg.spans[2].score == 0.7);
	assert_int_equal(sg.spans[2].agents, 1);

	/* the state is reused: a second call starts afresh */
	ok("[]");
	assert_int_equal(sg.nagents, 0);
	assert_int_equal(sg.nspans, 0);
	ok(" \t\r\n[ ] \n");
	ok("[{\"value\":[]}]");
	assert_int_equal(sg.nagents, 1);
	assert_string_equal(sg.agents[0].name, "agent"); /* no agent: as apf_argilla_agent_name(NULL) */
	/* keys in any order, unknown keys and values of any kind skipped */
	ok("[{\"extra\":{\"a\":[1,2.5e-3,true,false,null,\"x\\u00e9\"]},\"score\":null,"
	   "\"value\":[{\"label\":\"PORT\",\"x\":[],\"end\":5,\"start\":0}],\"type\":\"model\"}]");
	assert_int_equal(sg.nspans, 1);
	assert_true(sg.spans[0].score == 1.0); /* null score: 1.0 */
	assert_int_equal(sg.spans[0].end, 5);
	/* escapes decoded: label and agent */
	ok("[{\"agent\":\"caf\\u00e9 \\ud83d\\udea2\\/x\",\"value\":[{\"start\":0,\"end\":1,\"label\":\"\\u0050ORT\"}]}]");
	assert_int_equal(sg.spans[0].label, label("PORT"));
	assert_string_equal(sg.agents[0].name, "caf- -/x"); /* each non-ASCII character one '-' */
	/* a key given twice keeps its last value (as Jansson) */
	ok("[{\"value\":[{\"start\":0,\"end\":1,\"label\":\"PORT\"}],\"value\":[{\"start\":2,\"end\":4,\"label\":\"DATE\"}]}]");
	assert_int_equal(sg.nspans, 1);
	assert_int_equal(sg.spans[0].start, 2);
	assert_int_equal(sg.spans[0].label, label("DATE"));
	/* a score list entry that is not a number counts as 1.0, unchecked */
	ok("[{\"value\":[{\"start\":0,\"end\":1,\"label\":\"PORT\"}],\"score\":[\"high\"]}]");
	assert_true(sg.spans[0].score == 1.0);
	/* question_name that is not a string is not checked (as before) */
	ok("[{\"question_name\":7,\"value\":[]}]");
	/* -0, exponents, big but 64-bit integers elsewhere */
	ok("[{\"value\":[{\"start\":-0,\"end\":1,\"label\":\"PORT\"}],\"n\":9223372036854775807,\"m\":-9223372036854775808,"
	   "\"r\":1E+2}]");
	/* touching spans of one agent do not overlap; end == text length is fine */
	ok("[{\"value\":[{\"start\":0,\"end\":5,\"label\":\"PORT\"},{\"start\":5,\"end\":100,\"label\":\"DATE\"}]}]");
	/* spans of two agents may overlap (they are merged later) */
	ok("[{\"value\":[{\"start\":0,\"end\":5,\"label\":\"PORT\"}]},{\"value\":[{\"start\":2,\"end\":6,\"label\":\"PORT\"}]}]");
	assert_int_equal(sg.nspans, 2);
}

/* An element with a key holding d nested lists. */
static const char *nested(int d)
{
	static char buf[300];
	size_t n;

	strcpy(buf, "[{\"a\":");
	n = strlen(buf);
	for (int k = 0; k < d; k++)
		buf[n++] = '[';
	for (int k = 0; k < d; k++)
		buf[n++] = ']';
	strcpy(buf + n, ",\"value\":[]}]");
	return buf;
}

static void test_refuses_syntax(void **state)
{
	(void)state;
	bad("", "is not a JSON list: empty text");
	bad("   ", "empty text");
	bad("{\"a\":1}", "suggestions_json is not a JSON list");
	bad("\"x\"", "'[' or '{' expected");
	bad("[", "a value expected");
	bad("[1,]", "a value expected");
	bad("[{}] x", "end of text expected at byte 5");
	bad("[{},]", "a value expected");
	bad("[{\"value\":[]}", "',' or ']' expected");
	bad("[{\"value\" []}]", "':' expected");
	bad("[{value:[]}]", "a string (a key) expected");
	bad("[{\"value\":[],}]", "a string (a key) expected");
	bad("[{\"a\":\"x]", "unterminated string");
	bad("[{\"a\":\"tab\there\"}]", "control character in a string");
	bad("[{\"a\":\"\\x\"}]", "bad escape in a string");
	bad("[{\"a\":\"\\u12\"}]", "bad \\u escape");
	bad("[{\"a\":\"\\u0000\"}]", "\\u0000 in a string");
	bad("[{\"a\":\"\\ud83d\"}]", "high surrogate not followed by a low one");
	bad("[{\"a\":\"\\udea2\"}]", "lone low surrogate");
	bad("[{\"a\":01}]", "leading zero in a number");
	bad("[{\"a\":1.}]", "bad number");
	bad("[{\"a\":.5}]", "a value expected");
	bad("[{\"a\":1e}]", "bad number");
	bad("[{\"a\":-}]", "bad number");
	bad("[{\"a\":+1}]", "a value expected");
	bad("[{\"a\":tru}]", "invalid token");
	bad("[{\"a\":NaN}]", "a value expected");
	bad("[{\"a\":9223372036854775808}]", "integer too big");
	bad("[{\"a\":1e999}]", "real number overflow");
	bad(nested(100), "nested too deeply");
	ok(nested(60)); /* 60 levels inside an element are fine */
}

static void test_refuses_content(void **state)
{
	(void)state;
	bad("[1]", "suggestion 0: suggestions_json: an element is not an object");
	bad("[{\"value\":[]},2]", "suggestion 1: suggestions_json: an element is not an object");
	bad("[{\"question_name\":\"other\",\"value\":[]}]", "suggestion 0: suggestions_json: question 'other' is not 'entities'");
	bad("[{\"value\":{}}]", "suggestion 0: suggestions_json: 'value' is not a list");
	bad("[{}]", "suggestions_json: 'value' is not a list");
	bad("[{\"value\":[],\"score\":\"x\"}]", "suggestions_json: 'score' is not a number or a list");
	bad("[{\"value\":[{\"start\":0,\"end\":1,\"label\":\"PORT\"},{\"start\":2,\"end\":3,\"label\":\"PORT\"}],\"score\":[0.9]}]",
	    "suggestion 0: suggestions_json: 1 scores for 2 spans");
	bad("[{\"value\":[{\"start\":0,\"end\":1}]}]", "span 0: needs integer start and end and a label");
	bad("[{\"value\":[{\"start\":0.0,\"end\":1,\"label\":\"PORT\"}]}]", "span 0: needs integer start and end and a label");
	bad("[{\"value\":[{\"start\":\"0\",\"end\":1,\"label\":\"PORT\"}]}]", "span 0: needs integer start and end and a label");
	bad("[{\"value\":[{\"start\":0,\"end\":1,\"label\":5}]}]", "span 0: needs integer start and end and a label");
	bad("[{\"value\":[3]}]", "span 0: needs integer start and end and a label");
	bad("[{\"value\":[{\"start\":0,\"end\":1,\"label\":\"HARBOUR\"}]}]", "span 0: label 'HARBOUR' is not in labelset v1");
	bad("[{\"value\":[{\"start\":5,\"end\":5,\"label\":\"PORT\"}]}]", "span 0 [5, 5): start must be >= 0 and below end");
	bad("[{\"value\":[{\"start\":-1,\"end\":5,\"label\":\"PORT\"}]}]", "span 0 [-1, 5): start must be >= 0 and below end");
	bad("[{\"value\":[{\"start\":95,\"end\":101,\"label\":\"PORT\"}]}]",
	    "span 0 [95, 101) PORT: past the end of the text (100 code points)");
	bad("[{\"value\":[{\"start\":0,\"end\":1,\"label\":\"PORT\"}],\"score\":1.5}]", "span 0: score 1.5 is not in [0, 1]");
	bad("[{\"value\":[{\"start\":0,\"end\":1,\"label\":\"PORT\"}],\"score\":[-0.1]}]", "span 0: score -0.1 is not in [0, 1]");
	bad("[{\"value\":[{\"start\":0,\"end\":5,\"label\":\"PORT\"},{\"start\":4,\"end\":9,\"label\":\"DATE\"}]}]",
	    "suggestion 0: spans overlap: [0, 5) and [4, 9)");
	/* the first problem in the order of the checks, as before: element by
	 * element, and within one the question, value, score, then the spans */
	bad("[{\"value\":[{\"start\":0,\"end\":500,\"label\":\"PORT\"}]},{\"question_name\":\"x\",\"value\":[]}]",
	    "suggestion 0: span 0 [0, 500) PORT: past the end");
	bad("[{\"score\":\"x\",\"value\":5}]", "'value' is not a list");
	/* a syntax error anywhere wins over a content problem before it */
	bad("[{\"value\":[{\"start\":0,\"end\":500,\"label\":\"PORT\"}]},{\"a\":01}]", "leading zero in a number");
}

/* The length is the bytes given, not up to a '\0'. */
static void test_length(void **state)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	const char buf[] = "[{\"value\":[]}]XXXX";

	(void)state;
	assert_int_equal(apf_argilla_suggestions_parse(&sg, buf, 14, 10, ls, why, sizeof(why)), 0);
	assert_int_equal(apf_argilla_suggestions_parse(&sg, buf, 15, 10, ls, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "end of text expected at byte 14"));
	assert_int_equal(apf_argilla_suggestions_parse(&sg, buf, 13, 10, ls, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "',' or ']' expected"));
}

/* Many spans: the arrays grow; a long number is read whole. */
static void test_growth(void **state)
{
	char *json = malloc(200000), *p = json;

	(void)state;
	p += sprintf(p, "[{\"value\":[");
	for (int i = 0; i < 2000; i++)
		p += sprintf(p, "%s{\"start\":%d,\"end\":%d,\"label\":\"PORT\"}", i ? "," : "", 2 * i, 2 * i + 1);
	p += sprintf(p, "],\"score\":0.%0200d5}]", 0);
	assert_int_equal(parse_n(json, 4000), 0);
	assert_int_equal(sg.nspans, 2000);
	assert_int_equal(sg.spans[1999].start, 3998);
	assert_true(sg.spans[0].score > 0 && sg.spans[0].score < 1e-199);
	free(json);
}

static int teardown(void **state)
{
	(void)state;
	apf_argilla_suggestions_release(&sg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),       cmocka_unit_test(test_refuses_syntax),
		cmocka_unit_test(test_refuses_content), cmocka_unit_test(test_length),
		cmocka_unit_test(test_growth),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
