/*
 * web.h: static pages compiled into the binary (web/ → build/gen/web_assets.c).
 */
#ifndef APFLOW_WEB_H
#define APFLOW_WEB_H

#include <stddef.h>

struct apf_web_asset {
	const char *name;          /* "upload.html" */
	const char *content_type;
	const unsigned char *data; /* NUL-terminated after size bytes */
	size_t size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct apf_web_asset apf_web_assets[];

/* The asset called name, or NULL. */
const struct apf_web_asset *apf_web_find(const char *name);

#endif
