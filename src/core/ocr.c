/*
 * ocr.c: the Tesseract adapter.  Every call into Tesseract's C API lives
 * in this file.
 */
#include <tesseract/capi.h>

#include "apflow/version.h"

const char *apf_ocr_library_version(void)
{
	return TessVersion();
}
