/*
 * ocr.h: optical character recognition through Tesseract 5.  ocr.c is the
 * only file that calls Tesseract's C API.
 *
 * Threads: one struct apf_ocr per worker thread, never shared.  Tesseract
 * itself spreads each page over up to four OpenMP threads; with one worker
 * per core that oversubscribes the CPU badly (ICIJ/datashare#2234 measured
 * 31x), so the first apf_ocr_new() of the process makes Tesseract single-
 * threaded, and parallelism comes from the workers.
 *
 * How: OMP_THREAD_LIMIT=1 works only when it is in the environment at
 * process start, because libgomp reads its variables in a constructor that
 * runs when the library is loaded, before main(); a setenv() afterwards has
 * no effect (measured: 4 threads either way).  So, unless OMP_THREAD_LIMIT
 * was set at start (then the user's choice stands), apf_ocr_new() and
 * apf_ocr_page() call libgomp's omp_set_max_active_levels(0), once per
 * thread (libgomp 11 and later keep that setting per thread), which makes
 * every OpenMP parallel region run on the calling thread alone.  It is
 * looked up with dlsym, so apflow needs no OpenMP at build
 * time and nothing happens with a Tesseract built without OpenMP.  No other
 * library in apflow uses OpenMP.
 *
 * Text comes out normalised exactly as the PDF text layer (apf_textnorm in
 * utf8.h), so a page reads the same whichever engine produced it.
 */
#ifndef APFLOW_OCR_H
#define APFLOW_OCR_H

#include <signal.h>

#include "apflow/buf.h"
#include "apflow/err.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"

struct apf_ocr;

/*
 * A Tesseract instance for lang ("eng", "eng+deu": traineddata names;
 * NULL means "eng") with models from datapath (NULL: Tesseract's default,
 * or TESSDATA_PREFIX).  Page segmentation is automatic (PSM_AUTO, as the
 * tesseract command), not the API's single-block default.  Loading a
 * language costs about 75 ms and tens of MB, so make one per worker and
 * reuse it for every page.  Errors: APF_EOCR (language data missing).
 */
int apf_ocr_new(const char *lang, const char *datapath, struct apf_ocr **out, struct apf_err *err);

/*
 * 1 when every language of lang ("eng", "eng+deu") has its traineddata
 * file where Tesseract will look: datapath, else $TESSDATA_PREFIX, else
 * Debian's /usr/share/tesseract-ocr/5/tessdata.  0 when one is not found
 * there, which is not a verdict (only apf_ocr_new() is): a caller that
 * wants to fail early then loads Tesseract to know.  Loads nothing.
 */
int apf_ocr_lang_installed(const char *lang, const char *datapath);

/* Gives up on a page after ms milliseconds of recognition (0: never, the
 * default), so that one hostile image cannot hold a worker forever.
 * Tesseract checks the deadline between words, so layout analysis (about
 * half a second for an A4 page at 300 dpi) always runs: a 1 ms timeout
 * fails after some 500 ms. */
void apf_ocr_set_timeout(struct apf_ocr *ocr, int ms);
/* Gives up on the page being recognised once *cancel is non-zero (NULL:
 * never), with APF_EOCR "recognition cancelled"; Tesseract asks between
 * words, as for the deadline. */
void apf_ocr_set_cancel(struct apf_ocr *ocr, volatile sig_atomic_t *cancel);

/*
 * Recognises the text of a grayscale page image.  dpi is the image's
 * resolution (0 takes pm->dpi); Tesseract sizes its expectations of
 * character heights by it.  out is reset and receives the normalised text;
 * *mean_conf (if not NULL) gets Tesseract's mean word confidence, 0..100
 * (0 when no text was found); *stats (if not NULL) the text's statistics.
 * An empty page is not an error: it gives "" and confidence 0.
 *
 * Errors: APF_EINVAL (no image), APF_EOCR (recognition failed or timed
 * out), APF_ETOOBIG (the text passes out's cap).  The instance keeps no
 * page state after the call, so memory does not grow from page to page.
 */
int apf_ocr_page(struct apf_ocr *ocr, const struct apf_pixmap *pm, int dpi, struct apf_buf *out,
		 int *mean_conf, struct apf_text_stats *stats, struct apf_err *err);

void apf_ocr_free(struct apf_ocr *ocr); /* NULL is fine */

/* How Tesseract's OpenMP threads are bounded, for logs and tests:
 * 1 apf_ocr_new() made them one per page; 2 OMP_THREAD_LIMIT was in the
 * environment and was left alone; 0 neither (no apf_ocr_new() yet, or a
 * Tesseract without OpenMP). */
int apf_ocr_openmp_limited(void);

#endif
