/* test_ollama.c: the Ollama engine's pure parts: agent names, splitting
 * pages into chunks, aligning answers to code-point offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "apflow/labelset.h"
#include "apflow/ollama.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

static void test_agent(void **state)
{
	static const struct { const char *model, *agent; } v[] = {
		{ "llama3.3:70b", "ollama-llama3.3-70b" },
		{ "Qwen2.5:7B-Instruct", "ollama-qwen2.5-7b-instruct" },
		{ "hf.co/org/model:Q4_K_M", "ollama-hf.co-org-model-q4_k_m" },
		{ "mödel ü", "ollama-m--del---" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *a = apf_ollama_agent(v[i].model);
		assert_string_equal(a, v[i].agent);
		free(a);
	}
	char long_model[400];
	memset(long_model, 'a', sizeof(long_model) - 1);
	long_model[sizeof(long_model) - 1] = '\0';
	char *a = apf_ollama_agent(long_model);
	assert_int_equal(strlen(a), 200); /* Argilla's limit */
	free(a);
}

/* The chunks of text as "start-end" pairs. */
static void split_str(const char *text, size_t chunk, size_t overlap, char *out, size_t n)
{
	size_t *s, *e, k, o = 0;

	apf_ollama_split(text, strlen(text), chunk, overlap, &s, &e, &k);
	out[0] = '\0';
	for (size_t i = 0; i < k; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%zu-%zu", i ? " " : "", s[i], e[i]);
	free(s);
	free(e);
}

static void test_split(void **state)
{
	char buf[256];

	(void)state;
	split_str("", 10, 2, buf, sizeof(buf));
	assert_string_equal(buf, "0-0");
	split_str("short text", 10, 2, buf, sizeof(buf));
	assert_string_equal(buf, "0-10");
	/* Cut after whitespace in the chunk's second half; the next starts
	 * about overlap back, at a word. */
	split_str("aaaa bbbb cccc dddd eeee", 12, 6, buf, sizeof(buf));
	assert_string_equal(buf, "0-10 5-15 10-20 15-24");
	/* No whitespace (CJK): hard cuts of chunk code points, not bytes. */
	split_str("東京港東京港東京港東京港", 5, 2, buf, sizeof(buf));
	assert_string_equal(buf, "0-5 3-8 6-11 9-12");
	/* The overlap is capped at half a chunk, so the run ends. */
	split_str("a b c d e f g h i j", 4, 100, buf, sizeof(buf));
	assert_string_equal(buf, "0-4 2-6 4-8 6-10 8-12 10-14 12-16 14-18 16-19");
}

/* Aligns the answer (JSON text) to text and renders the spans. */
static void align_str(const char *text, const char *answer, char *out, size_t n, struct apf_ollama_stats *st)
{
	json_t *a = json_loads(answer, 0, NULL);
	struct apf_spans spans = { 0 };
	struct apf_err err;
	size_t o = 0;

	assert_non_null(a);
	assert_int_equal(apf_ollama_align(text, strlen(text), a, apf_labelset_v1(), &spans, st, &err), 0);
	out[0] = '\0';
	for (size_t i = 0; i < spans.n; i++) {
		size_t bs, be;
		assert_int_equal(apf_utf8_cp_to_byte(text, strlen(text), (size_t)spans.v[i].start, &bs), 0);
		assert_int_equal(apf_utf8_cp_to_byte(text, strlen(text), (size_t)spans.v[i].end, &be), 0);
		assert_true(spans.v[i].score < 0);
		o += (size_t)snprintf(out + o, n - o, "%s%s %lld-%lld [%.*s]", i ? "; " : "", spans.v[i].label,
				      (long long)spans.v[i].start, (long long)spans.v[i].end, (int)(be - bs), text + bs);
	}
	free(spans.v);
	json_decref(a);
}

static void test_align(void **state)
{
	/* "東京港 😀 Ærø  Star e\u0301 Rotterdamse Rotterdam" */
	const char *text = "\xE6\x9D\xB1\xE4\xBA\xAC\xE6\xB8\xAF \xF0\x9F\x98\x80 \xC3\x86r\xC3\xB8  Star e\xCC\x81 "
			   "Rotterdamse Rotterdam";
	struct apf_ollama_stats st = { 0 };
	char buf[1024];

	(void)state;
	align_str(text,
		  "{\"chunks\":[{\"start\":0,\"end\":40,\"entities\":["
		  "{\"text\":\"\xE6\x9D\xB1\xE4\xBA\xAC\xE6\xB8\xAF\",\"label\":\"PORT\"},"
		  "{\"text\":\" \xC3\x86r\xC3\xB8 Star \",\"label\":\"vessel name\"},"
		  "{\"text\":\"Rotterdam\",\"label\":\"PORT\"},"
		  "{\"text\":\"e\xCC\x81\",\"label\":\"DATE\"},"
		  "{\"text\":\"Atlantis\",\"label\":\"PORT\"},"
		  "{\"text\":\"Rotterdam\",\"label\":\"CITY\"},"
		  "{\"text\":\"\",\"label\":\"PORT\"},"
		  "{\"text\":7,\"label\":\"PORT\"}]}]}",
		  buf, sizeof(buf), &st);
	/* Code points: the emoji and the combining mark count one each; the
	 * double space matches a single one in the answer; Rotterdam inside
	 * Rotterdamse is no match; the label is normalised. */
	assert_string_equal(buf, "PORT 0-3 [\xE6\x9D\xB1\xE4\xBA\xAC\xE6\xB8\xAF]; "
				 "VESSEL_NAME 6-15 [\xC3\x86r\xC3\xB8  Star]; DATE 16-18 [e\xCC\x81]; "
				 "PORT 31-40 [Rotterdam]");
	assert_int_equal(st.dropped_label, 1);
	assert_int_equal(st.dropped_text, 2); /* Atlantis, "" */
	assert_int_equal(st.dropped_bad, 1);

	/* Chunks: a text is looked for in its own chunk only; the same span
	 * found in two overlapping chunks counts once. */
	memset(&st, 0, sizeof(st));
	align_str("alpha beta gamma beta",
		  "{\"chunks\":[{\"start\":0,\"end\":16,\"entities\":[{\"text\":\"beta\",\"label\":\"PORT\"},"
		  "{\"text\":\"gamma\",\"label\":\"PORT\"}]},"
		  "{\"start\":11,\"end\":21,\"entities\":[{\"text\":\"gamma\",\"label\":\"PORT\"},"
		  "{\"text\":\"alpha\",\"label\":\"PORT\"}]}]}",
		  buf, sizeof(buf), &st);
	assert_string_equal(buf, "PORT 6-10 [beta]; PORT 11-16 [gamma]");
	assert_int_equal(st.dropped_text, 1); /* alpha is not in the second chunk */

	/* An answer that does not fit the text is an error. */
	json_t *bad = json_loads("{\"chunks\":[{\"start\":0,\"end\":99,\"entities\":[]}]}", 0, NULL);
	struct apf_spans spans = { 0 };
	struct apf_err err;
	assert_int_equal(apf_ollama_align("abc", 3, bad, apf_labelset_v1(), &spans, &st, &err), APF_EINVAL);
	assert_string_equal(err.msg, "bad Ollama answer: chunk 0 does not fit the text");
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_align),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
