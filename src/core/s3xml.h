/*
 * s3xml.h: the few S3 XML answers apflow reads (internal to the core).
 *
 * S3 answers in a small, regular XML dialect: no namespaces that matter,
 * no attributes on the elements read here, text escaped with the five
 * predefined entities or numeric references.  A full XML library is not
 * needed for it; this parser finds elements by name, never follows
 * anything external, and rejects what it does not understand instead of
 * guessing.  Leaf text may also come as CDATA.
 */
#ifndef APFLOW_S3XML_H
#define APFLOW_S3XML_H

#include <stddef.h>
#include <stdint.h>

struct apf_s3_object {
	char *key;
	uint64_t size;
	int64_t mtime;   /* 0 when absent */
	char etag[80];   /* without the quotes; may be empty */
};

/* One page of a ListObjectsV2 answer. */
struct apf_s3_list_page {
	struct apf_s3_object *objects;
	size_t n;
	int truncated;
	char *next_token; /* NULL when absent */
};

/*
 * Finds the first element called tag in xml[0, len) and gives its raw
 * content (between the start and the end tag; empty for <tag/>).
 * Returns 0, or -1 when there is none.
 */
int apf_xml_find(const char *xml, size_t len, const char *tag, const char **content, size_t *clen);

/* Decodes the text of the first element called tag into a malloc'ed
 * string.  Returns 0, 1 when there is no such element, -1 when its text is
 * malformed (a bad entity, a nested element). */
int apf_xml_text(const char *xml, size_t len, const char *tag, char **out);

/* Decodes entity references and CDATA in raw element text; -1 when malformed. */
int apf_xml_decode(const char *raw, size_t len, char **out);

/* Parses a ListBucketResult; -1 when the document is not one or is malformed. */
int apf_s3_parse_list(const char *xml, size_t len, struct apf_s3_list_page *page);
void apf_s3_list_page_release(struct apf_s3_list_page *page);

/* Copies Code and Message of an <Error> document (empty when absent),
 * keeping printable ASCII only, so that a hostile body cannot put control
 * characters on a terminal. */
void apf_s3_parse_error(const char *xml, size_t len, char *code, size_t ncode, char *message,
			size_t nmessage);

#endif
