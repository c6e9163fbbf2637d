/*
 * labelset.c: the bundled labelset (config/labelset_v1.json, compiled in),
 * parsed once on first use, and the table of compiled-in config/ files.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apflow/confasset.h"
#include "apflow/labelset.h"
#include "apflow/util.h"

const struct apf_asset *apf_config_asset_find(const char *name)
{
	return apf_asset_in("config/", name);
}

static pthread_once_t v1_once = PTHREAD_ONCE_INIT;
static struct apf_labelset v1_set;
static const struct apf_labelset *v1; /* NULL when the embedded file is broken */

static const char *str_field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

/*
 * The strings are copied once and kept for the life of the process: the
 * labelset is global, read-only and handed out as static storage.
 */
static void v1_parse(void)
{
	const struct apf_asset *a = apf_config_asset_find("labelset_v1.json");
	json_t *root = NULL, *labels;
	struct apf_label *v = NULL;
	size_t n;

	if (!a)
		return;
	root = json_loadb((const char *)a->data, a->size, 0, NULL);
	labels = json_object_get(root, "labels");
	if (!str_field(root, "version") || !str_field(root, "question_name") ||
	    !json_is_array(labels) || !json_array_size(labels))
		goto out;
	n = json_array_size(labels);
	v = apf_xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		json_t *l = json_array_get(labels, i);

		if (!str_field(l, "name") || !str_field(l, "color"))
			goto bad;
		v[i].name = apf_xstrdup(str_field(l, "name"));
		v[i].color = apf_xstrdup(str_field(l, "color"));
		v[i].description = apf_xstrdup(str_field(l, "description") ? str_field(l, "description") : "");
	}
	v1_set.version = apf_xstrdup(str_field(root, "version"));
	v1_set.question_name = apf_xstrdup(str_field(root, "question_name"));
	v1_set.n = n;
	v1_set.labels = v;
	v1 = &v1_set;
	goto out;
bad:
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].name);
		free((char *)v[i].color);
		free((char *)v[i].description);
	}
	free(v);
out:
	json_decref(root);
}

const struct apf_labelset *apf_labelset_v1(void)
{
	pthread_once(&v1_once, v1_parse);
	return v1;
}

int apf_labelset_find(const struct apf_labelset *ls, const char *name)
{
	if (!ls || !name)
		return -1;
	for (size_t i = 0; i < ls->n; i++)
		if (!strcmp(ls->labels[i].name, name))
			return (int)i;
	return -1;
}
