/*
 * pdf.c: the MuPDF adapter.  Every call into MuPDF, and every
 * fz_try/fz_catch, lives in this file.  Never goto or return out of an
 * fz_try block: set a flag and act after fz_catch.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mupdf/fitz.h>

#include "apflow/pdf.h"
#include "apflow/util.h"
#include "apflow/version.h"

const char *apf_pdf_library_version(void)
{
	return FZ_VERSION;
}

/* Looks for "%PDF-" in the first 1 KiB, as PDF readers do. */
static int has_pdf_signature(const char *path, struct apf_err *err)
{
	char head[1024 + 5];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (n == 0)
		return apf_error(err, APF_EPDF, "empty file");
	for (size_t i = 0; i + 5 <= n; i++)
		if (!memcmp(head + i, "%PDF-", 5))
			return 0;
	return apf_error(err, APF_EPDF, "not a PDF (no %%PDF- signature)");
}

int apf_pdf_probe(const char *path, int *pages, struct apf_err *err)
{
	fz_context *ctx;
	fz_document *volatile doc = NULL;
	volatile int count = 0, failed = 0, encrypted = 0;
	char reason[512] = "";
	int rc;

	rc = has_pdf_signature(path, err);
	if (rc)
		return rc;
	ctx = fz_new_context(NULL, NULL, FZ_STORE_DEFAULT);
	if (!ctx)
		return apf_error(err, APF_ENOMEM, "cannot create a MuPDF context");
	fz_set_warning_callback(ctx, NULL, NULL);
	fz_set_error_callback(ctx, NULL, NULL);
	fz_try(ctx) {
		fz_register_document_handlers(ctx);
		doc = fz_open_document(ctx, path);
		if (fz_needs_password(ctx, doc))
			encrypted = 1;
		else
			count = fz_count_pages(ctx, doc);
	}
	fz_catch(ctx) {
		failed = 1;
		apf_strlcpy(reason, fz_caught_message(ctx), sizeof(reason));
	}
	fz_drop_document(ctx, doc);
	fz_drop_context(ctx);
	if (failed)
		return apf_error(err, APF_EPDF, "damaged PDF: %s", reason);
	if (encrypted)
		return apf_error(err, APF_EPDF, "encrypted PDF: a password is needed to read it");
	if (count <= 0)
		return apf_error(err, APF_EPDF, "PDF has no pages");
	*pages = count;
	return 0;
}
