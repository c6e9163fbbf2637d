/*
 * fuzz_pdf.c: libFuzzer target for the PDF text path (src/core/pdf*.c):
 * opening a document (the checks of apf_pdf_probe(), MuPDF's repair of a
 * broken file) and reading the text layer of its first pages through
 * apf_pdf_page_text(), the port of MuPDF's text extraction that the text
 * engine runs on every page.
 *
 * The input is the file.  apf_pdf_open() takes a path, so the bytes go into
 * a memory file (memfd) opened through /proc/self/fd/N.  Checks beyond "no
 * crash, no leak": a page's text is well-formed UTF-8 whose statistics
 * count it right; an error is one of those pdf.h documents.
 *
 * With FUZZ_PDF_DIFF=1 in the environment the target also reads each page
 * through MuPDF's own structured-text device (apf_pdf_page_text_stext())
 * and aborts when the two texts differ: pdf.c promises the same text.
 *
 * MuPDF itself is Debian's build, not instrumented: coverage guides the
 * fuzzer through apflow's code only, and a fault inside MuPDF still shows
 * as a crash (AddressSanitizer intercepts its allocations).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "apflow/buf.h"
#include "apflow/err.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_pdf: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                    \
		}                                                                   \
	} while (0)

#define MAX_PAGES 4
#define TEXT_CAP ((size_t)4 << 20)

static struct apf_pdf_ctx *ctx;
static int fd = -1;
static char path[64];
static int diff;

static int known_error(int rc)
{
	return rc == APF_EPDF || rc == APF_ETOOBIG || rc == APF_ENOMEM || rc == APF_EIO;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apf_err err = { 0, "" };
	struct apf_pdf *pdf = NULL;
	struct apf_buf text, text2;
	struct apf_text_stats st, st2;
	size_t bad;
	int rc, pages;

	if (!ctx) {
		const char *d = getenv("FUZZ_PDF_DIFF");
		diff = d && !strcmp(d, "1");
		CHECK(apf_pdf_ctx_new_single((size_t)64 << 20, &ctx, &err) == 0);
		fd = memfd_create("fuzz-pdf", 0);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

	rc = apf_pdf_open(ctx, path, &pdf, &err);
	if (rc) {
		CHECK(known_error(rc) && err.code == rc && err.msg[0]);
		CHECK(pdf == NULL);
		return 0;
	}
	pages = apf_pdf_page_count(pdf);
	CHECK(pages >= 1);
	apf_buf_init(&text, TEXT_CAP);
	apf_buf_init(&text2, TEXT_CAP);
	for (int p = 1; p <= pages && p <= MAX_PAGES; p++) {
		rc = apf_pdf_page_text(pdf, p, &text, &st, &err);
		if (rc) {
			CHECK(known_error(rc) && err.code == rc);
			continue;
		}
		CHECK(apf_utf8_validate(text.data ? text.data : "", text.len, &bad) == 0);
		CHECK(st.chars == apf_utf8_count(text.data ? text.data : "", text.len));
		CHECK(st.nonspace <= st.chars && st.garbage <= st.nonspace);
		(void)apf_pdf_text_is_real(&st);
		(void)apf_pdf_page_note(pdf);
		if (diff && apf_pdf_page_text_stext(pdf, p, &text2, &st2, &err) == 0) {
			if (text.len != text2.len || memcmp(text.data ? text.data : "", text2.data ? text2.data : "", text.len)) {
				fprintf(stderr, "fuzz_pdf: page %d: apf_pdf_page_text gave\n%.*s\n---- stext gave\n%.*s\n",
					p, (int)text.len, text.data ? text.data : "", (int)text2.len, text2.data ? text2.data : "");
				abort();
			}
		}
	}
	/* Out of range is refused, not read. */
	CHECK(apf_pdf_page_text(pdf, pages + 1, &text, &st, &err) == APF_EINVAL);
	apf_buf_release(&text);
	apf_buf_release(&text2);
	apf_pdf_close(pdf);
	return 0;
}
