/* test_jsonw.c: the streaming JSON writer (apflow/jsonw.h), its exact text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/jsonw.h"

/* One object with every kind of member, nested containers, empty ones. */
static void write_sample(struct apf_jsonw *jw)
{
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_string(jw, "name", "Ærø Star 船 🚢 e\xcc\x81");
	apf_jsonw_object_int(jw, "pages", 12);
	apf_jsonw_object_int(jw, "min", INT64_MIN);
	apf_jsonw_object_bool(jw, "dry_run", 0);
	apf_jsonw_object_string(jw, "none", NULL);
	apf_jsonw_object_array(jw, "empty");
	apf_jsonw_end(jw);
	apf_jsonw_object_object(jw, "score");
	apf_jsonw_object_double(jw, "f1", 1.0);
	apf_jsonw_object_null(jw, "after");
	apf_jsonw_end(jw);
	apf_jsonw_object_array(jw, "rows");
	apf_jsonw_array_int(jw, -3);
	apf_jsonw_object_begin(jw);
	apf_jsonw_object_bool(jw, "ok", 1);
	apf_jsonw_end(jw);
	apf_jsonw_array_begin(jw);
	apf_jsonw_end(jw);
	apf_jsonw_object_begin(jw);
	apf_jsonw_end(jw);
	apf_jsonw_array_stringn(jw, "ab\0c", 4);
	apf_jsonw_array_null(jw);
	apf_jsonw_array_bool(jw, 1);
	apf_jsonw_array_double(jw, 0.5);
	apf_jsonw_end(jw);
	apf_jsonw_end(jw);
}

static void test_compact(void **state)
{
	struct apf_jsonw jw;

	(void)state;
	apf_jsonw_init(&jw, 0, 0);
	write_sample(&jw);
	assert_true(apf_jsonw_ok(&jw));
	assert_string_equal(jw.buf.data,
			    "{\"name\":\"Ærø Star 船 🚢 e\xcc\x81\",\"pages\":12,\"min\":-9223372036854775808,"
			    "\"dry_run\":false,\"none\":null,\"empty\":[],\"score\":{\"f1\":1.0,\"after\":null},"
			    "\"rows\":[-3,{\"ok\":true},[],{},\"ab\\u0000c\",null,true,0.5]}");
	apf_jsonw_release(&jw);
}

static void test_indent(void **state)
{
	struct apf_jsonw jw;

	(void)state;
	apf_jsonw_init(&jw, 2, 0);
	write_sample(&jw);
	assert_true(apf_jsonw_ok(&jw));
	assert_string_equal(jw.buf.data, "{\n"
					 "  \"name\": \"Ærø Star 船 🚢 e\xcc\x81\",\n"
					 "  \"pages\": 12,\n"
					 "  \"min\": -9223372036854775808,\n"
					 "  \"dry_run\": false,\n"
					 "  \"none\": null,\n"
					 "  \"empty\": [],\n"
					 "  \"score\": {\n"
					 "    \"f1\": 1.0,\n"
					 "    \"after\": null\n"
					 "  },\n"
					 "  \"rows\": [\n"
					 "    -3,\n"
					 "    {\n"
					 "      \"ok\": true\n"
					 "    },\n"
					 "    [],\n"
					 "    {},\n"
					 "    \"ab\\u0000c\",\n"
					 "    null,\n"
					 "    true,\n"
					 "    0.5\n"
					 "  ]\n"
					 "}");
	apf_jsonw_release(&jw);

	/* A top-level array, one space a level (apflow check --json). */
	apf_jsonw_init(&jw, 1, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_array(&jw, "examples");
	apf_jsonw_array_string(&jw, "a");
	apf_jsonw_end(&jw);
	apf_jsonw_end(&jw);
	apf_jsonw_end(&jw);
	assert_true(apf_jsonw_ok(&jw));
	assert_string_equal(jw.buf.data, "[\n {\n  \"examples\": [\n   \"a\"\n  ]\n }\n]");
	apf_jsonw_release(&jw);
}

static void test_escaping(void **state)
{
	struct apf_jsonw jw;

	(void)state;
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_string(&jw, "k\"ey\\", "q\" b\\ n\n r\r t\t \x01 \x1f / é");
	apf_jsonw_end(&jw);
	assert_true(apf_jsonw_ok(&jw));
	assert_string_equal(jw.buf.data, "{\"k\\\"ey\\\\\":\"q\\\" b\\\\ n\\n r\\r t\\t \\u0001 \\u001f / é\"}");
	apf_jsonw_release(&jw);

	/* Not UTF-8 (a stray Latin-1 byte, a cut sequence, a surrogate): each
	 * ill-formed part becomes U+FFFD; the rest is kept. */
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_array_string(&jw, "caf\xe9.pdf");
	apf_jsonw_array_stringn(&jw, "a\xe8\x88", 3);
	apf_jsonw_array_string(&jw, "\xed\xa0\x80\"x");
	apf_jsonw_end(&jw);
	assert_true(apf_jsonw_ok(&jw));
	assert_string_equal(jw.buf.data, "[\"caf\xef\xbf\xbd.pdf\",\"a\xef\xbf\xbd\",\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\\\"x\"]");
	apf_jsonw_release(&jw);
}

static void test_numbers(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{ 0.0, "0.0" },
		{ -0.0, "-0.0" },
		{ 2.0, "2.0" },
		{ 0.5, "0.5" },
		/* The shortest text that reads back as the same double. */
		{ 0.1, "0.1" },
		{ 0.3, "0.3" },
		{ 0.1 + 0.2, "0.30000000000000004" }, /* 17 digits: 0.3 is another double */
		{ 1.0 / 3, "0.3333333333333333" },    /* 16 */
		{ 2.0 / 3, "0.6666666666666666" },
		{ 66.7, "66.7" },
		{ 0.571, "0.571" },
		{ 1e20, "1e20" },
		{ 1.5e-7, "1.5e-7" },
		{ 1e300, "1e300" },
		{ 1.7976931348623157e308, "1.7976931348623157e308" },
		{ 5e-324, "4.94065645841247e-324" }, /* 15 digits read back as the least subnormal */
		{ -2.5e-300, "-2.5e-300" },
		{ 123456789.0, "123456789.0" },
		{ 1e17, "1e17" },
	};
	struct apf_jsonw jw;
	char tmp[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(apf_jsonw_fmt_double(tmp, cases[i].v), cases[i].text);
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_array_double(&jw, 0.0 / 0.0);
	apf_jsonw_array_double(&jw, 1.0 / 0.0);
	apf_jsonw_array_int(&jw, INT64_MAX);
	apf_jsonw_array_int(&jw, 0);
	apf_jsonw_end(&jw);
	assert_true(apf_jsonw_ok(&jw));
	assert_string_equal(jw.buf.data, "[null,null,9223372036854775807,0]");
	apf_jsonw_release(&jw);
}

static void test_sub(void **state)
{
	struct apf_jsonw jw, sub;

	(void)state;
	for (int indent = 0; indent <= 2; indent += 2) {
		apf_jsonw_init(&sub, indent, 0);
		apf_jsonw_array_begin(&sub);
		apf_jsonw_array_string(&sub, "V001");
		apf_jsonw_object_begin(&sub);
		apf_jsonw_object_int(&sub, "n", 1);
		apf_jsonw_end(&sub);
		apf_jsonw_end(&sub);
		apf_jsonw_init(&jw, indent, 0);
		apf_jsonw_object_begin(&jw);
		apf_jsonw_object_bool(&jw, "dry_run", 1);
		apf_jsonw_object_sub(&jw, "applied", &sub);
		apf_jsonw_object_array(&jw, "list");
		apf_jsonw_array_sub(&jw, &sub);
		apf_jsonw_end(&jw);
		apf_jsonw_end(&jw);
		assert_true(apf_jsonw_ok(&jw));
		assert_string_equal(jw.buf.data,
				    indent ? "{\n"
					     "  \"dry_run\": true,\n"
					     "  \"applied\": [\n"
					     "    \"V001\",\n"
					     "    {\n"
					     "      \"n\": 1\n"
					     "    }\n"
					     "  ],\n"
					     "  \"list\": [\n"
					     "    [\n"
					     "      \"V001\",\n"
					     "      {\n"
					     "        \"n\": 1\n"
					     "      }\n"
					     "    ]\n"
					     "  ]\n"
					     "}"
					   : "{\"dry_run\":true,\"applied\":[\"V001\",{\"n\":1}],\"list\":[[\"V001\",{\"n\":1}]]}");
		apf_jsonw_release(&jw);
		apf_jsonw_release(&sub);
	}
	/* An unfinished sub-writer, or one of another indent, is refused. */
	apf_jsonw_init(&sub, 0, 0);
	apf_jsonw_array_begin(&sub);
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_array_sub(&jw, &sub);
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);
	apf_jsonw_end(&sub);
	apf_jsonw_init(&jw, 2, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_array_sub(&jw, &sub);
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);
	apf_jsonw_release(&sub);
}

static void test_misuse_and_cap(void **state)
{
	struct apf_jsonw jw;

	(void)state;
	/* Nothing written, or a container left open: not ok. */
	apf_jsonw_init(&jw, 0, 0);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_object_begin(&jw);
	assert_false(apf_jsonw_ok(&jw));
	/* An element in an object. */
	apf_jsonw_array_int(&jw, 1);
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);

	/* A member in an array, and one end too many. */
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_object_int(&jw, "k", 1);
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_end(&jw);
	assert_true(apf_jsonw_ok(&jw));
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);

	/* Two top-level values. */
	apf_jsonw_init(&jw, 0, 0);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_end(&jw);
	apf_jsonw_array_begin(&jw);
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);

	/* Deeper than APF_JSONW_MAX_DEPTH. */
	apf_jsonw_init(&jw, 0, 0);
	for (int i = 0; i <= APF_JSONW_MAX_DEPTH; i++)
		apf_jsonw_array_begin(&jw);
	for (int i = 0; i <= APF_JSONW_MAX_DEPTH; i++)
		apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	apf_jsonw_release(&jw);

	/* The cap: the writer stops and says so. */
	apf_jsonw_init(&jw, 0, 16);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_string(&jw, "key", "a value too long for 16 bytes");
	apf_jsonw_end(&jw);
	assert_false(apf_jsonw_ok(&jw));
	assert_true(jw.buf.len <= 16);
	apf_jsonw_release(&jw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_indent),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_misuse_and_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
