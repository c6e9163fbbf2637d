/*
 * web.h: the static pages of web/, compiled into the binary (asset.h).
 */
#ifndef APFLOW_WEB_H
#define APFLOW_WEB_H

#include "apflow/asset.h"

/* The asset web/<name>, or NULL. */
const struct apf_asset *apf_web_find(const char *name);

#endif
