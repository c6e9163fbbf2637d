/*
 * progress.h: the one progress bar of every long command.
 *
 * A bar is drawn on stderr only when stderr is a terminal (pass
 * ctx->stderr_tty); otherwise nothing is drawn and only the summary line
 * is printed.  The bar is one line, rewritten in place, cut to the
 * terminal's width so that it never wraps:
 *
 *   ingest [#########...................]  31% 12/39 files  4.2 files/s  ETA 0:06  b.pdf
 *
 * Updates are cheap and thread-safe: the line is redrawn at most every
 * 100 ms (and when done reaches total).  Before printing anything else on
 * stderr or stdout, call apf_progress_clear(); the next update redraws.
 * The run ends with apf_progress_end(), which erases the bar and prints the
 * one summary line every command ends with.
 *
 *   struct apf_progress *pb = apf_progress_new("ingest", "files", n, ctx->stderr_tty);
 *   for (i = 0; i < n; i++) {
 *           apf_progress_update(pb, i, "%s", name[i]);
 *           ...
 *   }
 *   apf_progress_end(pb, stdout, "%zu ingested, %zu failed (%.1f s)", ok, bad,
 *                    apf_progress_seconds(pb));
 */
#ifndef APFLOW_PROGRESS_H
#define APFLOW_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct apf_progress;

/*
 * A bar for `what` ("ingest", "ocr"), counting `unit` ("pages"; NULL: no
 * unit) up to total (0: unknown, no percentage nor ETA).  tty 0 draws
 * nothing.  Never fails.
 */
struct apf_progress *apf_progress_new(const char *what, const char *unit, uint64_t total, int tty);

/* Draws on out with a fixed width instead of stderr at the terminal's
 * (tests; width 0 asks the terminal). */
void apf_progress_set_output(struct apf_progress *p, FILE *out, int width);

/* Changes the total (work discovered as it goes). */
void apf_progress_set_total(struct apf_progress *p, uint64_t total);

/* Sets the count done and the note after the figures (fmt NULL: none;
 * an item name, "12 spans  3 failed"); redraws if due. */
void apf_progress_update(struct apf_progress *p, uint64_t done, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The callback the core's long operations take (void *arg, done, total):
 * pass it with the bar as arg to follow them on the bar. */
void apf_progress_cb(void *bar, uint64_t done, uint64_t total);

/* Adds n to the count done, keeping the note; redraws if due. */
void apf_progress_add(struct apf_progress *p, uint64_t n);

/* Erases the bar so that a line can be printed; the next update redraws. */
void apf_progress_clear(struct apf_progress *p);

/* Seconds since apf_progress_new(). */
double apf_progress_seconds(const struct apf_progress *p);

/*
 * Erases the bar, prints the summary line fmt (a newline is added) on f
 * when fmt is not NULL, whether or not a bar was drawn, and frees p.
 * NULL p: only prints the line.
 */
void apf_progress_end(struct apf_progress *p, FILE *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "0:07", "12:34", "1:02:03" for a number of seconds. */
void apf_progress_format_eta(char *out, size_t n, double secs);

#endif
