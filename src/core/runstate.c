/* runstate.c: the state file of apflow run (apflow/runstate.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "apflow/jsonw.h"
#include "apflow/runstate.h"
#include "apflow/util.h"
#include "apflow/banned.h" /* last: after every system header */

int apf_run_state_save(const char *path, const struct apf_run_state *st, struct apf_err *err)
{
	struct apf_jsonw jw;
	int rc;

	apf_jsonw_init(&jw, 2, 0);
	apf_jsonw_object_begin(&jw);
	apf_jsonw_object_string(&jw, "dataset", st->dataset);
	apf_jsonw_object_string(&jw, "started_at", st->started_at);
	apf_jsonw_object_string(&jw, "finished_at", st->finished_at[0] ? st->finished_at : NULL);
	apf_jsonw_object_array(&jw, "stages");
	for (size_t s = 0; s < st->n && s < APF_RUN_STAGE_MAX; s++) {
		const struct apf_run_stage *r = &st->stages[s];
		apf_jsonw_object_begin(&jw);
		apf_jsonw_object_string(&jw, "stage", r->stage);
		apf_jsonw_object_string(&jw, "state", r->state);
		apf_jsonw_object_int(&jw, "items", r->items);
		apf_jsonw_object_int(&jw, "failures", r->failures);
		apf_jsonw_object_double(&jw, "seconds", r->seconds);
		apf_jsonw_object_string(&jw, "note", r->note);
		apf_jsonw_end(&jw);
	}
	apf_jsonw_end(&jw);
	apf_jsonw_end(&jw);
	if (!apf_jsonw_ok(&jw))
		rc = apf_error(err, APF_EINTERNAL, "cannot write '%s': the run state is too large", path);
	else
		rc = apf_write_file_atomic(path, jw.buf.data, jw.buf.len, err);
	apf_jsonw_release(&jw);
	return rc;
}

/* Copies the string member key of o into out ("" when absent or null);
 * returns -1 when it is there but not a string. */
static int get_str(json_t *o, const char *key, char *out, size_t n)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	apf_strlcpy(out, json_string_value(v), n);
	return 0;
}

int apf_run_state_load(const char *path, struct apf_run_state *st, struct apf_err *err)
{
	struct apf_run_state *tmp = NULL;
	json_error_t jerr;
	json_t *o = json_load_file(path, 0, &jerr), *stages;
	int rc = 0;

	if (!o) {
		if (access(path, F_OK) && errno == ENOENT)
			return apf_error(err, APF_ENOTFOUND, "no run state '%s'", path);
		return apf_error(err, APF_EINVAL, "cannot read run state '%s': %s (line %d)", path, jerr.text,
				 jerr.line);
	}
	tmp = apf_xcalloc(1, sizeof(*tmp));
	stages = json_object_get(o, "stages");
	if (!json_is_object(o) || !json_is_array(stages) || get_str(o, "dataset", tmp->dataset, sizeof(tmp->dataset)) ||
	    get_str(o, "started_at", tmp->started_at, sizeof(tmp->started_at)) ||
	    get_str(o, "finished_at", tmp->finished_at, sizeof(tmp->finished_at))) {
		rc = apf_error(err, APF_EINVAL, "cannot read run state '%s': not an object with a stages array", path);
		goto out;
	}
	for (size_t s = 0; s < json_array_size(stages) && s < APF_RUN_STAGE_MAX; s++) {
		json_t *r = json_array_get(stages, s);
		struct apf_run_stage *d = &tmp->stages[s];
		if (!json_is_object(r) || get_str(r, "stage", d->stage, sizeof(d->stage)) ||
		    get_str(r, "state", d->state, sizeof(d->state)) || get_str(r, "note", d->note, sizeof(d->note))) {
			rc = apf_error(err, APF_EINVAL, "cannot read run state '%s': stage %zu is not an object of strings",
				       path, s + 1);
			goto out;
		}
		d->items = json_integer_value(json_object_get(r, "items"));
		d->failures = json_integer_value(json_object_get(r, "failures"));
		d->seconds = json_number_value(json_object_get(r, "seconds"));
		tmp->n = s + 1;
	}
	*st = *tmp;
out:
	free(tmp);
	json_decref(o);
	return rc;
}
