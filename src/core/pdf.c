/*
 * pdf.c: the MuPDF adapter: contexts, documents, pages, rendering.  Every
 * call into MuPDF, and every fz_try/fz_catch, lives in this file or in
 * pdf_text.c (the text layer), which share core/pdf_impl.h.  Never goto
 * or return out of an fz_try or fz_always block: set a flag and act after
 * fz_catch.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include "apflow/log.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/version.h"
#include "core/pdf_impl.h"

const char *apf_pdf_library_version(void)
{
	return FZ_VERSION;
}

/*
 * MuPDF prints errors and warnings to stderr by default; a core function
 * must not.  Errors it throws reach the caller through fz_caught_message();
 * the problems it works around (a missing object read as null, a broken
 * font) are only reported here, so each context keeps the first one for
 * apf_pdf_page_note(), and logs warnings at debug level.  Every context
 * has its own callbacks (user = its struct apf_pdf_ctx), so threads never
 * share these fields.
 */
static void note(struct apf_pdf_ctx *pc, const char *message)
{
	if (!pc->notes++)
		apf_strlcpy(pc->note, message, sizeof(pc->note));
}

static void on_mupdf_warning(void *user, const char *message)
{
	apf_log_debug("mupdf: %s", message);
	note(user, message);
}

static void on_mupdf_error(void *user, const char *message)
{
	note(user, message);
}

static void set_callbacks(struct apf_pdf_ctx *pc)
{
	fz_set_warning_callback(pc->ctx, on_mupdf_warning, pc);
	fz_set_error_callback(pc->ctx, on_mupdf_error, pc);
}

static void reset_notes(struct apf_pdf_ctx *pc)
{
	/* Repeated warnings are held back until a different one comes; let
	 * them out now, so they count for what came before. */
	fz_flush_warnings(pc->ctx);
	pc->notes = 0;
	pc->note[0] = '\0';
}

/* Records the notes of the page just read in pdf->page_note. */
static void keep_page_note(struct apf_pdf *pdf)
{
	fz_flush_warnings(pdf->pc->ctx);
	apf_strlcpy(pdf->page_note, pdf->pc->notes ? pdf->pc->note : "", sizeof(pdf->page_note));
}

/* Turns the exception just caught into an apflow error. */
int apf_pdf_caught(fz_context *ctx, struct apf_err *err, int code, const char *what)
{
	const struct apf_pdf_ctx *pc = fz_user_context(ctx);

	if (fz_caught(ctx) == FZ_ERROR_MEMORY && pc && pc->heap.hit)
		return apf_error(err, APF_ETOOBIG, "%s: the page takes more than %zu MiB of memory to read", what,
				 (size_t)APF_PDF_PAGE_HEAP_MAX >> 20);
	if (fz_caught(ctx) == FZ_ERROR_MEMORY)
		return apf_error(err, APF_ENOMEM, "%s: out of memory", what);
	return apf_error(err, code, "%s: %s", what, fz_caught_message(ctx));
}

/*
 * A context of its own, for one thread at a time: nothing passes between
 * contexts (each opens its own documents, has its own resource store,
 * font and glyph caches), so MuPDF needs no locks (fz_new_context() with
 * none: its lock functions then do nothing).  Contexts cloned from one
 * base would share the store and caches, but MuPDF takes its allocation
 * lock around every allocation, and threads on clones waited on each
 * other: two threads extracting text ran 1.35x one thread on clones, 1.8x
 * on bases of their own, and without locks at all some 5% less CPU again
 * (1,000 born-digital pages, 2 CPUs).  So apflow makes no clones.
 */
/*
 * MuPDF's allocations, counted per context (one thread at a time, so no
 * lock), so that opening a file has a memory bound: a size header before
 * each block, 16 bytes to keep malloc's alignment.
 */
#define HEAP_HDR 16
/* What a block costs besides its size: the header and malloc's own (a
 * /Kids array is millions of 16-byte objects, where that doubles it). */
#define HEAP_COST(size) ((size) + HEAP_HDR + 16)

static void *heap_malloc(void *user, size_t size)
{
	struct pdf_heap *h = user;
	unsigned char *p;

	if (size > SIZE_MAX / 2)
		return NULL;
	if (h->limit && (HEAP_COST(size) > h->limit || h->live > h->limit - HEAP_COST(size))) {
		h->hit = 1;
		return NULL;
	}
	if (!(p = malloc(size + HEAP_HDR)))
		return NULL;
	memcpy(p, &size, sizeof(size));
	h->live += HEAP_COST(size);
	return p + HEAP_HDR;
}

static void *heap_realloc(void *user, void *old, size_t size)
{
	struct pdf_heap *h = user;
	unsigned char *p;
	size_t was;

	if (!old)
		return heap_malloc(user, size);
	p = (unsigned char *)old - HEAP_HDR;
	memcpy(&was, p, sizeof(was));
	if (size > SIZE_MAX / 2)
		return NULL;
	if (h->limit && size > was && (size - was > h->limit || h->live > h->limit - (size - was))) {
		h->hit = 1;
		return NULL;
	}
	if (!(p = realloc(p, size + HEAP_HDR)))
		return NULL;
	memcpy(p, &size, sizeof(size));
	h->live = h->live - HEAP_COST(was) + HEAP_COST(size);
	return p + HEAP_HDR;
}

static void heap_free(void *user, void *ptr)
{
	struct pdf_heap *h = user;
	unsigned char *p;
	size_t was;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - HEAP_HDR;
	memcpy(&was, p, sizeof(was));
	h->live -= HEAP_COST(was);
	free(p);
}

int apf_pdf_ctx_new_single(size_t store_max, struct apf_pdf_ctx **out, struct apf_err *err)
{
	fz_context *ctx;
	int failed = 0;
	struct apf_pdf_ctx *pc = apf_xcalloc(1, sizeof(*pc));
	fz_alloc_context alloc = { &pc->heap, heap_malloc, heap_realloc, heap_free };

	ctx = fz_new_context(&alloc, NULL, store_max ? store_max : FZ_STORE_DEFAULT);
	if (!ctx) {
		free(pc);
		return apf_error(err, APF_ENOMEM, "cannot create a MuPDF context");
	}
	pc->ctx = ctx;
	fz_set_user_context(ctx, pc);
	set_callbacks(pc);
	fz_try(ctx)
		fz_register_document_handlers(ctx);
	fz_catch(ctx)
		failed = 1;
	if (failed) {
		apf_pdf_ctx_free(pc);
		return apf_error(err, APF_ENOMEM, "cannot set up a MuPDF context");
	}
	*out = pc;
	return 0;
}

int apf_pdf_ctx_new(struct apf_pdf_ctx **out, struct apf_err *err)
{
	return apf_pdf_ctx_new_single(0, out, err);
}

void apf_pdf_ctx_set_limits(struct apf_pdf_ctx *pc, const struct apf_pdf_limits *limits)
{
	pc->limits = *limits;
}

void apf_pdf_budget_start(const struct apf_pdf_ctx *pc, struct apf_pdf_budget *b, const char *unit)
{
	memset(b, 0, sizeof(*b));
	if (!strcmp(unit, APF_PDF_UNIT_DRAWS))
		b->max_ops = pc->limits.max_draws > 0 ? pc->limits.max_draws : APF_PDF_MAX_PAGE_DRAWS;
	else
		b->max_ops = pc->limits.max_ops > 0 ? pc->limits.max_ops : APF_PDF_MAX_PAGE_OPS;
	b->max_ms = pc->limits.max_ms > 0 ? pc->limits.max_ms : APF_PDF_MAX_PAGE_MS;
	b->deadline_ms = apf_now_ms() + b->max_ms;
	b->cancel = pc->limits.cancel;
	b->unit = unit;
}

int apf_pdf_budget_over(struct apf_pdf_budget *b)
{
	if (!b->tripped) {
		if (b->cancel && *b->cancel) {
			b->tripped = APF_EINTERNAL;
			snprintf(b->why, sizeof(b->why), "cancelled");
		} else if (b->ops > b->max_ops) {
			b->tripped = APF_ETOOBIG;
			snprintf(b->why, sizeof(b->why), "the page passes %lld %s", (long long)b->max_ops, b->unit);
		} else if (apf_now_ms() > b->deadline_ms) {
			b->tripped = APF_ETIMEOUT;
			snprintf(b->why, sizeof(b->why), "the page takes more than %d ms", b->max_ms);
		}
	}
	return b->tripped;
}

void apf_pdf_budget_check(fz_context *ctx, struct apf_pdf_budget *b)
{
	/* Once tripped, every later tick throws again: MuPDF may swallow
	 * one (an annotation's appearance is drawn under a catch). */
	if (apf_pdf_budget_over(b))
		fz_throw(ctx, FZ_ERROR_ABORT, "%s", b->why);
}

int apf_pdf_caught_budget(fz_context *ctx, const struct apf_pdf_budget *b, struct apf_err *err, int code,
			  const char *what)
{
	if (b->tripped)
		return apf_error(err, b->tripped, "%s: %s", what, b->why);
	return apf_pdf_caught(ctx, err, code, what);
}

void apf_pdf_ctx_free(struct apf_pdf_ctx *pc)
{
	if (!pc)
		return;
	fz_drop_context(pc->ctx);
	free(pc);
}

int apf_pdf_check_head(const void *head, size_t n, struct apf_err *err)
{
	const char *h = head;

	if (n == 0)
		return apf_error(err, APF_EPDF, "empty file");
	if (n > APF_PDF_HEAD)
		n = APF_PDF_HEAD;
	for (size_t i = 0; i + 5 <= n; i++)
		if (!memcmp(h + i, "%PDF-", 5))
			return 0;
	return apf_error(err, APF_EPDF, "not a PDF (no %%PDF- signature)");
}

static int has_pdf_signature(const char *path, struct apf_err *err)
{
	char head[APF_PDF_HEAD];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	return apf_pdf_check_head(head, n, err);
}

/*
 * The page tree, mapped once by a walk of our own, which counts the pages
 * that are there rather than trust the tree's /Count: a 435-byte file
 * claiming /Count 100000000 had MuPDF's pdf_load_page_tree() allocate
 * maps for that many pages (1.6 GB) and fz_count_pages() report them.
 * The walk's work is bounded by the file's size: a node costs a
 * reference of some bytes in the file, so a tree that lists more nodes
 * than MAP_NODES_PER_BYTE per byte (nodes listed twice, a DAG that
 * doubles at each level) is refused, as is one nested deeper than
 * MAP_MAX_DEPTH (the walk and MuPDF's would recurse that deep) or with
 * more than APF_PDF_MAX_PAGES pages.  A node that repeats one of its
 * ancestors is skipped with a note.  The map goes where MuPDF keeps its
 * own (pdf_lookup_page_obj() reads it, pdf_drop_page_tree() frees it),
 * so finding page k is a lookup rather than a walk from the root, which
 * in a flat tree of n pages resolves up to n objects per page.
 *
 * Nodes are told apart as pdf_lookup_page_loc() does: /Type /Pages, or
 * without a /Type, /Kids and no /MediaBox; anything else is a page.
 */
#define MAP_MAX_DEPTH 256
/* What MuPDF may allocate to open a file and map its page tree, beside
 * what its context held before: the file's size does not bound it, since
 * a /Kids array (or any object) in a compressed object stream expands
 * some 1000 times (an 88 KB file listing one page 10 million times took
 * 0.9 GB before the walk's node budget could refuse it). */
#define OPEN_HEAP_MAX ((size_t)128 << 20)
#define MAP_MIN_NODES 1024
#define MAP_NODES_PER_BYTE 0.5

struct tree_walk {
	int64_t budget; /* nodes the walk may still visit */
	int64_t bytes;  /* the file's size, for the message */
	int *leaves;    /* object numbers of the pages, in order */
	int n, cap;
};

/* fz_throw() formats no 64-bit integers. */
static void too_many_nodes(fz_context *ctx, const struct tree_walk *tw)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "its page tree lists more nodes than a file of %lld bytes holds",
		 (long long)tw->bytes);
	fz_throw(ctx, FZ_ERROR_GENERIC, "%s", msg);
}

static void walk_tree(fz_context *ctx, struct tree_walk *tw, pdf_obj *node, int depth, pdf_cycle_list *up)
{
	pdf_cycle_list here;
	pdf_obj *kids, *type;
	int n, inner;

	if (--tw->budget < 0)
		too_many_nodes(ctx, tw);
	type = pdf_dict_get(ctx, node, PDF_NAME(Type));
	kids = pdf_dict_get(ctx, node, PDF_NAME(Kids));
	inner = type ? pdf_name_eq(ctx, type, PDF_NAME(Pages))
		     : kids && !pdf_dict_get(ctx, node, PDF_NAME(MediaBox));
	if (!inner) {
		if (tw->n == APF_PDF_MAX_PAGES)
			fz_throw(ctx, FZ_ERROR_GENERIC, "more than %d pages", APF_PDF_MAX_PAGES);
		if (tw->n == tw->cap) {
			int cap = tw->cap ? tw->cap * 2 : 64;
			tw->leaves = fz_realloc_array(ctx, tw->leaves, cap, int);
			tw->cap = cap;
		}
		tw->leaves[tw->n++] = pdf_to_num(ctx, node);
		return;
	}
	if (depth >= MAP_MAX_DEPTH)
		fz_throw(ctx, FZ_ERROR_GENERIC, "its page tree is nested more than %d deep", MAP_MAX_DEPTH);
	if (pdf_cycle(ctx, &here, up, node)) {
		fz_warn(ctx, "cycle in page tree (%d 0 R): skipped", pdf_to_num(ctx, node));
		return;
	}
	n = pdf_array_len(ctx, kids);
	if (n > tw->budget)
		too_many_nodes(ctx, tw);
	for (int i = 0; i < n; i++)
		walk_tree(ctx, tw, pdf_array_get(ctx, kids, i), depth + 1, &here);
}

static int cmp_rev_page_map(const void *va, const void *vb)
{
	const pdf_rev_page_map *a = va, *b = vb;

	return a->object < b->object ? -1 : a->object > b->object;
}

/* Walks the page tree of doc (a file of bytes bytes) and installs the
 * map; sets *pages.  Throws what is wrong with the tree. */
static void map_page_tree(fz_context *ctx, pdf_document *pdoc, int64_t bytes, int *pages)
{
	struct tree_walk tw = { 0 };
	pdf_obj *root;

	tw.bytes = bytes;
	tw.budget = MAP_MIN_NODES + (int64_t)((double)bytes * MAP_NODES_PER_BYTE);
	fz_var(tw.leaves);
	fz_try(ctx) {
		root = pdf_dict_getp(ctx, pdf_trailer(ctx, pdoc), "Root/Pages");
		if (!root)
			fz_throw(ctx, FZ_ERROR_GENERIC, "cannot find page tree");
		walk_tree(ctx, &tw, root, 0, NULL);
		if (tw.n > 0) {
			pdoc->rev_page_map = fz_malloc_array(ctx, tw.n, pdf_rev_page_map);
			for (int i = 0; i < tw.n; i++) {
				pdoc->rev_page_map[i].page = i;
				pdoc->rev_page_map[i].object = tw.leaves[i];
			}
			qsort(pdoc->rev_page_map, (size_t)tw.n, sizeof(*pdoc->rev_page_map), cmp_rev_page_map);
			pdoc->fwd_page_map = tw.leaves;
			tw.leaves = NULL;
			pdoc->map_page_count = tw.n;
			pdoc->page_map_nesting = 1;
		}
	}
	fz_catch(ctx) {
		fz_free(ctx, tw.leaves);
		fz_rethrow(ctx);
	}
	*pages = tw.n;
}

/*
 * fz_load_page() of page_num.  MuPDF 1.21's pdf_lookup_page_obj() returns
 * a new reference to the page's object when the page tree is mapped, where
 * the caller (pdf_load_page()) takes it as borrowed: one reference leaked
 * per page, which keeps the object from being freed with the document
 * (Bug 706433, fixed in 1.22.0); the tree is always mapped (apf_pdf_open()
 * fails otherwise).  The page keeps a reference of its own,
 * so the extra one is dropped here.  Pages are loaded one at a time, so
 * each load is a fresh one (not a page still open, which would come back
 * without a lookup).
 */
fz_page *apf_pdf_load_page_obj(struct apf_pdf *pdf, int page_num)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;

	/* The page's work has a memory bound of its own, from here to the
	 * next page's load: an object stream can hold an /Annots array, a
	 * font's /Widths, any object, a thousand times its size (an 88 KB
	 * file's one page took 1.4 GB and 51 s to read). */
	pdf->pc->heap.hit = 0;
	pdf->pc->heap.limit = pdf->pc->heap.live + APF_PDF_PAGE_HEAP_MAX;

	/* fz_load_chapter_page(), not fz_load_page(), which would check the
	 * number against the tree's own /Count: the map has the pages that
	 * are there. */
#if FZ_VERSION_MAJOR == 1 && FZ_VERSION_MINOR == 21
	{
		/*
		 * When the load fails after the lookup (a page whose Parent
		 * chain is a cycle: "cycle in tree (parents)"), the leaked
		 * reference is not the page's to drop: the reference count
		 * of the page's object, looked up here beforehand (a
		 * reference of our own, by the same bug), tells whether it
		 * was taken.  Found by fuzz_pdf.
		 */
		pdf_obj *obj = pdf_lookup_page_obj(ctx, pdf_specifics(ctx, pdf->doc), page_num - 1);
		int refs = pdf_obj_refs(ctx, obj);

		fz_var(page);
		fz_try(ctx)
			page = fz_load_chapter_page(ctx, pdf->doc, 0, page_num - 1);
		fz_always(ctx)
			pdf_drop_obj(ctx, obj);
		fz_catch(ctx) {
			if (pdf_obj_refs(ctx, obj) >= refs)
				pdf_drop_obj(ctx, obj);
			fz_rethrow(ctx);
		}
		pdf_drop_obj(ctx, pdf_page_from_fz_page(ctx, page)->obj);
	}
#else
	page = fz_load_chapter_page(ctx, pdf->doc, 0, page_num - 1);
#endif
	return page;
}

int apf_pdf_open(struct apf_pdf_ctx *pc, const char *path, struct apf_pdf **out, struct apf_err *err)
{
	fz_context *ctx = pc->ctx;
	fz_stream *stm = NULL;
	fz_document *doc = NULL;
	int count = 0, encrypted = 0, repaired = 0, rc;
	struct apf_pdf *pdf;
	struct stat sb;

	rc = has_pdf_signature(path, err);
	if (rc)
		return rc;
	if (stat(path, &sb))
		return apf_error(err, APF_EIO, "cannot open '%s': %s", path, strerror(errno));
	reset_notes(pc);
	fz_var(stm);
	fz_var(doc);
	fz_var(count);
	fz_var(encrypted);
	fz_var(repaired);
	pc->heap.hit = 0;
	pc->heap.limit = pc->heap.live + OPEN_HEAP_MAX;
	fz_try(ctx) {
		/* The PDF handler whatever the file is called: store keys and
		 * upload spools need not end in ".pdf". */
		stm = fz_open_file(ctx, path);
		doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
		if (fz_needs_password(ctx, doc)) {
			encrypted = 1;
		} else {
			pdf_document *pdoc = pdf_specifics(ctx, doc);
			if (!pdoc)
				fz_throw(ctx, FZ_ERROR_GENERIC, "not read as a PDF");
			repaired = pdf_was_repaired(ctx, pdoc);
			map_page_tree(ctx, pdoc, (int64_t)sb.st_size, &count);
		}
	}
	fz_always(ctx)
		fz_drop_stream(ctx, stm); /* the document keeps its own reference */
	fz_catch(ctx)
		rc = apf_pdf_caught(ctx, err, APF_EPDF, "damaged PDF");
	/* Over the bound, MuPDF may have caught its own failure and repaired
	 * the file into something else: refused all the same. */
	if (pc->heap.hit)
		rc = apf_error(err, APF_EPDF,
			       "damaged PDF: opening it takes more than %zu MiB (a compressed object that expands "
			       "that far)",
			       OPEN_HEAP_MAX >> 20);
	pc->heap.limit = 0;
	if (!rc && encrypted)
		rc = apf_error(err, APF_EPDF, "encrypted PDF: a password is needed to read it");
	if (!rc && count <= 0)
		rc = apf_error(err, APF_EPDF, "PDF has no pages");
	if (rc) {
		pdf_document *pdoc = doc ? pdf_specifics(ctx, doc) : NULL;

		if (pdoc) /* the map, when the walk was done (MuPDF does not free it) */
			pdf_drop_page_tree(ctx, pdoc);
		fz_drop_document(ctx, doc);
		return rc;
	}
	pdf = apf_xcalloc(1, sizeof(*pdf));
	pdf->pc = pc;
	pdf->doc = doc;
	pdf->pages = count;
	pdf->repaired = repaired;
	*out = pdf;
	return 0;
}

void apf_pdf_close(struct apf_pdf *pdf)
{
	if (!pdf)
		return;
	apf_pdf_text_cache_free(pdf->pc->ctx, pdf->tc);
	pdf_drop_page_tree(pdf->pc->ctx, pdf_specifics(pdf->pc->ctx, pdf->doc));
	fz_drop_document(pdf->pc->ctx, pdf->doc);
	free(pdf);
}

int apf_pdf_page_count(const struct apf_pdf *pdf)
{
	return pdf->pages;
}

int apf_pdf_was_repaired(const struct apf_pdf *pdf)
{
	return pdf->repaired;
}

const char *apf_pdf_page_note(const struct apf_pdf *pdf)
{
	return pdf->page_note[0] ? pdf->page_note : NULL;
}

int apf_pdf_probe(const char *path, int *pages, struct apf_err *err)
{
	return apf_pdf_probe_ex(path, pages, NULL, err);
}

int apf_pdf_probe_ex(const char *path, int *pages, int *repaired, struct apf_err *err)
{
	struct apf_pdf_ctx *pc = NULL;
	struct apf_pdf *pdf = NULL;
	int rc;

	rc = has_pdf_signature(path, err); /* before paying for a context */
	if (rc)
		return rc;
	rc = apf_pdf_ctx_new(&pc, err);
	if (rc)
		return rc;
	rc = apf_pdf_open(pc, path, &pdf, err);
	if (!rc) {
		*pages = pdf->pages;
		if (repaired)
			*repaired = pdf->repaired;
	}
	apf_pdf_close(pdf);
	apf_pdf_ctx_free(pc);
	return rc;
}

static int check_page(const struct apf_pdf *pdf, int page_num, struct apf_err *err)
{
	if (page_num < 1 || page_num > pdf->pages)
		return apf_error(err, APF_EINVAL, "page %d out of range: the PDF has %d page%s",
				 page_num, pdf->pages, pdf->pages == 1 ? "" : "s");
	return 0;
}

static int page_text(struct apf_pdf *pdf, int page_num, int stext, struct apf_buf *out,
		     struct apf_text_stats *stats, struct apf_err *err)
{
	struct apf_textnorm n;
	struct apf_text_stats st_stats;
	char what[64];
	int rc;

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "cannot read the text of page %d", page_num);
	reset_notes(pdf->pc);
	apf_buf_reset(out);
	apf_textnorm_init(&n, out);
	rc = stext ? apf_pdf_read_stext(pdf, page_num, &n, what, err)
		   : apf_pdf_read_text(pdf, page_num, &n, what, err);
	if (rc)
		return rc;
	keep_page_note(pdf);
	if (apf_textnorm_finish(&n, &st_stats))
		return apf_error(err, APF_ETOOBIG, "the text of page %d passes %zu bytes",
				 page_num, out->cap);
	if (stats)
		*stats = st_stats;
	return 0;
}

int apf_pdf_page_text(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
		      struct apf_text_stats *stats, struct apf_err *err)
{
	return page_text(pdf, page_num, 0, out, stats, err);
}

int apf_pdf_page_text_stext(struct apf_pdf *pdf, int page_num, struct apf_buf *out,
			    struct apf_text_stats *stats, struct apf_err *err)
{
	return page_text(pdf, page_num, 1, out, stats, err);
}

int apf_pdf_page_inked(struct apf_pdf *pdf, int page_num, int *inked, struct apf_err *err)
{
	char what[64];
	int rc;

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "cannot read page %d", page_num);
	reset_notes(pdf->pc);
	rc = apf_pdf_read_ink(pdf, page_num, inked, what, err);
	if (!rc)
		keep_page_note(pdf);
	return rc;
}

int apf_pdf_text_is_real(const struct apf_text_stats *s)
{
	return s->nonspace >= APF_PDF_TEXT_MIN_CHARS &&
	       s->garbage * 100 < s->nonspace * APF_PDF_TEXT_MAX_GARBAGE_PCT;
}

/*
 * Decides the rendering's size for a page of bounds r at dpi: the largest
 * dpi <= the one asked for whose pixmap fits APF_PDF_MAX_PIXELS.  Sets
 * *ctm, *bbox and *dpi_out; returns 0 or an error.
 */
static int plan_render(fz_rect r, int page_num, int dpi, fz_matrix *ctm, fz_irect *bbox,
		       int *dpi_out, struct apf_err *err)
{
	double wpt = (double)r.x1 - r.x0, hpt = (double)r.y1 - r.y0, px;

	if (dpi < APF_PDF_MIN_DPI || dpi > APF_PDF_MAX_DPI)
		return apf_error(err, APF_EINVAL, "cannot render at %d dpi: %d to %d dpi only", dpi,
				 APF_PDF_MIN_DPI, APF_PDF_MAX_DPI);
	if (!(wpt >= 1 && hpt >= 1))
		return apf_error(err, APF_EPDF, "cannot render page %d: its page box is empty", page_num);
	px = wpt * dpi / 72.0 * (hpt * dpi / 72.0);
	if (px > (double)APF_PDF_MAX_PIXELS) {
		int fit = (int)floor(dpi * sqrt((double)APF_PDF_MAX_PIXELS / px));
		if (fit < APF_PDF_MIN_DPI)
			return apf_error(err, APF_ETOOBIG,
					 "cannot render page %d: %.0fx%.0f pt does not fit %lld pixels at %d dpi",
					 page_num, wpt, hpt, (long long)APF_PDF_MAX_PIXELS, APF_PDF_MIN_DPI);
		dpi = fit;
	}
	/* Rounding may add a row or column; step down until it fits for sure. */
	for (;;) {
		*ctm = fz_scale(dpi / 72.0f, dpi / 72.0f);
		*bbox = fz_round_rect(fz_transform_rect(r, *ctm));
		if ((int64_t)(bbox->x1 - bbox->x0) * (bbox->y1 - bbox->y0) <= APF_PDF_MAX_PIXELS ||
		    dpi <= APF_PDF_MIN_DPI)
			break;
		dpi--;
	}
	if (bbox->x1 <= bbox->x0 || bbox->y1 <= bbox->y0)
		return apf_error(err, APF_EPDF, "cannot render page %d: its page box is empty", page_num);
	*dpi_out = dpi;
	return 0;
}

/* Loads page page_num and its bounds; on success the caller drops *out. */
static int load_page(struct apf_pdf *pdf, int page_num, const char *what, fz_page **out,
		     fz_rect *bounds, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	int rc = 0;

	fz_var(page);
	fz_try(ctx) {
		page = apf_pdf_load_page_obj(pdf, page_num);
		*bounds = fz_bound_page(ctx, page);
	}
	fz_catch(ctx) {
		fz_drop_page(ctx, page);
		rc = apf_pdf_caught(ctx, err, APF_EPDF, what);
	}
	if (!rc)
		*out = page;
	return rc;
}

/*
 * The renderer's work, bounded: MuPDF's run processor draws through this
 * device, which hands every call on to the draw device and counts it
 * against the page's budget (apf_pdf_budget), and bounds how deep the
 * drawing nests (clips, masks, groups, tiles: a form is drawn inside a
 * clip to its box, so forms nested one inside the other nest here too).
 * The run processor recurses into forms, some KB of stack a level, with
 * no limit of its own but its exception stack, which gives out at some 85
 * forms ("exception stack overflow!"); DRAW_MAX_DEPTH is the text
 * reader's 64 forms (MAX_FORM_DEPTH) and some clips around them.  Over either bound, the device sets the cookie's abort,
 * which every content stream's lexer checks at each token, and throws.
 */
#define DRAW_MAX_DEPTH 72

struct guard_dev {
	fz_device super;
	fz_device *target;
	struct apf_pdf_budget *b;
	fz_cookie *cookie;
	int depth;
};

static void guard_trip(fz_context *ctx, struct guard_dev *g)
{
	if (g->cookie->abort && !g->b->tripped) {
		g->b->tripped = APF_EINTERNAL;
		snprintf(g->b->why, sizeof(g->b->why), "cancelled");
	}
	if (apf_pdf_budget_over(g->b)) {
		g->cookie->abort = 1;
		fz_throw(ctx, FZ_ERROR_ABORT, "%s", g->b->why);
	}
}

static struct guard_dev *guard_tick(fz_context *ctx, fz_device *dev, int nest)
{
	struct guard_dev *g = (struct guard_dev *)dev;

	g->depth += nest;
	if (nest > 0 && g->depth > DRAW_MAX_DEPTH && !g->b->tripped) {
		g->b->tripped = APF_ETOOBIG;
		snprintf(g->b->why, sizeof(g->b->why),
			 "the page nests its drawing (forms, clips, groups) more than %d deep", DRAW_MAX_DEPTH);
	}
	if (++g->b->ops > g->b->max_ops || g->b->tripped || (g->b->cancel && *g->b->cancel) ||
	    !(g->b->ops & 255) || g->cookie->abort)
		guard_trip(ctx, g);
	return g;
}

static void guard_close(fz_context *ctx, fz_device *dev)
{
	fz_close_device(ctx, ((struct guard_dev *)dev)->target);
}

static void guard_fill_path(fz_context *ctx, fz_device *dev, const fz_path *path, int even_odd, fz_matrix ctm,
			    fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	fz_fill_path(ctx, guard_tick(ctx, dev, 0)->target, path, even_odd, ctm, cs, color, alpha, cp);
}

static void guard_stroke_path(fz_context *ctx, fz_device *dev, const fz_path *path, const fz_stroke_state *ss,
			      fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha,
			      fz_color_params cp)
{
	fz_stroke_path(ctx, guard_tick(ctx, dev, 0)->target, path, ss, ctm, cs, color, alpha, cp);
}

static void guard_clip_path(fz_context *ctx, fz_device *dev, const fz_path *path, int even_odd, fz_matrix ctm,
			    fz_rect scissor)
{
	fz_clip_path(ctx, guard_tick(ctx, dev, 1)->target, path, even_odd, ctm, scissor);
}

static void guard_clip_stroke_path(fz_context *ctx, fz_device *dev, const fz_path *path,
				   const fz_stroke_state *ss, fz_matrix ctm, fz_rect scissor)
{
	fz_clip_stroke_path(ctx, guard_tick(ctx, dev, 1)->target, path, ss, ctm, scissor);
}

static void guard_fill_text(fz_context *ctx, fz_device *dev, const fz_text *text, fz_matrix ctm,
			    fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	fz_fill_text(ctx, guard_tick(ctx, dev, 0)->target, text, ctm, cs, color, alpha, cp);
}

static void guard_stroke_text(fz_context *ctx, fz_device *dev, const fz_text *text, const fz_stroke_state *ss,
			      fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha,
			      fz_color_params cp)
{
	fz_stroke_text(ctx, guard_tick(ctx, dev, 0)->target, text, ss, ctm, cs, color, alpha, cp);
}

static void guard_clip_text(fz_context *ctx, fz_device *dev, const fz_text *text, fz_matrix ctm, fz_rect scissor)
{
	fz_clip_text(ctx, guard_tick(ctx, dev, 1)->target, text, ctm, scissor);
}

static void guard_clip_stroke_text(fz_context *ctx, fz_device *dev, const fz_text *text,
				   const fz_stroke_state *ss, fz_matrix ctm, fz_rect scissor)
{
	fz_clip_stroke_text(ctx, guard_tick(ctx, dev, 1)->target, text, ss, ctm, scissor);
}

static void guard_ignore_text(fz_context *ctx, fz_device *dev, const fz_text *text, fz_matrix ctm)
{
	fz_ignore_text(ctx, guard_tick(ctx, dev, 0)->target, text, ctm);
}

static void guard_fill_shade(fz_context *ctx, fz_device *dev, fz_shade *shd, fz_matrix ctm, float alpha,
			     fz_color_params cp)
{
	fz_fill_shade(ctx, guard_tick(ctx, dev, 0)->target, shd, ctm, alpha, cp);
}

static void guard_fill_image(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm, float alpha,
			     fz_color_params cp)
{
	fz_fill_image(ctx, guard_tick(ctx, dev, 0)->target, img, ctm, alpha, cp);
}

static void guard_fill_image_mask(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm,
				  fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	fz_fill_image_mask(ctx, guard_tick(ctx, dev, 0)->target, img, ctm, cs, color, alpha, cp);
}

static void guard_clip_image_mask(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm, fz_rect scissor)
{
	fz_clip_image_mask(ctx, guard_tick(ctx, dev, 1)->target, img, ctm, scissor);
}

static void guard_pop_clip(fz_context *ctx, fz_device *dev)
{
	fz_pop_clip(ctx, guard_tick(ctx, dev, -1)->target);
}

static void guard_begin_mask(fz_context *ctx, fz_device *dev, fz_rect area, int luminosity, fz_colorspace *cs,
			     const float *bc, fz_color_params cp)
{
	fz_begin_mask(ctx, guard_tick(ctx, dev, 1)->target, area, luminosity, cs, bc, cp);
}

static void guard_end_mask(fz_context *ctx, fz_device *dev)
{
	fz_end_mask(ctx, guard_tick(ctx, dev, 0)->target);
}

static void guard_begin_group(fz_context *ctx, fz_device *dev, fz_rect area, fz_colorspace *cs, int isolated,
			      int knockout, int blendmode, float alpha)
{
	fz_begin_group(ctx, guard_tick(ctx, dev, 1)->target, area, cs, isolated, knockout, blendmode, alpha);
}

static void guard_end_group(fz_context *ctx, fz_device *dev)
{
	fz_end_group(ctx, guard_tick(ctx, dev, -1)->target);
}

static int guard_begin_tile(fz_context *ctx, fz_device *dev, fz_rect area, fz_rect view, float xstep,
			    float ystep, fz_matrix ctm, int id)
{
	return fz_begin_tile_id(ctx, guard_tick(ctx, dev, 1)->target, area, view, xstep, ystep, ctm, id);
}

static void guard_end_tile(fz_context *ctx, fz_device *dev)
{
	fz_end_tile(ctx, guard_tick(ctx, dev, -1)->target);
}

static void guard_render_flags(fz_context *ctx, fz_device *dev, int set, int clear)
{
	fz_render_flags(ctx, ((struct guard_dev *)dev)->target, set, clear);
}

static void guard_set_default_colorspaces(fz_context *ctx, fz_device *dev, fz_default_colorspaces *dcs)
{
	fz_set_default_colorspaces(ctx, ((struct guard_dev *)dev)->target, dcs);
}

static void guard_begin_layer(fz_context *ctx, fz_device *dev, const char *name)
{
	fz_begin_layer(ctx, guard_tick(ctx, dev, 0)->target, name);
}

static void guard_end_layer(fz_context *ctx, fz_device *dev)
{
	fz_end_layer(ctx, guard_tick(ctx, dev, 0)->target);
}

/* A guard over target (borrowed: the caller drops it after the guard). */
static fz_device *new_guard(fz_context *ctx, fz_device *target, struct apf_pdf_budget *b, fz_cookie *cookie)
{
	struct guard_dev *g = fz_new_derived_device(ctx, struct guard_dev);

	g->super.close_device = guard_close;
	g->super.fill_path = guard_fill_path;
	g->super.stroke_path = guard_stroke_path;
	g->super.clip_path = guard_clip_path;
	g->super.clip_stroke_path = guard_clip_stroke_path;
	g->super.fill_text = guard_fill_text;
	g->super.stroke_text = guard_stroke_text;
	g->super.clip_text = guard_clip_text;
	g->super.clip_stroke_text = guard_clip_stroke_text;
	g->super.ignore_text = guard_ignore_text;
	g->super.fill_shade = guard_fill_shade;
	g->super.fill_image = guard_fill_image;
	g->super.fill_image_mask = guard_fill_image_mask;
	g->super.clip_image_mask = guard_clip_image_mask;
	g->super.pop_clip = guard_pop_clip;
	g->super.begin_mask = guard_begin_mask;
	g->super.end_mask = guard_end_mask;
	g->super.begin_group = guard_begin_group;
	g->super.end_group = guard_end_group;
	g->super.begin_tile = guard_begin_tile;
	g->super.end_tile = guard_end_tile;
	g->super.render_flags = guard_render_flags;
	g->super.set_default_colorspaces = guard_set_default_colorspaces;
	g->super.begin_layer = guard_begin_layer;
	g->super.end_layer = guard_end_layer;
	g->super.hints = target->hints;
	g->super.flags = target->flags;
	g->target = target;
	g->b = b;
	g->cookie = cookie;
	return &g->super;
}

/* Draws page into a new pixmap of bbox, over data when not NULL (the
 * pixmap then does not own it), within the context's limits; drops page
 * either way. */
static int draw_page(struct apf_pdf_ctx *pc, fz_page *page, fz_matrix ctm, fz_irect bbox, int gray,
		     unsigned char *data, const char *what, fz_pixmap **out, struct apf_err *err)
{
	fz_context *ctx = pc->ctx;
	fz_pixmap *pix = NULL;
	fz_device *dev = NULL, *guard = NULL;
	fz_cookie cookie = { 0 };
	struct apf_pdf_budget budget;
	int rc = 0;

	apf_pdf_budget_start(pc, &budget, APF_PDF_UNIT_DRAWS);
	fz_var(pix);
	fz_var(dev);
	fz_var(guard);
	fz_try(ctx) {
		fz_colorspace *cs = gray ? fz_device_gray(ctx) : fz_device_rgb(ctx);
		if (data)
			pix = fz_new_pixmap_with_bbox_and_data(ctx, cs, bbox, NULL, 0, data);
		else
			pix = fz_new_pixmap_with_bbox(ctx, cs, bbox, NULL, 0);
		fz_clear_pixmap_with_value(ctx, pix, 0xFF);
		dev = fz_new_draw_device(ctx, ctm, pix);
		guard = new_guard(ctx, dev, &budget, &cookie);
		fz_run_page(ctx, page, guard, fz_identity, &cookie);
		fz_close_device(ctx, guard);
		/* A trip that MuPDF caught and went on from is still one. */
		if (budget.tripped)
			fz_throw(ctx, FZ_ERROR_ABORT, "%s", budget.why);
	}
	fz_always(ctx) {
		fz_drop_device(ctx, guard);
		fz_drop_device(ctx, dev);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx) {
		fz_drop_pixmap(ctx, pix);
		rc = apf_pdf_caught_budget(ctx, &budget, err, APF_EPDF, what);
	}
	if (!rc)
		*out = pix;
	return rc;
}

/*
 * Renders a page, in gray or RGB, without alpha.  With samples, the pixels
 * go into a buffer of ours (malloc), returned there, which the pixmap does
 * not own; without, MuPDF allocates them.  Sets *out to the pixmap.
 */
static int render(struct apf_pdf *pdf, int page_num, int dpi, int gray, unsigned char **samples,
		  int *dpi_out, fz_pixmap **out, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_page *page = NULL;
	fz_rect bounds;
	fz_matrix ctm;
	fz_irect bbox;
	unsigned char *data = NULL;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "cannot render page %d", page_num);
	reset_notes(pdf->pc);
	rc = load_page(pdf, page_num, what, &page, &bounds, err);
	if (rc)
		return rc;
	rc = plan_render(bounds, page_num, dpi, &ctm, &bbox, dpi_out, err);
	if (!rc && samples) {
		data = malloc((size_t)(bbox.x1 - bbox.x0) * (size_t)(bbox.y1 - bbox.y0) *
			      (gray ? 1u : 3u));
		if (!data)
			rc = apf_error(err, APF_ENOMEM, "%s: out of memory", what);
	}
	if (rc) {
		fz_drop_page(ctx, page);
		return rc;
	}
	rc = draw_page(pdf->pc, page, ctm, bbox, gray, data, what, out, err);
	if (rc) {
		free(data);
		return rc;
	}
	keep_page_note(pdf);
	if (samples)
		*samples = data;
	return 0;
}

int apf_pdf_render_gray(struct apf_pdf *pdf, int page_num, int dpi, struct apf_pixmap *out,
			struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	unsigned char *data = NULL;
	fz_pixmap *pix;
	int rc, rdpi = 0;

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	/* MuPDF draws straight into our own buffer, which then outlives the
	 * pixmap (a pixmap made over given samples does not free them). */
	rc = render(pdf, page_num, dpi, 1, &data, &rdpi, &pix, err);
	if (rc)
		return rc;
	out->w = fz_pixmap_width(ctx, pix);
	out->h = fz_pixmap_height(ctx, pix);
	out->stride = fz_pixmap_stride(ctx, pix);
	out->dpi = rdpi;
	out->data = data;
	fz_drop_pixmap(ctx, pix);
	return 0;
}

void apf_pixmap_release(struct apf_pixmap *pm)
{
	if (!pm)
		return;
	free(pm->data);
	pm->data = NULL;
	pm->w = pm->h = pm->stride = pm->dpi = 0;
}

int apf_pdf_render_png(struct apf_pdf *pdf, int page_num, int dpi, int gray, struct apf_buf *out,
		       int *dpi_out, struct apf_err *err)
{
	fz_context *ctx = pdf->pc->ctx;
	fz_pixmap *pix;
	fz_buffer *png = NULL;
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc, rdpi = 0;
	char what[64];

	rc = check_page(pdf, page_num, err);
	if (rc)
		return rc;
	rc = render(pdf, page_num, dpi, gray, NULL, &rdpi, &pix, err);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "cannot encode page %d as PNG", page_num);
	fz_var(png);
	fz_var(bytes);
	fz_var(len);
	fz_try(ctx) {
		png = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
		len = fz_buffer_storage(ctx, png, &bytes);
	}
	fz_always(ctx)
		fz_drop_pixmap(ctx, pix);
	fz_catch(ctx)
		rc = apf_pdf_caught(ctx, err, APF_EPDF, what);
	if (!rc) {
		apf_buf_reset(out);
		if (apf_buf_add(out, bytes, len))
			rc = apf_error(err, APF_ETOOBIG, "the PNG of page %d (%zu bytes) passes %zu bytes",
				       page_num, len, out->cap);
	}
	fz_drop_buffer(ctx, png);
	if (!rc && dpi_out)
		*dpi_out = rdpi;
	return rc;
}
