/* log.c: leveled diagnostics on stderr, one line per call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "apflow/log.h"
#include "apflow/banned.h" /* last: after every system header */

static enum apf_log_level current = APF_LOG_INFO;

void apf_log_set_level(enum apf_log_level level) { current = level; }
enum apf_log_level apf_log_get_level(void) { return current; }

int apf_log_parse_level(const char *s, enum apf_log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (enum apf_log_level)i;
			return 0;
		}
	}
	return -1;
}

void apf_log(enum apf_log_level level, const char *fmt, ...)
{
	static const char *prefix[] = { "error: ", "warning: ", "", "debug: " };
	char line[2048];
	va_list ap;

	if (level > current)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line keeps lines from several threads whole. */
	fprintf(stderr, "apflow: %s%s\n", prefix[level], line);
}
