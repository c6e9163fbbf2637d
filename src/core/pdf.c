/*
 * pdf.c: the MuPDF adapter.  Every call into MuPDF, and every
 * fz_try/fz_catch, lives in this file.
 */
#include <mupdf/fitz.h>

#include "apflow/version.h"

const char *apf_pdf_library_version(void)
{
	return FZ_VERSION;
}
