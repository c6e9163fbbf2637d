/* config.c: settings from flags, environment, file and defaults (see config.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apflow/config.h"
#include "apflow/util.h"

struct key_info {
	const char *name;
	int secret;
	const char *dflt;
	const char *help;
	const char *env1;
	const char *env2;
};

static const struct key_info keys[APF_CFG_COUNT] = {
#define APF_CFG_ROW(id, name, secret, def, help, env1, env2) { name, secret, def, help, env1, env2 },
	APF_CONFIG_KEYS(APF_CFG_ROW)
#undef APF_CFG_ROW
};

const char *apf_config_name(enum apf_config_key key) { return keys[key].name; }
const char *apf_config_help(enum apf_config_key key) { return keys[key].help; }
int apf_config_is_secret(enum apf_config_key key) { return keys[key].secret; }

int apf_config_lookup(const char *name)
{
	for (int i = 0; i < APF_CFG_COUNT; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

static void set_entry(struct apf_config *cfg, int key, const char *value,
		      enum apf_config_source src, const char *origin)
{
	struct apf_config_entry *e = &cfg->e[key];

	free(e->value);
	free(e->origin);
	e->value = value ? apf_xstrdup(value) : NULL;
	e->source = src;
	e->origin = origin ? apf_xstrdup(origin) : NULL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int load_file(struct apf_config *cfg, const char *path, struct apf_err *err)
{
	char *text = NULL, *line, *next, *nul;
	size_t len = 0;
	int lineno = 0, rc;

	rc = apf_read_file(path, 1 << 20, &text, &len, err);
	if (rc)
		return rc;
	/* The lines are C strings: after a NUL the rest of the file would be
	 * silently ignored (found while writing fuzz_config). */
	nul = memchr(text, '\0', len);
	if (nul) {
		for (const char *c = text; c < nul; c++)
			lineno += *c == '\n';
		rc = apf_error(err, APF_ECONFIG, "%s:%d: NUL byte: not a text file", path, lineno + 1);
		free(text);
		return rc;
	}
	for (line = text; line; line = next) {
		char *eq, *key, *value, origin[512];
		int k;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (!*line || *line == '#' || *line == ';')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			rc = apf_error(err, APF_ECONFIG, "%s:%d: expected 'key = value'", path, lineno);
			break;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		/* Values may be quoted to keep leading or trailing spaces. */
		size_t vl = strlen(value);
		if (vl >= 2 && ((value[0] == '"' && value[vl - 1] == '"') ||
				(value[0] == '\'' && value[vl - 1] == '\''))) {
			value[vl - 1] = '\0';
			value++;
		}
		k = apf_config_lookup(key);
		if (k < 0) {
			rc = apf_error(err, APF_ECONFIG, "%s:%d: unknown setting '%s'", path, lineno, key);
			break;
		}
		snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
		set_entry(cfg, k, value, APF_SRC_FILE, origin);
	}
	free(text);
	return rc;
}

int apf_config_load(struct apf_config *cfg, const char *file, struct apf_err *err)
{
	const char *path = file;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < APF_CFG_COUNT; i++)
		if (keys[i].dflt)
			set_entry(cfg, i, keys[i].dflt, APF_SRC_DEFAULT, NULL);

	if (!path) {
		const char *env = getenv("APFLOW_CONFIG");
		if (env && *env)
			path = env;
		else if (access("apflow.conf", F_OK) == 0)
			path = "apflow.conf";
	}
	if (path) {
		rc = load_file(cfg, path, err);
		if (rc) {
			apf_config_release(cfg);
			return rc;
		}
		cfg->file = apf_xstrdup(path);
	}

	for (int i = 0; i < APF_CFG_COUNT; i++) {
		const char *names[2] = { keys[i].env1, keys[i].env2 };
		for (int j = 0; j < 2; j++) {
			const char *v = names[j] ? getenv(names[j]) : NULL;
			if (v && *v) {
				set_entry(cfg, i, v, APF_SRC_ENV, names[j]);
				break;
			}
			/* An empty variable hides no file value or default, but
			 * is remembered (apf_config_is_empty()). */
			if (v && !cfg->e[i].value)
				set_entry(cfg, i, v, APF_SRC_ENV, names[j]);
		}
	}
	return 0;
}

void apf_config_release(struct apf_config *cfg)
{
	for (int i = 0; i < APF_CFG_COUNT; i++) {
		free(cfg->e[i].value);
		free(cfg->e[i].origin);
	}
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

int apf_config_set_flag(struct apf_config *cfg, const char *key, const char *value,
			const char *origin, struct apf_err *err)
{
	int k = apf_config_lookup(key);

	if (k < 0)
		return apf_error(err, APF_EUSAGE, "unknown setting '%s' (see 'apflow config')", key);
	set_entry(cfg, k, value, APF_SRC_FLAG, origin);
	return 0;
}

const char *apf_config_get(const struct apf_config *cfg, enum apf_config_key key)
{
	const char *v = cfg->e[key].value;

	if (v && !*v)
		v = NULL;
	if (!v && key == APF_CFG_STORE) {
		/* The default store lives beside the local warehouse. */
		static __thread char dflt[4096];
		const char *dir = apf_config_get(cfg, APF_CFG_DATA_DIR);
		snprintf(dflt, sizeof(dflt), "file://%s/lake", dir ? dir : "./data");
		return dflt;
	}
	return v;
}

int64_t apf_config_get_i64(const struct apf_config *cfg, enum apf_config_key key, int64_t dflt)
{
	const char *v = apf_config_get(cfg, key);
	int64_t n;

	if (!v || apf_parse_i64(v, &n))
		return dflt;
	return n;
}

int apf_config_is_empty(const struct apf_config *cfg, enum apf_config_key key)
{
	const char *v = cfg->e[key].value;

	return v && !*v;
}

void apf_config_display(const struct apf_config *cfg, enum apf_config_key key, char *out, size_t n)
{
	const char *v = apf_config_get(cfg, key);

	if (!v && apf_config_is_empty(cfg, key))
		snprintf(out, n, key == APF_CFG_UPLOAD_TOKEN ? "(empty: invalid)" : "(empty: unset)");
	else if (!v)
		snprintf(out, n, "(unset)");
	else if (keys[key].secret)
		snprintf(out, n, "(set, hidden)");
	else
		snprintf(out, n, "%s", v);
}

void apf_config_origin(const struct apf_config *cfg, enum apf_config_key key, char *out, size_t n)
{
	const struct apf_config_entry *e = &cfg->e[key];

	switch (e->source) {
	case APF_SRC_FLAG:
		snprintf(out, n, "flag %s", e->origin ? e->origin : "");
		break;
	case APF_SRC_ENV:
		snprintf(out, n, "env %s", e->origin ? e->origin : "");
		break;
	case APF_SRC_FILE:
		snprintf(out, n, "file %s", e->origin ? e->origin : "");
		break;
	default:
		snprintf(out, n, "default");
		break;
	}
}
