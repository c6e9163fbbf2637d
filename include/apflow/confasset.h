/*
 * confasset.h: the files of config/ (labelset, gazetteers) compiled into
 * the binary (config/ -> build/gen/config_assets.c by scripts/embed.sh).
 * Names are the paths under config/: "labelset_v1.json",
 * "gazetteers/ports.txt".
 */
#ifndef APFLOW_CONFASSET_H
#define APFLOW_CONFASSET_H

#include <stddef.h>

struct apf_config_asset {
	const char *name;
	const char *content_type;
	const unsigned char *data; /* NUL-terminated after size bytes */
	size_t size;
};

/* Terminated by an entry whose name is NULL. */
extern const struct apf_config_asset apf_config_assets[];

/* The asset called name, or NULL. */
const struct apf_config_asset *apf_config_asset_find(const char *name);

#endif
