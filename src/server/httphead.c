/*
 * httphead.c: the check of a request's head (see httphead.h).
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "apflow/util.h"
#include "server/httphead.h"

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value byte: visible ASCII, SP, HTAB, or obs-text (>= 0x80). */
static int is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Prints at most 40 bytes of s for a message, non-printables as '?'. */
static void shown(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outsz && i < 40; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[o] = '\0';
}

static int name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(name, want, n);
}

/* 1 to 18 digits, nothing else: at most 999,999,999,999,999,999, which no
 * overflow can reach. */
static int parse_length(const char *v, size_t n, int64_t *out)
{
	int64_t x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

/* The request line: METHOD SP TARGET SP HTTP/1.x */
static int request_line(const char *s, size_t n, struct httphead *h, struct apf_err *err)
{
	size_t i = 0, m, t0;
	char show[48];

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	m = i;
	if (m == 0 || m >= sizeof(h->method) || i >= n || s[i] != ' ')
		goto bad;
	memcpy(h->method, s, m);
	h->method[m] = '\0';
	t0 = ++i;
	while (i < n && (unsigned char)s[i] > 0x20 && s[i] != 0x7f)
		i++;
	if (i == t0 || i >= n || s[i] != ' ')
		goto bad;
	/* libmicrohttpd decodes the path and cuts it at a NUL: "/healthz%00x"
	 * would be "/healthz".  (In the query a NUL is data: a filename's
	 * sanitizer drops it.) */
	for (size_t k = t0; k + 2 < i && s[k] != '?'; k++)
		if (s[k] == '%' && s[k + 1] == '0' && s[k + 2] == '0')
			return apf_error(err, APF_EINVAL, "a NUL (%%00) in the request's path");
	i++;
	if (n - i != 8 || memcmp(s + i, "HTTP/1.", 7) || (s[i + 7] != '0' && s[i + 7] != '1'))
		goto bad;
	h->http11 = s[i + 7] == '1';
	return 0;
bad:
	shown(s, n, show, sizeof(show));
	return apf_error(err, APF_EINVAL, "malformed request line '%s': expected METHOD TARGET HTTP/1.1", show);
}

/* The start of a request line that has not ended yet: could it still
 * become a good one? */
static int request_line_prefix(const char *s, size_t n, struct apf_err *err)
{
	static const char version[] = "HTTP/1.";
	size_t i = 0, t0;
	char show[48];

	if (n && s[n - 1] == '\r')
		n--;
	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == n)
		return i < 16 ? 0 : apf_error(err, APF_EINVAL, "malformed request line: the method is too long");
	if (s[i] != ' ' || i == 0 || i >= 16)
		goto bad;
	t0 = ++i;
	while (i < n && (unsigned char)s[i] > 0x20 && s[i] != 0x7f)
		i++;
	if (i == n)
		return 0;
	if (s[i] != ' ' || i == t0)
		goto bad;
	i++;
	for (size_t k = 0; i < n; i++, k++)
		if (k >= 8 || (k < 7 && s[i] != version[k]) || (k == 7 && s[i] != '0' && s[i] != '1'))
			goto bad;
	return 0;
bad:
	shown(s, n, show, sizeof(show));
	return apf_error(err, APF_EINVAL, "malformed request line '%s': expected METHOD TARGET HTTP/1.1", show);
}

int httphead_parse(const char *buf, size_t len, struct httphead *h, struct apf_err *err)
{
	const char *p = buf, *end, *line, *eol;
	size_t avail, fields = 0;
	int hosts = 0, te = 0, complete = 0, rc;
	int64_t cl = -1;
	char show[48];

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	avail = len < HTTPHEAD_MAX ? len : HTTPHEAD_MAX;
	/* A client may send empty lines before the request line. */
	while (avail - (size_t)(p - buf) >= 2 && p[0] == '\r' && p[1] == '\n' && p - buf < 8)
		p += 2;
	end = buf + avail;

	/* Every line must end in CRLF, with no NUL, bare CR or bare LF: check
	 * what has arrived, so that garbage is refused before the head ends. */
	for (const char *q = p; q < end; q++) {
		if (*q == '\0')
			return apf_error(err, APF_EINVAL, "malformed request: a NUL byte in the head");
		if (*q == '\r' && q + 1 < end && q[1] != '\n')
			return apf_error(err, APF_EINVAL, "malformed request: a CR not followed by LF");
		if (*q != '\n')
			continue;
		if (q == p || q[-1] != '\r')
			return apf_error(err, APF_EINVAL, "malformed request: a line ends in LF without CR");
		if (q == p + 1)
			return apf_error(err, APF_EINVAL, "malformed request: too many empty lines before it");
		if (q >= p + 3 && q[-3] == '\r' && q[-2] == '\n') {
			end = q + 1; /* the blank line: the head ends here */
			complete = 1;
			break;
		}
	}
	/* The request line, as soon as it is complete; before, what has come
	 * of it (a TLS handshake or binary junk is refused at once). */
	eol = memchr(p, '\n', (size_t)(end - p));
	rc = eol ? request_line(p, (size_t)(eol - 1 - p), h, err) : request_line_prefix(p, (size_t)(end - p), err);
	if (rc)
		return rc;
	if (!complete) {
		if (len >= HTTPHEAD_MAX)
			return apf_error(err, APF_EHDRTOOBIG, "request head over %d bytes", HTTPHEAD_MAX);
		return HTTPHEAD_MORE;
	}

	/* The fields, one per line, up to the blank line. */
	for (line = eol + 1; line < end - 2; line = eol + 1) {
		const char *colon, *v;
		size_t nlen, vlen;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			return HTTPHEAD_MORE; /* cannot happen: end closes a line */
		if (++fields > HTTPHEAD_MAX_FIELDS)
			return apf_error(err, APF_EHDRTOOBIG, "more than %d header fields", HTTPHEAD_MAX_FIELDS);
		if (line[0] == ' ' || line[0] == '\t')
			return apf_error(err, APF_EINVAL, "malformed request: a folded header line");
		colon = line;
		while (colon < eol && is_tchar((unsigned char)*colon))
			colon++;
		if (colon == line || *colon != ':') {
			shown(line, (size_t)(eol - line - 1), show, sizeof(show));
			return apf_error(err, APF_EINVAL, "malformed header line '%s'", show);
		}
		nlen = (size_t)(colon - line);
		v = colon + 1;
		vlen = (size_t)(eol - 1 - v);
		for (size_t i = 0; i < vlen; i++)
			if (!is_value_char((unsigned char)v[i])) {
				shown(line, nlen, show, sizeof(show));
				return apf_error(err, APF_EINVAL, "malformed request: a control character in '%s'", show);
			}
		/* Leading whitespace only: libmicrohttpd keeps a trailing space
		 * in the value, so "chunked " would not be chunked to it. */
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		if (name_is(line, nlen, "Content-Length")) {
			int64_t x;

			if (parse_length(v, vlen, &x)) {
				shown(v, vlen, show, sizeof(show));
				return apf_error(err, APF_EINVAL, "bad Content-Length '%s': expected 1 to 18 digits", show);
			}
			if (cl >= 0 && x != cl)
				return apf_error(err, APF_EINVAL, "two different Content-Length headers (%lld and %lld)",
						 (long long)cl, (long long)x);
			cl = x;
		} else if (name_is(line, nlen, "Transfer-Encoding")) {
			if (te++ || vlen != 7 || strncasecmp(v, "chunked", 7)) {
				shown(v, vlen, show, sizeof(show));
				return apf_error(err, APF_EINVAL,
						 "unsupported Transfer-Encoding '%s': only one, 'chunked', is accepted",
						 te > 1 ? "(twice)" : show);
			}
		} else if (name_is(line, nlen, "Host")) {
			hosts++;
		}
	}
	if (te && cl >= 0)
		return apf_error(err, APF_EINVAL, "both Content-Length and Transfer-Encoding: the body's end is ambiguous");
	if (te && !h->http11)
		return apf_error(err, APF_EINVAL, "Transfer-Encoding in an HTTP/1.0 request");
	if (h->http11 && hosts != 1)
		return apf_error(err, APF_EINVAL, "an HTTP/1.1 request needs exactly one Host header, not %d", hosts);
	h->len = (size_t)(end - buf);
	h->content_length = cl;
	h->chunked = te;
	return 0;
}

/* ---- chunked bodies ---- */

enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER, CK_TRAILER_LINE, CK_TRAILER_LF,
       CK_END_LF, CK_DONE };

void chunkparse_init(struct chunkparse *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->state = CK_SIZE;
}

static int chunk_bad(struct apf_err *err, const char *why, char c)
{
	if (c >= 0x20 && c < 0x7f)
		return apf_error(err, APF_EINVAL, "malformed chunked body: %s (got '%c')", why, c);
	return apf_error(err, APF_EINVAL, "malformed chunked body: %s (got byte 0x%02x)", why, (unsigned char)c);
}

int chunkparse_feed(struct chunkparse *cp, const char *buf, size_t n, size_t *used, struct apf_err *err)
{
	size_t i = 0;

	*used = 0;
	while (i < n) {
		char c = buf[i];
		int v;

		switch (cp->state) {
		case CK_SIZE:
			v = apf_hexval(c);
			if (v >= 0) {
				if (cp->digits == 15)
					return apf_error(err, APF_EINVAL,
							 "malformed chunked body: a chunk size of more than 15 hex digits");
				cp->left = cp->left * 16 + (uint64_t)v;
				cp->digits++;
				i++;
				break;
			}
			if (!cp->digits)
				return chunk_bad(err, "a chunk size must start with a hex digit", c);
			if (c == ';') {
				cp->state = CK_EXT;
				cp->len = 0;
			} else if (c == '\r') {
				cp->state = CK_SIZE_LF;
			} else {
				return chunk_bad(err, "a chunk size must end in CRLF or a ';' extension", c);
			}
			i++;
			break;
		case CK_EXT:
			if (c == '\r') {
				cp->state = CK_SIZE_LF;
			} else if (!is_value_char((unsigned char)c)) {
				return chunk_bad(err, "a control character in a chunk extension", c);
			} else if (++cp->len > CHUNK_EXT_MAX) {
				return apf_error(err, APF_EINVAL, "malformed chunked body: a chunk extension over %d bytes",
						 CHUNK_EXT_MAX);
			}
			i++;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				return chunk_bad(err, "a CR without LF after a chunk size", c);
			i++;
			cp->last = cp->left == 0;
			cp->digits = 0;
			cp->len = 0;
			cp->state = cp->last ? CK_TRAILER : CK_DATA;
			break;
		case CK_DATA: {
			uint64_t k = n - i;

			if (k > cp->left)
				k = cp->left;
			i += (size_t)k;
			cp->left -= k;
			if (!cp->left)
				cp->state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (c != '\r')
				return chunk_bad(err, "a chunk's data must end in CRLF", c);
			cp->state = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				return chunk_bad(err, "a chunk's data must end in CRLF", c);
			cp->state = CK_SIZE;
			i++;
			break;
		case CK_TRAILER: /* at the start of a trailer line, or the end */
			if (c == '\r') {
				cp->state = CK_END_LF;
			} else if (!is_tchar((unsigned char)c)) {
				return chunk_bad(err, "a trailer field must start with a field name", c);
			} else {
				cp->state = CK_TRAILER_LINE;
				cp->digits = 0; /* in a trailer: whether its colon came */
				cp->len++;
			}
			i++;
			break;
		case CK_TRAILER_LINE:
			if (c == '\r' && !cp->digits)
				return apf_error(err, APF_EINVAL, "malformed chunked body: a trailer field without a colon");
			if (c == '\r')
				cp->state = CK_TRAILER_LF;
			else if (!cp->digits && c == ':')
				cp->digits = 1;
			else if (!cp->digits && !is_tchar((unsigned char)c))
				return chunk_bad(err, "a trailer field's name must be a token", c);
			else if (!is_value_char((unsigned char)c))
				return chunk_bad(err, "a control character in a trailer field", c);
			if (++cp->len > CHUNK_TRAILER_MAX)
				return apf_error(err, APF_EINVAL, "malformed chunked body: trailer fields over %d bytes",
						 CHUNK_TRAILER_MAX);
			i++;
			break;
		case CK_TRAILER_LF:
			if (c != '\n')
				return chunk_bad(err, "a CR without LF in the trailer", c);
			cp->state = CK_TRAILER;
			i++;
			break;
		case CK_END_LF:
			if (c != '\n')
				return chunk_bad(err, "a CR without LF at the end of the body", c);
			cp->state = CK_DONE;
			i++;
			*used = i;
			return 1;
		default: /* CK_DONE */
			*used = 0;
			return 1;
		}
	}
	*used = n;
	return 0;
}
