/*
 * labelset.h: the entity labels SMEs annotate (config/labelset_v1.json,
 * compiled into the binary).  Changing labels means a new labelset version.
 */
#ifndef APFLOW_LABELSET_H
#define APFLOW_LABELSET_H

#include <stddef.h>

#include "apflow/err.h"

struct apf_label {
	const char *name;        /* "VESSEL_NAME" */
	const char *description;
	const char *color;       /* "#1f77b4" */
};

struct apf_labelset {
	const char *version;       /* "v1" */
	const char *question_name; /* "entities" */
	size_t n;
	const struct apf_label *labels;
};

/*
 * The bundled labelset v1, parsed once (thread-safe) from the embedded
 * config/labelset_v1.json.  Never freed; NULL only if the embedded file is
 * broken, which a unit test rules out.
 */
const struct apf_labelset *apf_labelset_v1(void);

/* Index of the label called name in ls, or -1. */
int apf_labelset_find(const struct apf_labelset *ls, const char *name);

#endif
