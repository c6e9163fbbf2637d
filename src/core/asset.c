/* asset.c: lookups in the table of compiled-in files (apflow/asset.h). */
#include <string.h>

#include "apflow/asset.h"
#include "apflow/banned.h" /* last: after every system header */

const struct apf_asset *apf_asset_find(const char *path)
{
	for (const struct apf_asset *a = apf_assets; a->path; a++)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

static int in_dir(const struct apf_asset *a, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(a->path, dir, n) && !strcmp(a->name, a->path + n);
}

const struct apf_asset *apf_asset_in(const char *dir, const char *name)
{
	for (const struct apf_asset *a = apf_assets; a->path; a++)
		if (in_dir(a, dir) && !strcmp(a->name, name))
			return a;
	return NULL;
}

const struct apf_asset *apf_asset_next(const char *dir, const struct apf_asset *prev)
{
	for (const struct apf_asset *a = prev ? prev + 1 : apf_assets; a->path; a++)
		if (in_dir(a, dir))
			return a;
	return NULL;
}
