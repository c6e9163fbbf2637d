/*
 * fuzz_config.c: libFuzzer target for the config file parser
 * (src/core/config.c, `key = value` lines).
 *
 * The input is the file's content.  apf_config_load() reads a path, so the
 * bytes go into a memory file (memfd) read through /proc/self/fd/N: the
 * parser under test is the one `apflow` runs, without a change made for
 * the fuzzer.  Checks beyond "no crash, no leak": a load either succeeds
 * or fails with APF_ECONFIG and a message that starts with the path (it
 * names file:line), as it must when the file holds a NUL byte; a secret is never shown by apf_config_display(); every
 * value set from the file says so, with "file PATH:LINE" as its origin.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "apflow/config.h"
#include "apflow/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_config: check failed at line %d: %s\n", __LINE__, #cond); \
			abort();                                                       \
		}                                                                      \
	} while (0)

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apf_config cfg;
	struct apf_err err = { 0, "" };
	char shown[4096], origin[600];
	int rc;

	if (fd < 0) {
		/* The environment must not hide what the file says. */
#define UNSET_ENV(id, name, secret, def, help, env1, env2) \
		unsetenv(env1);                                    \
		if (env2)                                          \
			unsetenv(env2);
		APF_CONFIG_KEYS(UNSET_ENV)
#undef UNSET_ENV
		unsetenv("APFLOW_CONFIG");
		fd = memfd_create("fuzz-config", 0);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

	rc = apf_config_load(&cfg, path, &err);
	/* A NUL byte would hide the rest of the file: it is refused. */
	if (memchr(data, 0, size))
		CHECK(rc == APF_ECONFIG && strstr(err.msg, ": NUL byte"));
	if (rc) {
		CHECK(rc == APF_ECONFIG || rc == APF_ETOOBIG || rc == APF_EIO);
		CHECK(err.code == rc);
		CHECK(!strncmp(err.msg, path, strlen(path)));
		return 0;
	}
	CHECK(cfg.file && !strcmp(cfg.file, path));
	for (int k = 0; k < APF_CFG_COUNT; k++) {
		const char *v = apf_config_get(&cfg, (enum apf_config_key)k);
		(void)apf_config_get_i64(&cfg, (enum apf_config_key)k, -1);
		apf_config_display(&cfg, (enum apf_config_key)k, shown, sizeof(shown));
		if (apf_config_is_secret((enum apf_config_key)k))
			CHECK(!strcmp(shown, v ? "(set, hidden)"
					       : !apf_config_is_empty(&cfg, (enum apf_config_key)k) ? "(unset)"
					       : k == APF_CFG_UPLOAD_TOKEN ? "(empty: invalid)" : "(empty: unset)"));
		apf_config_origin(&cfg, (enum apf_config_key)k, origin, sizeof(origin));
		if (cfg.e[k].source == APF_SRC_FILE) {
			CHECK(!strncmp(origin, "file ", 5) && !strncmp(origin + 5, path, strlen(path)) &&
			      origin[5 + strlen(path)] == ':');
			CHECK(cfg.e[k].value != NULL);
		} else {
			CHECK(cfg.e[k].source == APF_SRC_DEFAULT);
		}
	}
	/* A flag overrides whatever the file said. */
	CHECK(apf_config_set_flag(&cfg, "log_level", "debug", "-c", &err) == 0);
	CHECK(!strcmp(apf_config_get(&cfg, APF_CFG_LOG_LEVEL), "debug"));
	apf_config_release(&cfg);
	return 0;
}
