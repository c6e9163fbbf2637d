/* s3xml.c: a small parser for S3's XML answers (see s3xml.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/s3xml.h"
#include "apflow/buf.h"
#include "apflow/util.h"

static const char *find_mem(const char *hay, size_t n, const char *needle)
{
	size_t nl = strlen(needle);

	if (nl == 0 || n < nl)
		return NULL;
	for (size_t i = 0; i + nl <= n; i++)
		if (hay[i] == needle[0] && !memcmp(hay + i, needle, nl))
			return hay + i;
	return NULL;
}

static int name_end(char c)
{
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int apf_xml_find(const char *xml, size_t len, const char *tag, const char **content, size_t *clen)
{
	size_t tl = strlen(tag);
	const char *p = xml, *end = xml + len;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt, *close;

		if (!lt)
			return -1;
		/* Comments and CDATA may hold anything, '<' included: skip them whole. */
		if ((size_t)(end - lt) >= 4 && !memcmp(lt, "<!--", 4)) {
			const char *e = find_mem(lt + 4, (size_t)(end - lt - 4), "-->");
			if (!e)
				return -1;
			p = e + 3;
			continue;
		}
		if ((size_t)(end - lt) >= 9 && !memcmp(lt, "<![CDATA[", 9)) {
			const char *e = find_mem(lt + 9, (size_t)(end - lt - 9), "]]>");
			if (!e)
				return -1;
			p = e + 3;
			continue;
		}
		if ((size_t)(end - lt) < tl + 2 || memcmp(lt + 1, tag, tl) || !name_end(lt[1 + tl])) {
			p = lt + 1;
			continue;
		}
		gt = memchr(lt + 1 + tl, '>', (size_t)(end - lt - 1 - tl));
		if (!gt)
			return -1;
		if (gt[-1] == '/') {
			*content = gt + 1;
			*clen = 0;
			return 0;
		}
		/* The end tag: "</tag" then optional spaces and '>'. */
		for (const char *q = gt + 1; q < end; q = close + 2) {
			const char *r;
			close = find_mem(q, (size_t)(end - q), "</");
			if (!close)
				return -1;
			if ((size_t)(end - close) < tl + 3 || memcmp(close + 2, tag, tl))
				continue;
			r = close + 2 + tl;
			while (r < end && (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n'))
				r++;
			if (r < end && *r == '>') {
				*content = gt + 1;
				*clen = (size_t)(close - (gt + 1));
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

static int add_utf8(struct apf_buf *b, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -1;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return apf_buf_add(b, u, n);
}

static int decode_entity(struct apf_buf *b, const char *p, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' } };
	unsigned long cp = 0;
	size_t i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n && !memcmp(p, named[i].name, n))
			return apf_buf_add(b, &named[i].c, 1);
	if (n < 2 || p[0] != '#' || n > 10)
		return -1;
	if (p[1] == 'x' || p[1] == 'X') {
		if (n < 3)
			return -1;
		for (i = 2; i < n; i++) {
			char c = p[i];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				return -1;
			cp = cp * 16 + (unsigned long)d;
		}
	} else {
		for (i = 1; i < n; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -1;
			cp = cp * 10 + (unsigned long)(p[i] - '0');
		}
	}
	return add_utf8(b, cp);
}

int apf_xml_decode(const char *raw, size_t len, char **out)
{
	struct apf_buf b;
	const char *p = raw, *end = raw + len;

	apf_buf_init(&b, 0);
	if (apf_buf_add(&b, "", 0))
		goto bad;
	while (p < end) {
		if (*p == '&') {
			const char *semi = memchr(p, ';', (size_t)(end - p));
			if (!semi || decode_entity(&b, p + 1, (size_t)(semi - p - 1)))
				goto bad;
			p = semi + 1;
		} else if (*p == '<') {
			const char *e;
			if ((size_t)(end - p) < 9 || memcmp(p, "<![CDATA[", 9))
				goto bad; /* a nested element where text was expected */
			e = find_mem(p + 9, (size_t)(end - p - 9), "]]>");
			if (!e || apf_buf_add(&b, p + 9, (size_t)(e - p - 9)))
				goto bad;
			p = e + 3;
		} else {
			const char *q = p;
			while (q < end && *q != '&' && *q != '<')
				q++;
			if (memchr(p, '\0', (size_t)(q - p)) || apf_buf_add(&b, p, (size_t)(q - p)))
				goto bad;
			p = q;
		}
	}
	*out = apf_buf_detach(&b, NULL);
	return 0;
bad:
	apf_buf_release(&b);
	return -1;
}

int apf_xml_text(const char *xml, size_t len, const char *tag, char **out)
{
	const char *c;
	size_t n;

	if (apf_xml_find(xml, len, tag, &c, &n))
		return 1;
	return apf_xml_decode(c, n, out) ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (*s < '0' || *s > '9' || v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static void copy_etag(char *dst, size_t n, const char *etag)
{
	size_t len = strlen(etag);

	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
		etag++;
		len -= 2;
	}
	if (len >= n)
		len = n - 1;
	memcpy(dst, etag, len);
	dst[len] = '\0';
}

static int parse_contents(const char *c, size_t n, struct apf_s3_object *o)
{
	char *text = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	if (apf_xml_text(c, n, "Key", &o->key))
		return -1;
	rc = apf_xml_text(c, n, "Size", &text);
	if (rc < 0 || (rc == 0 && parse_u64(text, &o->size)))
		goto bad;
	free(text);
	text = NULL;
	rc = apf_xml_text(c, n, "LastModified", &text);
	if (rc < 0)
		goto bad;
	if (rc == 0) {
		int64_t us;
		o->mtime = !apf_parse_iso8601(text, &us) && us > 0 ? us / 1000000 : 0;
	}
	free(text);
	text = NULL;
	rc = apf_xml_text(c, n, "ETag", &text);
	if (rc < 0)
		goto bad;
	if (rc == 0)
		copy_etag(o->etag, sizeof(o->etag), text);
	free(text);
	return 0;
bad:
	free(text);
	free(o->key);
	o->key = NULL;
	return -1;
}

int apf_s3_parse_list(const char *xml, size_t len, struct apf_s3_list_page *page)
{
	const char *root, *c, *p;
	size_t rlen, clen, alloc = 0;
	char *text = NULL;
	int rc;

	memset(page, 0, sizeof(*page));
	if (apf_xml_find(xml, len, "ListBucketResult", &root, &rlen))
		return -1;
	rc = apf_xml_text(root, rlen, "IsTruncated", &text);
	if (rc < 0)
		goto bad;
	page->truncated = rc == 0 && !strcmp(text, "true");
	free(text);
	text = NULL;
	rc = apf_xml_text(root, rlen, "NextContinuationToken", &page->next_token);
	if (rc < 0 || (page->truncated && rc != 0))
		goto bad; /* a truncated page without a token would loop or stop short */
	for (p = root; apf_xml_find(p, rlen - (size_t)(p - root), "Contents", &c, &clen) == 0;) {
		if (page->n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			page->objects = apf_xrealloc(page->objects, alloc * sizeof(*page->objects));
		}
		if (parse_contents(c, clen, &page->objects[page->n]))
			goto bad;
		page->n++;
		p = c + clen;
	}
	return 0;
bad:
	free(text);
	apf_s3_list_page_release(page);
	return -1;
}

void apf_s3_list_page_release(struct apf_s3_list_page *page)
{
	for (size_t i = 0; i < page->n; i++)
		free(page->objects[i].key);
	free(page->objects);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}

static void copy_printable(char *dst, size_t n, const char *src)
{
	size_t j = 0;

	if (!n)
		return;
	for (; src && *src && j + 1 < n; src++)
		if ((unsigned char)*src >= 0x20 && (unsigned char)*src < 0x7f)
			dst[j++] = *src;
	dst[j] = '\0';
}

void apf_s3_parse_error(const char *xml, size_t len, char *code, size_t ncode, char *message,
			size_t nmessage)
{
	const char *root;
	size_t rlen;
	char *text = NULL;

	if (ncode)
		code[0] = '\0';
	if (nmessage)
		message[0] = '\0';
	if (!xml || apf_xml_find(xml, len, "Error", &root, &rlen))
		return;
	if (apf_xml_text(root, rlen, "Code", &text) == 0)
		copy_printable(code, ncode, text);
	free(text);
	text = NULL;
	if (apf_xml_text(root, rlen, "Message", &text) == 0)
		copy_printable(message, nmessage, text);
	free(text);
}
