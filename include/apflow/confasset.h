/*
 * confasset.h: the files of config/ (labelset, gazetteers) compiled into
 * the binary (asset.h).  Names are the paths under config/:
 * "labelset_v1.json", "gazetteers/ports.txt".
 */
#ifndef APFLOW_CONFASSET_H
#define APFLOW_CONFASSET_H

#include "apflow/asset.h"

/* The asset config/<name>, or NULL. */
const struct apf_asset *apf_config_asset_find(const char *name);

#endif
