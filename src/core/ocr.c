/*
 * ocr.c: the Tesseract adapter.  Every call into Tesseract's C API lives
 * in this file.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tesseract/capi.h>

#include "apflow/ocr.h"
#include "apflow/dl.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "apflow/version.h"

/*
 * Tesseract is loaded when first needed (dlopen), not linked: with
 * Leptonica and the image libraries it pulls in, linking it cost every
 * apflow command about 5 ms of dynamic loading, and the server and the
 * text engine never use it.  The functions used are listed once here.
 */
#ifndef APF_TESSERACT_SONAME
#define APF_TESSERACT_SONAME "libtesseract.so.5"
#endif
#define TESS_FUNCS(X)                                                                                 \
	X(TessVersion) X(TessBaseAPICreate) X(TessBaseAPIDelete) X(TessBaseAPISetVariable)            \
	X(TessBaseAPIInit3) X(TessBaseAPISetPageSegMode) X(TessBaseAPISetImage)                       \
	X(TessBaseAPISetSourceResolution) X(TessBaseAPIRecognize) X(TessBaseAPIGetUTF8Text)           \
	X(TessBaseAPIMeanTextConf) X(TessBaseAPIClear) X(TessBaseAPIEnd) X(TessDeleteText)            \
	X(TessMonitorCreate) X(TessMonitorSetDeadlineMSecs) X(TessMonitorDelete)                      \
	X(TessMonitorSetCancelFunc) X(TessMonitorSetCancelThis)

static struct {
	void *lib;
#define X(f) __typeof__(f) *f;
	TESS_FUNCS(X)
#undef X
} tess;
static const struct apf_dl_sym tess_syms[] = {
#define X(f) { #f, &tess.f },
	TESS_FUNCS(X)
#undef X
};
static struct apf_dl_lib tess_lib = APF_DL_LIB("Tesseract", APF_TESSERACT_SONAME, RTLD_NOW | RTLD_LOCAL, tess_syms,
					       "install tesseract-ocr");

/* Loads Tesseract once; an error names what is missing. */
static int tess_need(struct apf_err *err)
{
	int rc = apf_dl_need(&tess_lib, APF_EOCR, err);

	if (!rc)
		tess.lib = tess_lib.handle;
	return rc;
}

struct apf_ocr {
	TessBaseAPI *api;
	int timeout_ms;
	volatile sig_atomic_t *cancel;
};

const char *apf_ocr_library_version(void)
{
	if (tess_need(NULL))
		return "unavailable";
	return tess.TessVersion();
}

static pthread_once_t openmp_once = PTHREAD_ONCE_INIT;
static int openmp_limited;
static void (*set_max_active_levels)(int);

/* See ocr.h for why this, and not setenv("OMP_THREAD_LIMIT"). */
static void limit_openmp(void)
{
	if (getenv("OMP_THREAD_LIMIT")) {
		openmp_limited = 2;
		return;
	}
	/* Tesseract's libgomp, found through its handle (RTLD_LOCAL). */
	set_max_active_levels = (void (*)(int))dlsym(tess.lib, "omp_set_max_active_levels");
	if (set_max_active_levels)
		openmp_limited = 1;
}

/*
 * max-active-levels is a per-thread ICV in libgomp 11 and later (OpenMP
 * 5.1 made it part of the data environment): a new thread starts from the
 * process default, whatever another thread set.  So the limit is applied
 * on every thread that runs Tesseract, once per thread.
 */
static void limit_openmp_this_thread(void)
{
	static _Thread_local int done;

	pthread_once(&openmp_once, limit_openmp);
	if (set_max_active_levels && !done) {
		set_max_active_levels(0);
		done = 1;
	}
}

int apf_ocr_openmp_limited(void)
{
	return openmp_limited;
}

int apf_ocr_new(const char *lang, const char *datapath, struct apf_ocr **out, struct apf_err *err)
{
	TessBaseAPI *api;
	struct apf_ocr *ocr;
	int rc = tess_need(err);

	if (rc)
		return rc;
	limit_openmp_this_thread();
	if (!lang || !*lang)
		lang = "eng";
	api = tess.TessBaseAPICreate();
	if (!api)
		return apf_error(err, APF_ENOMEM, "cannot create a Tesseract instance");
	/* Tesseract's tprintf() writes to stderr (warnings about missing
	 * files, empty pages); a core function does not.  debug_file is a
	 * global parameter, settable before Init. */
	tess.TessBaseAPISetVariable(api, "debug_file", "/dev/null");
	if (tess.TessBaseAPIInit3(api, datapath, lang) != 0) {
		tess.TessBaseAPIDelete(api);
		return apf_error(err, APF_EOCR,
				 "cannot load Tesseract language '%s'%s%s%s: is its traineddata installed "
				 "(tesseract-ocr-%s)?",
				 lang, datapath ? " from '" : "", datapath ? datapath : "",
				 datapath ? "'" : "", lang);
	}
	tess.TessBaseAPISetPageSegMode(api, PSM_AUTO);
	ocr = apf_xcalloc(1, sizeof(*ocr));
	ocr->api = api;
	*out = ocr;
	return 0;
}

int apf_ocr_lang_installed(const char *lang, const char *datapath)
{
	const char *dir = datapath && *datapath ? datapath : getenv("TESSDATA_PREFIX");
	char path[4096];

	if (!dir || !*dir)
		dir = "/usr/share/tesseract-ocr/5/tessdata";
	if (!lang || !*lang)
		lang = "eng";
	while (*lang) {
		size_t n = strcspn(lang, "+");
		struct stat sb;

		if ((size_t)snprintf(path, sizeof(path), "%s/%.*s.traineddata", dir, (int)n, lang) >= sizeof(path) ||
		    stat(path, &sb) || !S_ISREG(sb.st_mode))
			return 0;
		lang += n;
		if (*lang == '+')
			lang++;
	}
	return 1;
}

void apf_ocr_set_timeout(struct apf_ocr *ocr, int ms)
{
	ocr->timeout_ms = ms > 0 ? ms : 0;
}

void apf_ocr_set_cancel(struct apf_ocr *ocr, volatile sig_atomic_t *cancel)
{
	ocr->cancel = cancel;
}

/* Tesseract's cancel callback (TessCancelFunc), between words. */
static bool on_cancel(void *arg, int words)
{
	(void)words;
	return *(volatile sig_atomic_t *)arg != 0;
}

int apf_ocr_page(struct apf_ocr *ocr, const struct apf_pixmap *pm, int dpi, struct apf_buf *out,
		 int *mean_conf, struct apf_text_stats *stats, struct apf_err *err)
{
	ETEXT_DESC *monitor = NULL;
	char *text = NULL;
	struct apf_textnorm n;
	struct apf_text_stats st;
	int64_t start;
	int rc = 0, conf;

	if (!pm || !pm->data || pm->w <= 0 || pm->h <= 0 || pm->stride < pm->w)
		return apf_error(err, APF_EINVAL, "no page image to recognise");
	limit_openmp_this_thread();
	if (dpi <= 0)
		dpi = pm->dpi;
	tess.TessBaseAPISetImage(ocr->api, pm->data, pm->w, pm->h, 1, pm->stride);
	if (dpi > 0)
		tess.TessBaseAPISetSourceResolution(ocr->api, dpi);
	if (ocr->timeout_ms || ocr->cancel) {
		monitor = tess.TessMonitorCreate();
		if (ocr->timeout_ms)
			tess.TessMonitorSetDeadlineMSecs(monitor, ocr->timeout_ms);
		if (ocr->cancel) {
			tess.TessMonitorSetCancelFunc(monitor, on_cancel);
			tess.TessMonitorSetCancelThis(monitor, (void *)ocr->cancel);
		}
	}
	start = apf_now_ms();
	if (tess.TessBaseAPIRecognize(ocr->api, monitor) != 0) {
		int64_t took = apf_now_ms() - start;
		if (ocr->cancel && *ocr->cancel)
			rc = apf_error(err, APF_EOCR, "recognition cancelled");
		else if (ocr->timeout_ms && took >= ocr->timeout_ms)
			rc = apf_error(err, APF_EOCR, "recognition timed out after %lld ms",
				       (long long)took);
		else
			rc = apf_error(err, APF_EOCR, "recognition failed");
		goto out;
	}
	/* Recognize() has run, so these read its results without redoing it. */
	text = tess.TessBaseAPIGetUTF8Text(ocr->api);
	if (!text) {
		rc = apf_error(err, APF_EOCR, "recognition gave no result");
		goto out;
	}
	conf = tess.TessBaseAPIMeanTextConf(ocr->api);

	apf_buf_reset(out);
	apf_textnorm_init(&n, out);
	apf_textnorm_put_utf8(&n, text, strlen(text));
	if (apf_textnorm_finish(&n, &st)) {
		rc = apf_error(err, APF_ETOOBIG, "the recognised text passes %zu bytes", out->cap);
		goto out;
	}
	if (mean_conf)
		*mean_conf = st.chars ? (conf < 0 ? 0 : conf > 100 ? 100 : conf) : 0;
	if (stats)
		*stats = st;
out:
	if (text)
		tess.TessDeleteText(text);
	if (monitor)
		tess.TessMonitorDelete(monitor);
	/* Frees the page's results and image reference; the model stays. */
	tess.TessBaseAPIClear(ocr->api);
	return rc;
}

void apf_ocr_free(struct apf_ocr *ocr)
{
	if (!ocr)
		return;
	tess.TessBaseAPIEnd(ocr->api);
	tess.TessBaseAPIDelete(ocr->api);
	free(ocr);
}
