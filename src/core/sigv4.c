/* sigv4.c: AWS Signature Version 4 (see sigv4.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/sigv4.h"
#include "apflow/util.h"

#define MAX_HEADERS 32

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

int apf_sigv4_encode(struct apf_buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			if (apf_buf_add(out, p, 1))
				return -1;
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			if (apf_buf_add(out, e, 3))
				return -1;
		}
	}
	if (!out->data)
		return apf_buf_add(out, "", 0);
	return 0;
}

struct enc_pair {
	char *name;
	char *value;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct enc_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static char *encoded(const char *s)
{
	struct apf_buf b;

	apf_buf_init(&b, 0);
	if (apf_sigv4_encode(&b, s ? s : "", 0)) {
		apf_buf_release(&b);
		return NULL;
	}
	return apf_buf_detach(&b, NULL);
}

int apf_sigv4_query(struct apf_buf *out, const struct apf_sigv4_pair *params, size_t n)
{
	struct enc_pair *v;
	int rc = 0;

	if (!n)
		return apf_buf_add(out, "", 0);
	v = apf_xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].name = encoded(params[i].name);
		v[i].value = encoded(params[i].value);
		if (!v[i].name || !v[i].value)
			rc = -1;
	}
	/* AWS sorts by the encoded names, byte by byte. */
	if (!rc)
		qsort(v, n, sizeof(*v), cmp_pair);
	for (size_t i = 0; !rc && i < n; i++)
		rc = apf_buf_addf(out, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
	return rc;
}

void apf_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

struct canon_header {
	char name[64];
	const char *value;
};

static int cmp_header(const void *a, const void *b)
{
	return strcmp(((const struct canon_header *)a)->name, ((const struct canon_header *)b)->name);
}

/* Appends a header value trimmed, with each run of spaces made one. */
static int add_value(struct apf_buf *b, const char *v)
{
	int space = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && apf_buf_add(b, " ", 1))
			return -1;
		space = 0;
		if (apf_buf_add(b, v, 1))
			return -1;
	}
	return 0;
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &n);
}

int apf_sigv4_authorization(const struct apf_sigv4_input *in, struct apf_buf *auth,
			    struct apf_buf *canonical, struct apf_buf *to_sign)
{
	struct canon_header h[MAX_HEADERS];
	struct apf_buf creq, sts, signed_names;
	char date[9], creq_hash[APF_SHA256_HEX], sig[65];
	unsigned char k[32], kdate[32], kregion[32], kservice[32], mac[32];
	char *secret_key;
	size_t n = in->nheaders;
	int rc = -1;

	if (n > MAX_HEADERS || strlen(in->amz_date) != 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(in->headers[i].name);
		if (!len || len >= sizeof(h[i].name) || !in->headers[i].value)
			return -1;
		for (size_t j = 0; j <= len; j++)
			h[i].name[j] = (char)tolower((unsigned char)in->headers[i].name[j]);
		h[i].value = in->headers[i].value;
	}
	qsort(h, n, sizeof(h[0]), cmp_header);
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';

	apf_buf_init(&creq, 0);
	apf_buf_init(&sts, 0);
	apf_buf_init(&signed_names, 0);
	if (apf_buf_addf(&creq, "%s\n%s\n%s\n", in->method, in->canonical_uri, in->canonical_query))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (apf_buf_addf(&creq, "%s:", h[i].name) || add_value(&creq, h[i].value) ||
		    apf_buf_add(&creq, "\n", 1) ||
		    apf_buf_addf(&signed_names, "%s%s", i ? ";" : "", h[i].name))
			goto out;
	}
	if (apf_buf_addf(&creq, "\n%s\n%s", signed_names.data ? signed_names.data : "", in->payload_hash))
		goto out;
	apf_sha256_hex(creq.data, creq.len, creq_hash);
	if (apf_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date, date,
			 in->region, in->service, creq_hash))
		goto out;

	/* The signing key chain: HMAC("AWS4" + secret, date), region, service,
	 * "aws4_request".  The secret's copy is wiped at once. */
	secret_key = apf_xasprintf("AWS4%s", in->secret_access_key);
	hmac(secret_key, strlen(secret_key), date, kdate);
	OPENSSL_cleanse(secret_key, strlen(secret_key));
	free(secret_key);
	hmac(kdate, 32, in->region, kregion);
	hmac(kregion, 32, in->service, kservice);
	hmac(kservice, 32, "aws4_request", k);
	hmac(k, 32, sts.data, mac);
	apf_hex(mac, 32, sig);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(kdate, sizeof(kdate));
	OPENSSL_cleanse(kregion, sizeof(kregion));
	OPENSSL_cleanse(kservice, sizeof(kservice));

	if (apf_buf_addf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
			 in->access_key_id, date, in->region, in->service,
			 signed_names.data ? signed_names.data : "", sig))
		goto out;
	if (canonical && apf_buf_add(canonical, creq.data, creq.len))
		goto out;
	if (to_sign && apf_buf_add(to_sign, sts.data, sts.len))
		goto out;
	rc = 0;
out:
	apf_buf_release(&creq);
	apf_buf_release(&sts);
	apf_buf_release(&signed_names);
	return rc;
}
