/*
 * ocrstage_read.c: the OCR stage's page engines (ocrstage.h): a page read
 * as text (MuPDF's text layer), by Tesseract (rendered in gray) or by
 * DeepSeek-OCR (rendered as PNG, sent by the sender threads), and
 * recorded through ocrstage.c (ocrs_store_page(), ocrs_fail_page()).
 * The scheduler, commits and plan are in ocrstage.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/buf.h"
#include "apflow/deepseek.h"
#include "apflow/ocr.h"
#include "apflow/pdf.h"
#include "apflow/util.h"
#include "core/ocrstage_impl.h"

int ocrs_ensure_ocr(struct worker *w, struct apf_err *err)
{
	struct stage *st = w->st;
	int rc;

	if (w->ocr)
		return 0;
	rc = apf_ocr_new(st->lang, st->opt->tessdata, &w->ocr, err);
	if (!rc) {
		apf_ocr_set_timeout(w->ocr, st->opt->page_timeout_ms > 0 ? st->opt->page_timeout_ms : 120000);
		apf_ocr_set_cancel(w->ocr, st->opt->cancel);
	}
	return rc;
}

/*
 * MuPDF reads a page whose objects are gone (a truncated file) as an empty
 * page and only says so in a note: that page failed, it is not blank.
 */
static int damaged_empty(struct apf_pdf *pdf, const struct apf_text_stats *stats, struct apf_err *err)
{
	const char *note = apf_pdf_page_note(pdf);

	if (stats->chars || !note)
		return 0;
	return apf_error(err, APF_EPDF, "damaged page, read as empty: %s", note);
}

static void page_tesseract(struct worker *w, struct doc *d, struct apf_pdf *pdf, int page)
{
	struct stage *st = w->st;
	struct apf_pixmap pm = { 0 };
	struct apf_text_stats stats;
	struct apf_err err;
	int conf = 0, rc;

	/* Stopping: the page stays unread, and so its document uncommitted. */
	if (ocrs_wait_started(st))
		return;
	apf_err_clear(&err);
	rc = ocrs_ensure_ocr(w, &err);
	if (!rc)
		rc = apf_pdf_render_gray(pdf, page, st->dpi, &pm, &err);
	if (!rc) {
		rc = apf_ocr_page(w->ocr, &pm, 0, &w->text, &conf, &stats, &err);
		apf_pixmap_release(&pm);
	}
	if (!rc)
		rc = damaged_empty(pdf, &stats, &err);
	/* A page cut short by a cancel is not a failed page: it stays unread. */
	if (rc && ocrs_cancelled(st))
		return;
	if (rc)
		ocrs_fail_page(st, d, page, PE_TESSERACT, err.msg);
	else
		ocrs_store_page(st, d, page, PE_TESSERACT, st->model_tesseract, &w->text, &stats, conf / 100.0);
}

static void page_text(struct worker *w, struct doc *d, struct apf_pdf *pdf, int page)
{
	struct stage *st = w->st;
	struct apf_text_stats stats;
	struct apf_err err;

	int inked = 1, rc;

	apf_err_clear(&err);
	rc = apf_pdf_page_text(pdf, page, &w->text, &stats, &err);
	/*
	 * auto: a page without real text goes to Tesseract, unless nothing
	 * is drawn on it at all (a blank page: 20,000 of them took Tesseract
	 * some 2 hours); that one is stored as the text layer read it.
	 */
	if (!rc && st->engine == APF_OCRSTAGE_AUTO && !apf_pdf_text_is_real(&stats)) {
		rc = apf_pdf_page_inked(pdf, page, &inked, &err);
		if (!rc && inked) {
			page_tesseract(w, d, pdf, page);
			return;
		}
		if (!rc)
			ocrs_count_blank(st);
	}
	if (!rc)
		rc = damaged_empty(pdf, &stats, &err);
	if (rc && ocrs_cancelled(st))
		return;
	if (rc)
		ocrs_fail_page(st, d, page, PE_TEXT, err.msg);
	else
		ocrs_store_page(st, d, page, PE_TEXT, st->model_text, &w->text, &stats, -1);
}

/* Queues a rendered page for the senders; waits while the queue is full. */
static void page_deepseek(struct worker *w, struct doc *d, struct apf_pdf *pdf, int page)
{
	struct stage *st = w->st;
	struct apf_err err;
	struct dsreq *r;
	int rc;

	if (ocrs_wait_started(st))
		return;
	apf_err_clear(&err);
	rc = apf_pdf_render_png(pdf, page, st->dpi, 0, &w->png, NULL, &err);
	if (rc && ocrs_cancelled(st))
		return;
	if (rc) {
		ocrs_fail_page(st, d, page, PE_DEEPSEEK, err.msg);
		return;
	}
	r = apf_xcalloc(1, sizeof(*r));
	r->d = d;
	r->page = page;
	r->png = w->png; /* the request takes the buffer */
	apf_buf_init(&w->png, 0);
	ocrs_doc_ref(st, d);
	pthread_mutex_lock(&st->lock);
	while (st->dq_len >= st->dq_cap && !st->stopping)
		pthread_cond_wait(&st->dq_cond, &st->lock);
	if (st->stopping) {
		pthread_mutex_unlock(&st->lock);
		apf_buf_release(&r->png);
		free(r);
		ocrs_doc_release(st, d);
		return;
	}
	if (st->dq_tail)
		st->dq_tail->next = r;
	else
		st->dq_head = r;
	st->dq_tail = r;
	st->dq_len++;
	pthread_cond_broadcast(&st->dq_cond);
	pthread_mutex_unlock(&st->lock);
}

void *ocrs_sender_main(void *arg)
{
	struct stage *st = arg;
	struct apf_buf text;

	apf_buf_init(&text, APF_OCRSTAGE_PAGE_TEXT_MAX);
	for (;;) {
		struct dsreq *r;
		struct apf_text_stats stats;
		struct apf_err err;
		char what[64];

		pthread_mutex_lock(&st->lock);
		while (!st->dq_head && !st->senders_stop && !st->stopping)
			pthread_cond_wait(&st->dq_cond, &st->lock);
		r = st->dq_head;
		if (r) {
			st->dq_head = r->next;
			if (!st->dq_head)
				st->dq_tail = NULL;
			st->dq_len--;
			pthread_cond_broadcast(&st->dq_cond);
		}
		pthread_mutex_unlock(&st->lock);
		if (!r)
			break;
		if (!ocrs_stopping(st)) {
			apf_err_clear(&err);
			snprintf(what, sizeof(what), "deepseek %s:%d", r->d->id, r->page);
			if (apf_deepseek_page(st->ds, r->png.data, r->png.len, what, &text, &stats, &err))
				ocrs_fail_page(st, r->d, r->page, PE_DEEPSEEK, err.msg);
			else
				ocrs_store_page(st, r->d, r->page, PE_DEEPSEEK, apf_deepseek_model(st->ds), &text,
					   &stats, -1);
		}
		apf_buf_release(&r->png);
		ocrs_doc_release(st, r->d);
		free(r);
	}
	apf_buf_release(&text);
	return NULL;
}

void ocrs_read_page(struct worker *w, struct doc *d, struct apf_pdf *pdf, int page)
{
	switch (w->st->engine) {
	case APF_OCRSTAGE_TESSERACT:
		page_tesseract(w, d, pdf, page);
		break;
	case APF_OCRSTAGE_DEEPSEEK:
		page_deepseek(w, d, pdf, page);
		break;
	default:
		page_text(w, d, pdf, page);
		break;
	}
}
