/* argilla_impl.h: what argilla.c, argilla_push.c and argilla_pull.c share. */
#ifndef APFLOW_ARGILLA_IMPL_H
#define APFLOW_ARGILLA_IMPL_H

#include "apflow/argilla.h"
#include "apflow/http.h"

struct apf_argilla {
	struct apf_http *http;
	char *url;        /* without a trailing '/' */
	char *key_header; /* "X-Argilla-Api-Key: ..."; never logged */
};

/* One request with the key; resp holds the answer whatever its status. */
int argilla_request(struct apf_argilla *a, const char *method, const char *path, const char *body,
		    size_t body_len, struct apf_http_response *resp, struct apf_err *err);
/* APF_E* for a non-2xx status. */
int argilla_status_code(long status);

#endif
