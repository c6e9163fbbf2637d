/*
 * pdf.h: PDF documents through MuPDF.  pdf.c is the only file that calls
 * MuPDF; every fz_try/fz_catch stays inside it and is turned into APF_EPDF
 * (damaged, encrypted, unsupported) or APF_ENOMEM/APF_EIO.
 *
 * Threads: one struct apf_pdf_ctx per thread.  Make the first with
 * apf_pdf_ctx_new() and the others with apf_pdf_ctx_clone(); they share
 * MuPDF's caches under locks.  A document belongs to the context that
 * opened it.
 */
#ifndef APFLOW_PDF_H
#define APFLOW_PDF_H

#include <stddef.h>
#include <stdint.h>

#include "apflow/err.h"

struct apf_pdf_ctx;
struct apf_pdf;

/*
 * Checks that path is a PDF apflow can work with: it starts with "%PDF-"
 * (after at most 1024 bytes of leading junk, as readers allow), MuPDF opens
 * it, it is not password-protected, and it has at least one page.  Sets
 * *pages.  Errors are APF_EPDF with a plain reason ("not a PDF",
 * "damaged PDF: ...", "encrypted PDF", "PDF has no pages").
 * Safe to call from any thread (uses its own context).
 */
int apf_pdf_probe(const char *path, int *pages, struct apf_err *err);

int apf_pdf_ctx_new(struct apf_pdf_ctx **out, struct apf_err *err);
int apf_pdf_ctx_clone(struct apf_pdf_ctx *base, struct apf_pdf_ctx **out, struct apf_err *err);
void apf_pdf_ctx_free(struct apf_pdf_ctx *ctx);

int apf_pdf_open(struct apf_pdf_ctx *ctx, const char *path, struct apf_pdf **out, struct apf_err *err);
void apf_pdf_close(struct apf_pdf *pdf);
int apf_pdf_page_count(struct apf_pdf *pdf);

#endif
