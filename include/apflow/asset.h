/*
 * asset.h: the files compiled into the binary, in one table.
 *
 * Every file under web/ (pages), sql/motherduck/ (migrations and the
 * seed's SQL files) and config/ (labelset, gazetteers) becomes an asset of
 * apf_assets[] (scripts/embed.sh -> build/gen/assets.c), so apflow finds
 * them wherever it runs.  An asset is found by its path in the repository
 * ("config/gazetteers/ports.txt"); name is the path under its directory
 * ("gazetteers/ports.txt", "V001__raw_ocr.sql", "upload.html").  A file
 * added under those directories is embedded by the next build.
 */
#ifndef APFLOW_ASSET_H
#define APFLOW_ASSET_H

#include <stddef.h>

struct apf_asset {
	const char *path;          /* "sql/motherduck/V001__raw_ocr.sql" */
	const char *name;          /* "V001__raw_ocr.sql": path under its directory */
	const char *content_type;  /* from the extension */
	const unsigned char *data; /* NUL-terminated after size bytes */
	size_t size;
};

/* Terminated by an entry whose path is NULL. */
extern const struct apf_asset apf_assets[];

/* The asset at path, or NULL. */
const struct apf_asset *apf_asset_find(const char *path);
/* The asset called name under dir ("web/", "sql/motherduck/", "config/"), or NULL. */
const struct apf_asset *apf_asset_in(const char *dir, const char *name);
/* The assets under dir in turn: first with prev NULL, then each after
 * prev; NULL at the end. */
const struct apf_asset *apf_asset_next(const char *dir, const struct apf_asset *prev);

#endif
