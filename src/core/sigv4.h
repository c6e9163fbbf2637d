/*
 * sigv4.h: AWS Signature Version 4 for S3 (internal to the core; exposed
 * so that the unit tests can check it against AWS's published examples).
 *
 * The caller builds the canonical URI and query with the encoders below and
 * sends exactly those bytes on the wire, so what is signed is what is sent.
 * Encoding follows AWS's rules for S3: RFC 3986 unreserved characters
 * (A-Z a-z 0-9 - . _ ~) stay, every other byte becomes %XX with upper-case
 * hex, '/' stays in object key paths, and S3 paths are not normalised or
 * encoded twice.
 */
#ifndef APFLOW_SIGV4_H
#define APFLOW_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "apflow/buf.h"

struct apf_sigv4_pair {
	const char *name;
	const char *value;
};

struct apf_sigv4_input {
	const char *method;
	const char *canonical_uri;      /* encoded path, e.g. "/bucket/raw/a%20b.pdf" */
	const char *canonical_query;    /* from apf_sigv4_query(), "" when none */
	const struct apf_sigv4_pair *headers; /* every header to sign, host included */
	size_t nheaders;
	const char *payload_hash;       /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
	const char *amz_date;           /* "YYYYMMDDTHHMMSSZ", also sent as x-amz-date */
	const char *region;             /* "us-east-1"; R2 uses "auto" */
	const char *service;            /* "s3" */
	const char *access_key_id;
	const char *secret_access_key;
};

/*
 * Appends the value of the Authorization header to auth.  When not NULL,
 * canonical and to_sign receive the canonical request and the string to
 * sign (for tests and debugging; neither contains the secret).  Header
 * names may be in any case; values are trimmed and inner runs of spaces
 * collapsed, as AWS does.  Returns 0, or -1 when a buffer is full or the
 * input is malformed (more than 32 headers, a header without a value).
 */
int apf_sigv4_authorization(const struct apf_sigv4_input *in, struct apf_buf *auth,
			    struct apf_buf *canonical, struct apf_buf *to_sign);

/* Appends s percent-encoded; keep_slash keeps '/' (for key paths). */
int apf_sigv4_encode(struct apf_buf *out, const char *s, int keep_slash);

/* Appends the canonical query string of n parameters: names and values
 * encoded, sorted by name then value, "name=value" joined with '&'. */
int apf_sigv4_query(struct apf_buf *out, const struct apf_sigv4_pair *params, size_t n);

/* Formats t as "YYYYMMDDTHHMMSSZ" (UTC). */
void apf_sigv4_amz_date(time_t t, char out[17]);

#define APF_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#endif
