/* test_labelset.c: the embedded labelset v1 and the config/ asset table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/confasset.h"
#include "apflow/labelset.h"

static void test_v1(void **state)
{
	static const char *const names[] = {
		"VESSEL_NAME", "IMO_NUMBER", "MMSI", "CALL_SIGN", "FLAG_STATE",
		"PORT", "DATE", "ORGANIZATION", "VESSEL_TYPE", "TONNAGE",
	};
	const struct apf_labelset *ls = apf_labelset_v1();

	(void)state;
	assert_non_null(ls);
	assert_ptr_equal(ls, apf_labelset_v1()); /* parsed once */
	assert_string_equal(ls->version, "v1");
	assert_string_equal(ls->question_name, "entities");
	assert_int_equal(ls->n, 10);
	for (size_t i = 0; i < 10; i++) {
		assert_string_equal(ls->labels[i].name, names[i]);
		assert_int_equal(apf_labelset_find(ls, names[i]), (int)i);
		assert_int_equal(strlen(ls->labels[i].color), 7);
		assert_int_equal(ls->labels[i].color[0], '#');
		assert_true(strlen(ls->labels[i].description) > 10);
	}
	assert_string_equal(ls->labels[0].color, "#1f77b4");
	assert_string_equal(ls->labels[9].color, "#17becf");
	assert_int_equal(apf_labelset_find(ls, "vessel_name"), -1); /* case matters */
	assert_int_equal(apf_labelset_find(ls, "PERSON"), -1);
	assert_int_equal(apf_labelset_find(ls, ""), -1);
	assert_int_equal(apf_labelset_find(ls, NULL), -1);
	assert_int_equal(apf_labelset_find(NULL, "PORT"), -1);
}

static void test_assets(void **state)
{
	const struct apf_asset *a = apf_config_asset_find("labelset_v1.json");

	(void)state;
	assert_non_null(a);
	assert_string_equal(a->content_type, "application/json");
	assert_int_equal(a->data[a->size], 0);
	assert_int_equal(a->data[0], '{');
	assert_null(apf_config_asset_find("config/labelset_v1.json"));
	assert_null(apf_config_asset_find("nope.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1),
		cmocka_unit_test(test_assets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
