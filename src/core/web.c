/* web.c: lookup in the table of compiled-in static files. */
#include <string.h>

#include "apflow/web.h"
#include "apflow/banned.h" /* last: after every system header */

const struct apf_web_asset *apf_web_find(const char *name)
{
	for (const struct apf_web_asset *a = apf_web_assets; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}
