/*
 * corpus.h: helpers for the unit tests of the page-text engines
 * (test_pdf.c, test_ocr.c).  Header-only, all static inline, so each test
 * binary stays one source file.  Include after <cmocka.h>.
 *
 *   corpus_setup / corpus_teardown   cmocka group fixtures: the PDF corpus of
 *       scripts/gen-corpus.sh, made into a temporary directory (or taken from
 *       $APFLOW_TEST_CORPUS when set, to save regenerating it)
 *   corpus_path(name)                a file of the corpus (static buffer)
 *   corpus_text(name, page)          the expected text of a page (caller frees)
 *   open_or_fail(pc, name)           opens a corpus PDF or fails the test
 *   run_isolated(body, state)        runs a test body in a child process, so
 *       that a crash inside MuPDF or Tesseract fails that test alone
 *   word_accuracy(expected, got)     1 - word-level edit distance / words
 */
#ifndef APFLOW_TEST_CORPUS_H
#define APFLOW_TEST_CORPUS_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apflow/pdf.h"
#include "apflow/util.h"

static char corpus_dir[PATH_MAX];
static int corpus_owned;

static inline int corpus_setup(void **state)
{
	const char *given = getenv("APFLOW_TEST_CORPUS");
	const char *top = getenv("APFLOW_TOP");
	const char *tmp = getenv("TMPDIR");
	char cmd[PATH_MAX * 2 + 64];

	(void)state;
	if (given && *given) {
		apf_strlcpy(corpus_dir, given, sizeof(corpus_dir));
		return 0;
	}
	snprintf(corpus_dir, sizeof(corpus_dir), "%s/apflow-corpus.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(corpus_dir)) {
		perror("mkdtemp");
		return -1;
	}
	corpus_owned = 1;
	snprintf(cmd, sizeof(cmd), "'%s/scripts/gen-corpus.sh' '%s' >&2", top && *top ? top : ".",
		 corpus_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "# gen-corpus.sh failed\n");
		return -1;
	}
	return 0;
}

static inline int corpus_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	if (corpus_owned) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", corpus_dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static inline const char *corpus_path(const char *name)
{
	static char path[PATH_MAX + 256];

	if (snprintf(path, sizeof(path), "%s/%s", corpus_dir, name) >= (int)sizeof(path))
		abort();
	return path;
}

/* The expected text of page (1-based) of name.pdf. */
static inline char *corpus_text(const char *pdf, int page)
{
	char name[256], *data = NULL;
	size_t len, n = strlen(pdf);
	struct apf_err err;

	if (n > 4 && !strcmp(pdf + n - 4, ".pdf"))
		n -= 4;
	snprintf(name, sizeof(name), "%.*s.p%d.txt", (int)n, pdf, page);
	if (apf_read_file(corpus_path(name), 1 << 20, &data, &len, &err)) {
		fprintf(stderr, "# %s\n", err.msg);
		return NULL;
	}
	return data;
}

/*
 * Runs body(state) in a child.  A failed cmocka assertion there aborts the
 * child (CMOCKA_TEST_ABORT) rather than unwinding into the parent's copy of
 * the runner; the child ends with exit(), so LeakSanitizer checks it too
 * (and exits non-zero on a leak).
 */
static inline void run_isolated(void (*body)(void **), void **state)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("CMOCKA_TEST_ABORT", "1", 1);
		body(state);
		fflush(NULL);
		exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		fail_msg("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		fail_msg("test body died with signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("test body failed with exit status %d", WEXITSTATUS(status));
}

#define ISOLATED(name)                                  \
	static void name(void **state)                  \
	{                                               \
		run_isolated(name##_body, state);       \
	}

/* Splits s into words (runs of non-whitespace); returns the count, sets
 * *words to an array of pointers into a copy (both freed by the caller). */
static inline size_t split_words(const char *s, char ***words, char **copy)
{
	size_t n = 0, cap = 16;
	char *p, **w = apf_xmalloc(cap * sizeof(*w));

	*copy = apf_xstrdup(s);
	for (p = *copy; *p;) {
		while (*p == ' ' || *p == '\n' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		if (n == cap)
			w = apf_xrealloc(w, (cap *= 2) * sizeof(*w));
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\n' && *p != '\t')
			p++;
	}
	*words = w;
	return n;
}

/* 1 - (word-level Levenshtein distance / words expected), at least 0. */
static inline double word_accuracy(const char *expected, const char *got)
{
	char **a, **b, *ca, *cb;
	size_t na = split_words(expected, &a, &ca), nb = split_words(got, &b, &cb);
	size_t *prev = apf_xcalloc(nb + 1, sizeof(size_t)), *cur = apf_xcalloc(nb + 1, sizeof(size_t));
	double acc;

	for (size_t j = 0; j <= nb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t sub = prev[j - 1] + (strcmp(a[i - 1], b[j - 1]) != 0);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		size_t *t = prev;
		prev = cur;
		cur = t;
	}
	acc = na ? 1.0 - (double)prev[nb] / (double)na : (nb ? 0.0 : 1.0);
	free(prev);
	free(cur);
	free(a);
	free(b);
	free(ca);
	free(cb);
	return acc < 0 ? 0 : acc;
}

/* Threads of this process, from /proc/self/status. */
static inline int thread_count(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Threads:", 8))
			n = (int)strtol(line + 8, NULL, 10);
	fclose(f);
	return n;
}

static inline struct apf_pdf *open_or_fail(struct apf_pdf_ctx *pc, const char *name)
{
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 };

	if (apf_pdf_open(pc, corpus_path(name), &pdf, &err))
		fail_msg("cannot open %s: %s", name, err.msg);
	return pdf;
}

#endif
