/* progress.c: the progress bar of long commands (apflow/progress.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "apflow/progress.h"
#include "apflow/util.h"

#define REDRAW_MS 100
#define BAR_CELLS 30

struct apf_progress {
	pthread_mutex_t lock;
	FILE *out;
	int tty;
	int width;          /* 0: the terminal's */
	char what[32];
	char unit[16];
	char note[256];
	uint64_t total, done;
	int64_t start_ms, drawn_ms;
	int shown;
};

struct apf_progress *apf_progress_new(const char *what, const char *unit, uint64_t total, int tty)
{
	struct apf_progress *p = apf_xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	p->out = stderr;
	p->tty = tty;
	snprintf(p->what, sizeof(p->what), "%s", what ? what : "");
	snprintf(p->unit, sizeof(p->unit), "%s", unit ? unit : "");
	p->total = total;
	p->start_ms = apf_now_ms();
	p->drawn_ms = p->start_ms - REDRAW_MS;
	return p;
}

void apf_progress_set_output(struct apf_progress *p, FILE *out, int width)
{
	pthread_mutex_lock(&p->lock);
	p->out = out;
	p->width = width;
	pthread_mutex_unlock(&p->lock);
}

void apf_progress_format_eta(char *out, size_t n, double secs)
{
	long s = secs < 0 ? 0 : (long)(secs + 0.5);

	if (s >= 3600)
		snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

static int term_width(struct apf_progress *p)
{
	struct winsize ws;

	if (p->width > 0)
		return p->width;
	if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* With p->lock held: builds the line and draws it. */
static void draw(struct apf_progress *p, int64_t now)
{
	char line[512], eta[32];
	double secs = (double)(now - p->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	int width = term_width(p), len;
	const char *sp = p->unit[0] ? " " : "";

	len = snprintf(line, sizeof(line), "%s%s[", p->what, p->what[0] ? " " : "");
	if (p->total) {
		uint64_t done = p->done > p->total ? p->total : p->done;
		int fill = (int)(done * BAR_CELLS / p->total);
		for (int i = 0; i < BAR_CELLS; i++)
			line[len++] = i < fill ? '#' : '.';
		len += snprintf(line + len, sizeof(line) - (size_t)len, "] %3d%% %llu/%llu%s%s",
				(int)(done * 100 / p->total), (unsigned long long)p->done,
				(unsigned long long)p->total, sp, p->unit);
	} else {
		/* Unknown total: a marker that moves with the count. */
		int at = (int)(p->done % BAR_CELLS);
		for (int i = 0; i < BAR_CELLS; i++)
			line[len++] = i == at ? '#' : '.';
		len += snprintf(line + len, sizeof(line) - (size_t)len, "] %llu%s%s", (unsigned long long)p->done,
				sp, p->unit);
	}
	len += snprintf(line + len, sizeof(line) - (size_t)len, "  %.1f%s%s/s", rate, sp, p->unit);
	if (p->total && rate > 0 && p->done < p->total) {
		apf_progress_format_eta(eta, sizeof(eta), (double)(p->total - p->done) / rate);
		len += snprintf(line + len, sizeof(line) - (size_t)len, "  ETA %s", eta);
	}
	if (p->note[0] && len < (int)sizeof(line))
		len += snprintf(line + len, sizeof(line) - (size_t)len, "  %s", p->note);
	if (len > (int)sizeof(line) - 1)
		len = (int)sizeof(line) - 1;
	/* Never wrap: a wrapped line cannot be rewritten with \r.  Cut at a
	 * character boundary (the note may be UTF-8). */
	if (len > width - 1) {
		len = width - 1;
		while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
			len--;
	}
	fprintf(p->out, "\r\033[K%.*s", len, line);
	fflush(p->out);
	p->shown = 1;
	p->drawn_ms = now;
}

static void maybe_draw(struct apf_progress *p)
{
	int64_t now;

	if (!p->tty)
		return;
	now = apf_now_ms();
	if (now - p->drawn_ms >= REDRAW_MS || (p->total && p->done >= p->total))
		draw(p, now);
}

void apf_progress_set_total(struct apf_progress *p, uint64_t total)
{
	pthread_mutex_lock(&p->lock);
	p->total = total;
	pthread_mutex_unlock(&p->lock);
}

void apf_progress_cb(void *bar, uint64_t done, uint64_t total)
{
	struct apf_progress *p = bar;

	if (!p)
		return;
	apf_progress_set_total(p, total);
	apf_progress_update(p, done, NULL);
}

void apf_progress_update(struct apf_progress *p, uint64_t done, const char *fmt, ...)
{
	va_list ap;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->done = done;
	p->note[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(p->note, sizeof(p->note), fmt, ap);
		va_end(ap);
		/* One line: a newline or a tab in a file name would break it. */
		for (char *c = p->note; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = '?';
	}
	maybe_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void apf_progress_add(struct apf_progress *p, uint64_t n)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->done += n;
	maybe_draw(p);
	pthread_mutex_unlock(&p->lock);
}

static void clear_locked(struct apf_progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
		p->shown = 0;
		/* Redraw at the next update, whenever it comes. */
		p->drawn_ms = apf_now_ms() - REDRAW_MS;
	}
}

void apf_progress_clear(struct apf_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	clear_locked(p);
	pthread_mutex_unlock(&p->lock);
}

double apf_progress_seconds(const struct apf_progress *p)
{
	return p ? (double)(apf_now_ms() - p->start_ms) / 1000.0 : 0;
}

void apf_progress_end(struct apf_progress *p, FILE *f, const char *fmt, ...)
{
	va_list ap;

	if (p) {
		pthread_mutex_lock(&p->lock);
		clear_locked(p);
		pthread_mutex_unlock(&p->lock);
		pthread_mutex_destroy(&p->lock);
		free(p);
	}
	if (fmt && f) {
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
		fputc('\n', f);
		fflush(f);
	}
}
