/*
 * test_dl.c: apf_dl_open() (apflow/dl.h), on libm, which every machine
 * has: a library and its functions, a function it lacks, a library that
 * is not there.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "apflow/dl.h"

static void test_loads(void **state)
{
	double (*fn_cos)(double) = NULL, (*fn_sqrt)(double) = NULL;
	const struct apf_dl_sym syms[] = { { "cos", &fn_cos }, { "sqrt", &fn_sqrt } };
	char why[256] = "";

	(void)state;
	assert_non_null(apf_dl_open("libm.so.6", RTLD_NOW | RTLD_LOCAL, syms, 2, why, sizeof(why)));
	assert_non_null(fn_cos);
	assert_true(fn_cos(0.0) == 1.0);
	assert_true(fn_sqrt(81.0) == 9.0);
	assert_string_equal(why, "");
}

static void test_missing_function(void **state)
{
	double (*fn_cos)(double) = NULL;
	void (*fn_none)(void) = NULL;
	const struct apf_dl_sym syms[] = { { "cos", &fn_cos }, { "apf_no_such_function", &fn_none } };
	char why[256] = "";

	(void)state;
	assert_null(apf_dl_open("libm.so.6", RTLD_NOW | RTLD_LOCAL, syms, 2, why, sizeof(why)));
	assert_string_equal(why, "libm.so.6 has no apf_no_such_function");
	assert_null(fn_none);
}

static void test_missing_library(void **state)
{
	double (*fn_cos)(double) = NULL;
	const struct apf_dl_sym syms[] = { { "cos", &fn_cos } };
	char why[256] = "";

	(void)state;
	assert_null(apf_dl_open("libapflow-not-there.so.9", RTLD_NOW | RTLD_LOCAL, syms, 1, why, sizeof(why)));
	assert_non_null(strstr(why, "libapflow-not-there.so.9"));
	assert_non_null(strstr(why, "No such file"));
	assert_null(fn_cos);
}

/* apf_dl_need(): loads once, says what failed with the hint, and
 * remembers a failure rather than trying again. */
static double (*need_cos)(double);
static const struct apf_dl_sym need_syms[] = { { "cos", &need_cos } };
static struct apf_dl_lib libm = APF_DL_LIB("libm", "libm.so.6", RTLD_NOW | RTLD_LOCAL, need_syms, "install libc6");
static struct apf_dl_lib nolib =
	APF_DL_LIB("libnope", "libnope-apflow.so.9", RTLD_NOW | RTLD_LOCAL, need_syms, "install nope");

static void test_need(void **state)
{
	struct apf_err err;

	(void)state;
	assert_int_equal(apf_dl_need(&libm, APF_EINTERNAL, &err), 0);
	assert_non_null(libm.handle);
	assert_true(need_cos(0.0) == 1.0);
	assert_int_equal(apf_dl_need(&libm, APF_EINTERNAL, &err), 0);
	assert_int_equal(apf_dl_need(&nolib, APF_EOCR, &err), APF_EOCR);
	assert_non_null(strstr(err.msg, "cannot load libnope (libnope-apflow.so.9): "));
	assert_non_null(strstr(err.msg, "; install nope"));
	assert_int_equal(nolib.tried, 1);
	assert_int_equal(apf_dl_need(&nolib, APF_EOCR, NULL), APF_EOCR);
}

/* apf_dl_preload() and a file found at load time: the thread loads, the
 * first need joins it, locate runs once, and the message names its file. */
static int located;
static const char *locate_libm(char *path, size_t size)
{
	located++;
	snprintf(path, size, "libm.so.%d", 6);
	return path;
}
static const char *locate_none(char *path, size_t size)
{
	(void)path;
	(void)size;
	located++;
	return "libnope-located.so.1";
}
static double (*pre_sqrt)(double);
static const struct apf_dl_sym pre_syms[] = { { "sqrt", &pre_sqrt } };
static struct apf_dl_lib prelib = { .what = "libm", .locate = locate_libm, .flags = RTLD_NOW | RTLD_LOCAL,
				    .syms = pre_syms, .n = 1, .hint = "install libc6",
				    .lock = PTHREAD_MUTEX_INITIALIZER };
static struct apf_dl_lib prenone = { .what = "libnope", .locate = locate_none, .flags = RTLD_NOW | RTLD_LOCAL,
				     .syms = pre_syms, .n = 1, .hint = "install nope",
				     .lock = PTHREAD_MUTEX_INITIALIZER };

static void test_preload_locate(void **state)
{
	struct apf_err err;

	(void)state;
	apf_dl_preload(&prelib);
	assert_int_equal(prelib.preload_state, 1);
	apf_dl_preload(&prelib); /* one thread, not two */
	assert_int_equal(apf_dl_need(&prelib, APF_EINTERNAL, &err), 0);
	assert_int_equal(prelib.preload_state, 2);
	assert_int_equal(located, 1);
	assert_string_equal(prelib.file, "libm.so.6");
	assert_true(pre_sqrt(16.0) == 4.0);
	apf_dl_preload(&prelib); /* loaded: no thread */
	assert_int_equal(prelib.preload_state, 2);
	assert_int_equal(apf_dl_need(&prelib, APF_EINTERNAL, &err), 0);
	assert_int_equal(located, 1);

	/* Need before any preload: none starts after. */
	assert_int_equal(apf_dl_need(&prenone, APF_EOCR, &err), APF_EOCR);
	assert_non_null(strstr(err.msg, "cannot load libnope (libnope-located.so.1): "));
	assert_non_null(strstr(err.msg, "; install nope"));
	apf_dl_preload(&prenone);
	assert_int_equal(prenone.preload_state, 2);
	assert_int_equal(apf_dl_need(&prenone, APF_EOCR, NULL), APF_EOCR);
	assert_int_equal(located, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads),
		cmocka_unit_test(test_missing_function),
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_need),
		cmocka_unit_test(test_preload_locate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
