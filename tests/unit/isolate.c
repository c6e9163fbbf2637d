/*
 * isolate.c: runs each cmocka test of a unit-test binary in a process of
 * its own, so that a crash (in MuPDF, Tesseract, DuckDB) fails that test,
 * not the rest of the binary.  Linked into every tests/unit/test_* with
 * -Wl,--wrap=_cmocka_run_group_tests, so the test files stay plain cmocka.
 *
 * For each test the binary forks; the child runs the group's setup, that
 * one test and the group's teardown (cmocka's own TAP lines), and the
 * parent waits for it: a child killed by a signal, or exiting without
 * saying, is reported as "not ok - <test>: ...".  The exit status is
 * non-zero when any test failed.
 *
 *   APFLOW_TEST=name   runs only the test of that name (a glob), in-process
 *   APFLOW_TEST_NOFORK=1  runs the whole group in one process (a debugger)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests, const size_t num_tests,
				   CMFixtureFunction group_setup, CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests, const size_t num_tests,
				   CMFixtureFunction group_setup, CMFixtureFunction group_teardown);

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests, const size_t num_tests,
				   CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
	const char *one = getenv("APFLOW_TEST");
	const char *nofork = getenv("APFLOW_TEST_NOFORK");
	int failed = 0;

	if (one && *one) {
		cmocka_set_test_filter(one);
		return __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup, group_teardown);
	}
	if (nofork && *nofork && strcmp(nofork, "0"))
		return __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup, group_teardown);
	for (size_t i = 0; i < num_tests; i++) {
		int status = 0;
		pid_t pid;

		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			printf("not ok - %s: cannot fork\n", tests[i].name);
			failed++;
			continue;
		}
		if (pid == 0)
			exit(__real__cmocka_run_group_tests(group_name, &tests[i], 1, group_setup, group_teardown) ? 1 : 0);
		while (waitpid(pid, &status, 0) < 0)
			;
		if (WIFSIGNALED(status)) {
			printf("not ok - %s: killed by signal %d (%s)\n", tests[i].name, WTERMSIG(status),
			       strsignal(WTERMSIG(status)));
			failed++;
		} else if (WEXITSTATUS(status)) {
			/* cmocka said "not ok" itself, or a sanitizer did. */
			failed++;
		}
		fflush(stdout);
	}
	return failed;
}
