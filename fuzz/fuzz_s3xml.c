/*
 * fuzz_s3xml.c: libFuzzer target for the S3 XML answers (src/core/s3xml.c).
 *
 * The input is an answer body as a hostile or broken S3 endpoint could send
 * it.  It is handed over in a buffer of exactly its size (no NUL after it),
 * so a read past the end is an AddressSanitizer report.  Besides "no crash,
 * no leak", the target checks what the callers rely on: a parsed listing
 * has a key for every object and a token when it says it is truncated; the
 * error fields hold printable ASCII only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/util.h"
#include "core/s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml = malloc(size ? size : 1);
	struct apf_s3_list_page page;
	char code[64], message[256], *text = NULL;
	const char *c;
	size_t clen;

	memcpy(xml, data, size);

	if (apf_s3_parse_list(xml, size, &page) == 0) {
		if (page.truncated && !page.next_token)
			abort();
		for (size_t i = 0; i < page.n; i++) {
			if (!page.objects[i].key || strlen(page.objects[i].etag) >= sizeof(page.objects[i].etag))
				abort();
			if (page.objects[i].mtime < 0)
				abort();
		}
		apf_s3_list_page_release(&page);
	} else if (page.objects || page.n || page.next_token) {
		abort(); /* a failed parse leaves nothing behind */
	}

	apf_s3_parse_error(xml, size, code, sizeof(code), message, sizeof(message));
	check_printable(code);
	check_printable(message);

	/* The primitives on their own, with the tags the callers look for. */
	if (apf_xml_find(xml, size, "Key", &c, &clen) == 0) {
		if (c < xml || c + clen > xml + size)
			abort();
		if (apf_xml_decode(c, clen, &text) == 0)
			free(text);
		text = NULL;
	}
	if (apf_xml_text(xml, size, "UploadId", &text) == 0)
		free(text);
	text = NULL;
	/* The whole input as element text. */
	if (apf_xml_decode(xml, size, &text) == 0)
		free(text);

	/* And as a timestamp (NUL-terminated, as the caller has it). */
	{
		char ts[40];
		size_t n = size < sizeof(ts) - 1 ? size : sizeof(ts) - 1;
		memcpy(ts, data, n);
		ts[n] = '\0';
		int64_t us;
		(void)apf_parse_iso8601(ts, &us);
	}
	free(xml);
	return 0;
}
