/* test_runstate.c: apflow run's state file (apflow/runstate.h), its exact
 * text and the errors of a missing or broken one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/runstate.h"
#include "apflow/util.h"

static char *tmp_path(const char *name)
{
	char tmpl[] = "/tmp/apflow-runstate-XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return apf_xasprintf("%s/%s", dir, name);
}

static void remove_all(char *path)
{
	char *slash = strrchr(path, '/');

	unlink(path);
	*slash = '\0';
	rmdir(path);
	free(path);
}

static void test_save_load(void **state)
{
	struct apf_run_state st, back;
	struct apf_err err;
	char *path = tmp_path("vessels_ocr_a.json"), *text = NULL;
	size_t len = 0;

	(void)state;
	memset(&st, 0, sizeof(st));
	apf_strlcpy(st.dataset, "vessels_ocr_a", sizeof(st.dataset));
	apf_strlcpy(st.started_at, "2026-12-03T08:01:02.123Z", sizeof(st.started_at));
	st.n = 2;
	apf_strlcpy(st.stages[0].stage, "ingest", sizeof(st.stages[0].stage));
	apf_strlcpy(st.stages[0].state, "done", sizeof(st.stages[0].state));
	st.stages[0].items = 12;
	st.stages[0].seconds = 0.5;
	apf_strlcpy(st.stages[0].note, "Ærø \"Star\" 船 🚢", sizeof(st.stages[0].note));
	apf_strlcpy(st.stages[1].stage, "push", sizeof(st.stages[1].stage));
	apf_strlcpy(st.stages[1].state, "failed", sizeof(st.stages[1].state));
	st.stages[1].failures = 3;
	st.stages[1].seconds = 2;
	assert_int_equal(apf_run_state_save(path, &st, &err), 0);
	assert_int_equal(apf_read_file(path, 1 << 20, &text, &len, &err), 0);
	assert_string_equal(text, "{\n"
				  "  \"dataset\": \"vessels_ocr_a\",\n"
				  "  \"started_at\": \"2026-12-03T08:01:02.123Z\",\n"
				  "  \"finished_at\": null,\n"
				  "  \"stages\": [\n"
				  "    {\n"
				  "      \"stage\": \"ingest\",\n"
				  "      \"state\": \"done\",\n"
				  "      \"items\": 12,\n"
				  "      \"failures\": 0,\n"
				  "      \"seconds\": 0.5,\n"
				  "      \"note\": \"Ærø \\\"Star\\\" 船 🚢\"\n"
				  "    },\n"
				  "    {\n"
				  "      \"stage\": \"push\",\n"
				  "      \"state\": \"failed\",\n"
				  "      \"items\": 0,\n"
				  "      \"failures\": 3,\n"
				  "      \"seconds\": 2.0,\n"
				  "      \"note\": \"\"\n"
				  "    }\n"
				  "  ]\n"
				  "}");
	free(text);

	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(apf_run_state_load(path, &back, &err), 0);
	assert_string_equal(back.dataset, "vessels_ocr_a");
	assert_string_equal(back.finished_at, "");
	assert_int_equal(back.n, 2);
	assert_string_equal(back.stages[0].note, "Ærø \"Star\" 船 🚢");
	assert_int_equal(back.stages[0].items, 12);
	assert_true(back.stages[0].seconds == 0.5);
	assert_string_equal(back.stages[1].state, "failed");
	assert_int_equal(back.stages[1].failures, 3);

	/* Finished: the time is written, and read back. */
	apf_strlcpy(st.finished_at, "2026-12-03T08:05:00.000Z", sizeof(st.finished_at));
	assert_int_equal(apf_run_state_save(path, &st, &err), 0);
	assert_int_equal(apf_run_state_load(path, &back, &err), 0);
	assert_string_equal(back.finished_at, "2026-12-03T08:05:00.000Z");
	remove_all(path);
}

static void test_missing_and_broken(void **state)
{
	struct apf_run_state st;
	struct apf_err err;
	char *path = tmp_path("x.json");
	char *msg;

	(void)state;
	assert_int_equal(apf_run_state_load(path, &st, &err), APF_ENOTFOUND);

	assert_int_equal(apf_write_file_atomic(path, "{\"stages\": [", 12, &err), 0);
	assert_int_equal(apf_run_state_load(path, &st, &err), APF_EINVAL);
	msg = apf_xasprintf("cannot read run state '%s': ", path);
	assert_true(apf_starts_with(err.msg, msg));
	free(msg);

	assert_int_equal(apf_write_file_atomic(path, "{\"dataset\": 1, \"stages\": []}", 28, &err), 0);
	assert_int_equal(apf_run_state_load(path, &st, &err), APF_EINVAL);
	msg = apf_xasprintf("cannot read run state '%s': not an object with a stages array", path);
	assert_string_equal(err.msg, msg);
	free(msg);

	assert_int_equal(apf_write_file_atomic(path, "{\"stages\": [{\"stage\": \"ingest\", \"note\": 7}]}", 44, &err), 0);
	assert_int_equal(apf_run_state_load(path, &st, &err), APF_EINVAL);
	msg = apf_xasprintf("cannot read run state '%s': stage 1 is not an object of strings", path);
	assert_string_equal(err.msg, msg);
	free(msg);
	remove_all(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_missing_and_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
