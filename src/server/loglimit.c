/* loglimit.c: rate-limited log lines (see loglimit.h). */
#include <stdarg.h>
#include <stdio.h>

#include "apflow/util.h"
#include "server/loglimit.h"

void loglimit_log(struct loglimit *ll, enum apf_log_level level, const char *fmt, ...)
{
	char line[600];
	unsigned long suppressed = 0;
	int64_t now;
	va_list ap;

	if (level > apf_log_get_level())
		return;
	now = apf_now_ms();
	pthread_mutex_lock(&ll->lock);
	if (now - ll->window_start >= ll->interval_ms) {
		ll->window_start = now;
		ll->in_window = 0;
	}
	if (ll->in_window >= ll->burst) {
		ll->suppressed++;
		pthread_mutex_unlock(&ll->lock);
		return;
	}
	ll->in_window++;
	suppressed = ll->suppressed;
	ll->suppressed = 0;
	pthread_mutex_unlock(&ll->lock);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (suppressed)
		apf_log(level, "%s (and %lu similar lines suppressed)", line, suppressed);
	else
		apf_log(level, "%s", line);
}
