/* cmd_version.c: apflow version */
#include <stdio.h>

#include "apflow/db.h"
#include "apflow/version.h"
#include "cmd/cmd.h"
#include "apflow/banned.h" /* last: after every system header */

const char cmd_version_usage[] =
	"usage: apflow version\n"
	"\n"
	"Prints the versions of apflow and of the libraries it runs on:\n"
	"DuckDB, MuPDF, Tesseract and libcurl.\n";

int cmd_version(int argc, char **argv, struct apf_ctx *ctx)
{
	(void)ctx;
	(void)argv;
	if (argc > 1)
		return apf_cmd_usage_error("version", "takes no arguments");
	printf("apflow %s\n", APFLOW_VERSION);
	printf("duckdb %s\n", apf_db_library_version());
	printf("mupdf %s\n", apf_pdf_library_version());
	printf("tesseract %s\n", apf_ocr_library_version());
	printf("libcurl %s\n", apf_http_library_version());
	return 0;
}
