/*
 * rules.c: the offline pre-annotation engine (agent "apflow-rules-v1").
 *
 * One call runs a fixed set of PCRE2 patterns (JIT, UTF mode) over the page
 * and one gazetteer pass (rules_gaz.c); each candidate carries the score of
 * the rule that found it.  Checks that a regular expression cannot make
 * (IMO check digits, maritime identification digits, calendar dates, the
 * words around a match) are made in C.  Candidates are then resolved: the
 * longest span wins, then the higher score, and what overlaps a winner
 * goes.  Offsets are bytes until the very end, where one forward pass turns
 * them into code points.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "apflow/buf.h"
#include "apflow/labelset.h"
#include "apflow/rules.h"
#include "apflow/utf8.h"
#include "apflow/util.h"
#include "core/rules_impl.h"

/* ---- the patterns ---- */

#define NUM "(?:\\d{1,3}(?:,\\d{3})+|\\d{1,3}(?:\\.\\d{3})+|\\d{1,3}(?:[ ]\\d{3})+|\\d{3,7})(?!\\d)"
#define MON "(?i:(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z]))"
#define MONTH_FULL "(?:January|February|March|April|May|June|July|August|September|October|November|December|JANUARY|FEBRUARY|MARCH|APRIL|MAY|JUNE|JULY|AUGUST|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER)"

/*
 * The engine's patterns.  Those marked "anchored" run only where the trie
 * pass found their start (a month name, a tonnage unit, a field name), at
 * that place; the others scan the text.
 */
enum rule_id {
	R_SHIPNUM, /* 7 digits (IMO) or 9 (MMSI) */
	R_CALLSIGN_PROSE,
	R_DATE,
	R_V_QUOTE,
	R_SCAN_COUNT,
	R_DATE_MON = R_SCAN_COUNT, /* anchored at a month name */
	R_NUM,                     /* anchored: a figure before a tonnage unit */
	R_TON_VALUE,               /* anchored: the value of a tonnage field */
	R_COUNT
};

#define TON_FIELD_VALUE "(" NUM "(?:[ ]?(?:t|MT|mt|tonnes|metric tons|metric tonnes)(?!\\w))?)(?:[ ]*/[ ]*(" NUM "))?"
#define TON_UNITS "(?:GT|NT|DWT|GRT|NRT|gt|nt|dwt|grt|nrt|mt dwt|MT DWT|MT dwt|tdw" \
		  "|metric tonnes deadweight|metric tons deadweight|tonnes deadweight|tons deadweight" \
		  "|deadweight tonnes|deadweight tons|gross tons|gross tonnes|gross tonnage|net tons|net tonnage)"

static const char *const patterns[R_COUNT] = {
	[R_SHIPNUM] = "(?<![\\w.,/+-])[1-9]\\d{6}(?:\\d{2})?(?!\\w|[.,]\\d)",
	[R_CALLSIGN_PROSE] = "(?<!\\w)(?i:call[ -]?sign)[ ]+(?:is[ ]+|was[ ]+)?([A-Z0-9]{3,8})(?!\\w)",
	[R_DATE] = "(?<![\\w.])(?:"
		   "\\d{1,2}(?:st|nd|rd|th)?[ -]" MON "\\.?[ -](?:\\d{4}|\\d{2})"
		   "|\\d{4}-\\d{1,2}-\\d{1,2}"
		   "|\\d{4}/\\d{1,2}/\\d{1,2}"
		   "|\\d{1,2}[./-]\\d{1,2}[./-]\\d{4}"
		   "|\\d{4}年\\d{1,2}月\\d{1,2}日"
		   ")(?!\\w|[.,/-]\\d)",
	[R_V_QUOTE] = "[\"“](?=[\\p{Lu}\\d])",
	[R_DATE_MON] = "(?<![\\w.])(?:" MON "\\.?[ ]\\d{1,2}(?:st|nd|rd|th)?,?[ ]\\d{4}"
		       "|" MONTH_FULL "[ ]\\d{4})(?!\\w|[.,/-]\\d)",
	[R_NUM] = NUM,
	[R_TON_VALUE] = TON_FIELD_VALUE,
};

/*
 * Every rule as one regular expression, for `rg -P` in bench/: the
 * patterns above that scan, and the regular-expression form of what the
 * engine finds in its trie pass instead (dates from a month name, tonnage
 * before a unit, the fields).  The gazetteers themselves (ports, flags,
 * types, organizations) have no regular expression: ripgrep does not
 * look for them.
 */
static const char *const rg_patterns[] = {
	"(?<![\\w.,/-])[1-9]\\d{6}(?!\\w|[.,]\\d)",
	"(?<![\\w.,/+-])[2-7]\\d{8}(?!\\w|[.,]\\d)",
	"(?<!\\w)(?i:call[ -]?sign|c/s)(?:[ ]*[:|][ ]*|[ ]+(?:is[ ]+|was[ ]+)?)([A-Z0-9]{3,8})(?!\\w)",
	"(?<![\\w.])(?:"
	"\\d{1,2}(?:st|nd|rd|th)?[ -]" MON "\\.?[ -](?:\\d{4}|\\d{2})"
	"|" MON "\\.?[ ]\\d{1,2}(?:st|nd|rd|th)?,?[ ]\\d{4}"
	"|\\d{4}-\\d{1,2}-\\d{1,2}"
	"|\\d{4}/\\d{1,2}/\\d{1,2}"
	"|\\d{1,2}[./-]\\d{1,2}[./-]\\d{4}"
	"|\\d{4}年\\d{1,2}月\\d{1,2}日"
	"|" MONTH_FULL "[ ]\\d{4}"
	")(?!\\w|[.,/-]\\d)",
	"(?<![\\d.,])" NUM "[ ]?" TON_UNITS "(?!\\w)",
	"(?<!\\w)(?i:gross[ ]tonnage|net[ ]tonnage|summer[ ]deadweight|deadweight(?:[ ]tonnage)?|dwt|grt|nrt|gt|nt)"
	"[ ]?[:|][ ]*" TON_FIELD_VALUE,
	"(?<![\\w/.])(?:M/V|M/T|M\\.V\\.|M\\.T\\.|MV|MT|SS|FV|MY|RV|m/v|m/t|mv)[ ]+(?=[\\p{Lu}\\d])",
	"(?<!\\w)(?i:name[ ]of[ ](?:the[ ])?(?:ship|vessel)|ships?'?s?[ ]name|vessels?'?s?[ ]name"
	"|vessel|ex-names?)[ ]?[:|][ ]*(?=[\\p{Lu}\\d])",
	"[\"“](?=[\\p{Lu}\\d])",
	"(?<!\\w)(?:vessel|ship|boat)[ ]+(?=\\p{Lu})",
	"(?<!\\w)(?i:registered[ ]owners?|beneficial[ ]owner|ism[ ]manager|technical[ ]manager|owners?|managers?"
	"|operators?|company|charterers?|brokers?|classification[ ]society|class"
	"|authority|investigating[ ]body|p&i[ ]club|p&i)[ ]?[:|][ ]*(?=\\p{Lu})",
	NULL,
};

const char *const *apf_rules_patterns(void)
{
	return rg_patterns;
}

/* Field names the trie pass finds; a field's value follows ':' or '|'. */
enum field_id { F_CALLSIGN = 1, F_TONNAGE, F_VESSEL, F_ORG };

static const char *const callsign_fields[] = { "call sign", "callsign", "call-sign", "c/s", NULL };
static const char *const tonnage_fields[] = { "gross tonnage", "net tonnage", "summer deadweight", "deadweight",
					      "deadweight tonnage", "dwt", "grt", "nrt", "gt", "nt", NULL };
static const char *const vessel_fields[] = { "name of ship", "name of the ship", "name of vessel",
					     "name of the vessel", "ship's name", "ships name", "vessel's name",
					     "vessels name", "vessel name", "ship name", "vessel", "ex-name",
					     "ex-names", NULL };
static const char *const org_fields[] = { "registered owner", "registered owners", "beneficial owner",
					  "ism manager", "technical manager", "owner", "owners", "manager",
					  "managers", "operator", "operators", "company", "charterer",
					  "charterers", "broker", "brokers", "classification society", "class",
					  "authority", "investigating body", "p&i club", "p&i", NULL };
/* Prefixes of vessels' names, and the words a name may follow. */
static const char *const vessel_prefixes[] = { "M/V", "M/T", "M.V.", "M.T.", "MV", "MT", "SS", "FV", "MY", "RV",
					       "m/v", "m/t", "mv", NULL };
static const char *const vessel_words[] = { "vessel", "ship", "boat", NULL };
/* Tonnage units after a figure ("45,123 GT"): as written, or in capitals. */
static const char *const ton_units[] = { "GT", "NT", "dwt", "gt", "nt", "grt", "nrt", "mt dwt", "MT dwt", "tdw",
					 "metric tonnes deadweight", "metric tons deadweight", "tonnes deadweight",
					 "tons deadweight", "deadweight tonnes", "deadweight tons", "gross tons",
					 "gross tonnes", "gross tonnage", "net tons", "net tonnage", NULL };

/* Scores: how often each rule is right, estimated on the gold corpus and
 * on judgement; Argilla shows them beside the suggestion. */
#define S_IMO_CTX 0.99
#define S_IMO_BARE 0.8
#define S_MMSI 0.97
#define S_CALLSIGN 0.95
#define S_DATE 0.95
#define S_TONNAGE 0.93
#define S_V_FIELD 0.95
#define S_V_PREFIX 0.9
#define S_V_TYPE 0.8
#define S_V_LINE 0.75
#define S_V_QUOTE 0.7
#define S_TYPE 0.9
#define S_FLAG_CTX 0.95
#define S_FLAG_BARE 0.5
#define S_PORT_CTX 0.9
#define S_PORT_BARE 0.75
#define S_PORT_AMBIG 0.6
#define S_ORG_GAZ 0.9
#define S_ORG_FIELD 0.85
#define S_ORG_SUFFIX 0.8
#define S_LEARNT 0.8

/* Legal suffixes of company names: where the organization rule looks back. */
static const char *const org_suffixes[] = {
	"S.A.", "SA", "Ltd", "Ltd.", "Limited", "Inc", "Inc.", "LLC", "GmbH & Co. KG", "GmbH", "AG",
	"Co., Ltd.", "Co., Ltd", "Co. Ltd.", "Co. Ltd", "Pte. Ltd.", "Pte Ltd", "Pte. Ltd", "Pte Ltd.",
	"A/S", "AS", "ASA", "B.V.", "BV", "N.V.", "NV", "Corp.", "Corp", "Corporation", "S.p.A.", "SpA",
	"S.r.l.", "Srl", "Ltda.", "Ltda", "JSC", "PJSC", "PLC", "plc", "KG", "SE", "S.A.S.", "SAS",
	"Sdn. Bhd.", "Sdn Bhd", "Pty Ltd", "Pty. Ltd.", "K.K.", "S.L.", "SL", "OÜ", "Oy", "LLP",
	"S. de R.L.", "S.A. de C.V.", "Pvt. Ltd.", "Pvt Ltd", "Private Limited", NULL
};
static const char *const month_names[] = {
	"January", "February", "March", "April", "May", "June", "July", "August", "September",
	"October", "November", "December", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep",
	"Sept", "Oct", "Nov", "Dec", NULL
};

struct apf_rules {
	pcre2_code *re[R_COUNT];
	struct gz gz;
	const char *l_vessel, *l_imo, *l_mmsi, *l_cs, *l_flag, *l_port, *l_date, *l_org, *l_type, *l_ton;
};

void apf_spans_release(struct apf_spans *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->alloc = 0;
}

void apf_rules_free(struct apf_rules *r)
{
	if (!r)
		return;
	for (int i = 0; i < R_COUNT; i++)
		pcre2_code_free(r->re[i]);
	gz_release(&r->gz);
	free(r);
}

static const char *label(const char *name)
{
	const struct apf_labelset *ls = apf_labelset_v1();
	int i = apf_labelset_find(ls, name);

	return i < 0 ? NULL : ls->labels[i].name;
}

int apf_rules_new(struct apf_rules **out, const struct apf_rules_opts *opts, struct apf_err *err)
{
	struct apf_rules *r = apf_xcalloc(1, sizeof(*r));
	int rc = 0;

	r->l_vessel = label("VESSEL_NAME");
	r->l_imo = label("IMO_NUMBER");
	r->l_mmsi = label("MMSI");
	r->l_cs = label("CALL_SIGN");
	r->l_flag = label("FLAG_STATE");
	r->l_port = label("PORT");
	r->l_date = label("DATE");
	r->l_org = label("ORGANIZATION");
	r->l_type = label("VESSEL_TYPE");
	r->l_ton = label("TONNAGE");
	if (!r->l_vessel || !r->l_imo || !r->l_mmsi || !r->l_cs || !r->l_flag || !r->l_port ||
	    !r->l_date || !r->l_org || !r->l_type || !r->l_ton) {
		rc = apf_error(err, APF_EINTERNAL, "labelset v1 lacks a label the rules emit");
		goto out;
	}
	for (int i = 0; i < R_COUNT; i++) {
		int ec;
		PCRE2_SIZE off;

		r->re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
					 PCRE2_UTF | PCRE2_NO_UTF_CHECK, &ec, &off, NULL);
		if (!r->re[i]) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(ec, msg, sizeof(msg));
			rc = apf_error(err, APF_EINTERNAL, "cannot compile rule %d at %zu: %s", i,
				       (size_t)off, (const char *)msg);
			goto out;
		}
		/* Without JIT (a platform PCRE2 lacks it for) the interpreter runs. */
		pcre2_jit_compile(r->re[i], PCRE2_JIT_COMPLETE);
	}
	rc = gz_load_bundled(&r->gz, err);
	if (!rc && opts && opts->extra_gazetteer_dir && *opts->extra_gazetteer_dir)
		rc = gz_load_dir(&r->gz, opts->extra_gazetteer_dir, err);
	if (!rc) {
		gz_add_names(&r->gz, org_suffixes, GZ_ORGSUF, 0, r->l_org);
		gz_add_names(&r->gz, month_names, GZ_MONTH, 0, r->l_date);
		gz_add_names(&r->gz, callsign_fields, GZ_FIELD, F_CALLSIGN, r->l_cs);
		gz_add_names(&r->gz, tonnage_fields, GZ_FIELD, F_TONNAGE, r->l_ton);
		gz_add_names(&r->gz, vessel_fields, GZ_FIELD, F_VESSEL, r->l_vessel);
		gz_add_names(&r->gz, org_fields, GZ_FIELD, F_ORG, r->l_org);
		gz_add_names(&r->gz, ton_units, GZ_UNIT, 0, r->l_ton);
		gz_add_names(&r->gz, vessel_prefixes, GZ_VPREFIX, 0, r->l_vessel);
		gz_add_names(&r->gz, vessel_words, GZ_VWORD, 0, r->l_vessel);
		if (r->gz.nnodes >= (1u << 24))
			rc = apf_error(err, APF_ETOOBIG, "gazetteers too large: %zu trie nodes (at most %u)",
				       r->gz.nnodes, (1u << 24) - 1);
		else
			gz_freeze(&r->gz);
	}
out:
	if (rc) {
		apf_rules_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ---- candidates ---- */

struct cand {
	size_t s, e;
	const char *label;
	double score;
};

struct cands {
	struct cand *v;
	size_t n, alloc;
};

static void add(struct cands *c, size_t s, size_t e, const char *lab, double score)
{
	if (e <= s)
		return;
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 64;
		c->v = apf_xrealloc(c->v, c->alloc * sizeof(*c->v));
	}
	c->v[c->n].s = s;
	c->v[c->n].e = e;
	c->v[c->n].label = lab;
	c->v[c->n].score = score;
	c->n++;
}

/* ---- context ---- */

static size_t line_start(const char *t, size_t pos)
{
	while (pos && t[pos - 1] != '\n')
		pos--;
	return pos;
}

static int ci_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return 0;
	}
	return 1;
}

static int is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/*
 * Whether the text just before pos, on the same line and without the
 * separators " :|.(" at its end, ends with one of words (any case, on a
 * word boundary).
 */
static int before_is(const char *t, size_t pos, const char *const *words)
{
	size_t ls = line_start(t, pos), p = pos;

	while (p > ls && strchr(" :|.(", t[p - 1]))
		p--;
	for (; *words; words++) {
		size_t n = strlen(*words);

		if (p - ls >= n && ci_eq(t + p - n, *words, n) &&
		    (p - ls == n || !is_alnum((unsigned char)t[p - n - 1])))
			return 1;
	}
	return 0;
}

/* Whether the text at pos starts with one of words (any case). */
static int after_is(const char *t, size_t len, size_t pos, const char *const *words)
{
	for (; *words; words++) {
		size_t n = strlen(*words);

		if (len - pos >= n && ci_eq(t + pos, *words, n) &&
		    (pos + n == len || !is_alnum((unsigned char)t[pos + n]) || !is_alnum((unsigned char)(*words)[n - 1])))
			return 1;
	}
	return 0;
}

/* Whether needle occurs within back bytes before pos on the same line. */
static int near_before(const char *t, size_t pos, size_t back, const char *needle, int ci)
{
	size_t ls = line_start(t, pos), n = strlen(needle), from = pos > ls + back ? pos - back : ls;

	for (size_t i = from; i + n <= pos; i++)
		if (ci ? ci_eq(t + i, needle, n) : !memcmp(t + i, needle, n))
			return 1;
	return 0;
}

/* ---- names of vessels ---- */

enum word_kind { W_NONE, W_CAPS, W_TITLE, W_NUM, W_OTHER };

struct word {
	size_t s, e;   /* the word without trailing punctuation */
	size_t next;   /* where the next word may start (after one space), or 0 */
	enum word_kind kind;
	int stop_after; /* punctuation ended it: no word may follow */
};

/* Letters rl_fold() leaves alone because they have no base letter:
 * æ þ œ and ß, Æ Þ Œ ("Ærø Søfart A/S" is a name in title case). */
static int is_lower_cp(uint32_t cp)
{
	uint32_t f = rl_fold(cp);

	if (f >= 'a' && f <= 'z')
		return 1;
	return (cp >= 0x3B1 && cp <= 0x3C9) || (cp >= 0x430 && cp <= 0x45F) || cp == 0xDF || cp == 0xE6 ||
	       cp == 0xFE || cp == 0x153;
}

static int is_upper_cp(uint32_t cp)
{
	uint32_t f = rl_fold(cp);

	if (f >= 'A' && f <= 'Z')
		return 1;
	return (cp >= 0x391 && cp <= 0x3A9) || (cp >= 0x400 && cp <= 0x42F) || cp == 0xC6 || cp == 0xDE ||
	       cp == 0x152;
}

/*
 * Reads the word at s: up to a space or the end of the line.  Its kind is
 * judged on the letters before any punctuation other than ' & . - (so
 * "PRIDE," is a word in capitals that ends a name, "(IMO" is none).
 */
static int is_cjk(uint32_t cp)
{
	return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
	       (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x2FFFF);
}

static void read_word(const char *t, size_t len, size_t s, struct word *w)
{
	size_t i = s, n, last_alnum = s;
	int lower = 0, upper = 0, digits = 0, letters = 0, first_upper = -1, other = 0, inner = 0;

	(void)upper;
	memset(w, 0, sizeof(*w));
	w->s = s;
	while (i < len && t[i] != ' ' && t[i] != '\n') {
		uint32_t cp = rl_cp(t, len, i, &n);

		if (other && cp < 0x80 && is_alnum((unsigned char)cp))
			inner = 1; /* "M/V", "A/S": not a word of a name */

		/* CJK has no spaces: a Latin word may start right after it
		 * ("由Atlas"), and ends where it starts ("PRIDE轮"). */
		if (!other && is_cjk(cp)) {
			if (last_alnum == s && !letters && !digits) {
				s = i + n;
				w->s = s;
				last_alnum = s;
				i += n;
				continue;
			}
			other = 1;
		}
		if (!other) {
			if (cp >= '0' && cp <= '9') {
				digits++;
				last_alnum = i + n;
			} else if (rl_is_word_cp(cp)) {
				if (!(cp >= 0x300 && cp <= 0x36F)) {
					letters++;
					if (is_lower_cp(cp))
						lower++;
					else if (is_upper_cp(cp))
						upper++;
					if (first_upper < 0)
						first_upper = is_upper_cp(cp);
				}
				last_alnum = i + n;
			} else if (!(cp == '\'' || cp == 0x2019 || cp == '&' || cp == '.' || cp == '-')) {
				other = i == s ? 2 : 1;
			}
		}
		i += n;
	}
	w->e = other == 2 ? s : last_alnum;
	w->stop_after = other || w->e < i;
	w->next = (i < len && t[i] == ' ') ? i + 1 : 0;
	if (w->e <= w->s)
		w->kind = W_NONE;
	else if (inner)
		w->kind = W_OTHER;
	else if (!letters && digits && digits <= 3 && w->e - w->s == (size_t)digits)
		w->kind = W_NUM;
	else if (letters && !lower)
		w->kind = W_CAPS;
	else if (letters && first_upper == 1)
		w->kind = W_TITLE;
	else
		w->kind = W_OTHER;
}

/* Where to start reading words back from pos: the line's start, or the
 * first word within back bytes. */
static size_t window_start(const char *t, size_t pos, size_t back)
{
	size_t ls = line_start(t, pos), st;

	if (pos - ls <= back)
		return ls;
	st = pos - back;
	while (st < pos && t[st - 1] != ' ')
		st++;
	return st;
}

static const char *const name_stops[] = {
	"IMO", "MMSI", "FLAG", "BLT", "BUILT", "DWT", "GT", "NT", "LOA", "CALL", "TYPE", "CLASS",
	"THE", "ON", "IN", "AT", "FOR", "FROM", "TO", "WAS", "IS", "AND", "HER", "HIS", "ITS", "SHE",
	"IT", "THIS", "THAT", "WITH", "PORT", "OWNERS", "CHARTERERS", "CARGO", "SSW", "EX", "NO", NULL
};
static const char *const name_end_stops[] = { "OF", "DE", "DEL", "DA", "DO", "LA", "LE", "VAN", NULL };

static int word_in(const char *t, const struct word *w, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == w->e - w->s && ci_eq(t + w->s, *list, w->e - w->s))
			return 1;
	return 0;
}

enum name_mode { NM_ANY, NM_CAPS };

static int word_ok(const char *t, const struct word *w, enum name_mode mode, int first)
{
	if (w->kind == W_NUM)
		return !first;
	if (w->kind == W_CAPS)
		return !word_in(t, w, name_stops);
	if (w->kind == W_TITLE && mode == NM_ANY)
		return !word_in(t, w, name_stops);
	return 0;
}

/* Drops name-ending particles ("OF"); returns the new end or s. */
static size_t trim_name(const char *t, size_t s, size_t e)
{
	for (;;) {
		size_t b = e;
		struct word w;

		while (b > s && t[b - 1] != ' ')
			b--;
		if (b == s)
			return e;
		w.s = b;
		w.e = e;
		if (!word_in(t, &w, name_end_stops))
			return e;
		e = b - 1;
	}
}

/* Scans a name forward from s; returns its end, or s when there is none. */
static size_t scan_name(const char *t, size_t len, size_t s, enum name_mode mode)
{
	size_t end = s, p = s;
	int first = 1;

	while (p && p < len) {
		struct word w;

		read_word(t, len, p, &w);
		if (!word_ok(t, &w, mode, first))
			break;
		end = w.e;
		first = 0;
		if (w.stop_after || !w.next)
			break;
		p = w.next;
	}
	return end > s ? trim_name(t, s, end) : s;
}

/*
 * Scans a name backward from pos (just after it, before a space): the
 * longest run of name words that ends there; stops at floor.  Returns the
 * start, or pos when there is none.
 */
static size_t scan_name_back(const char *t, size_t len, size_t pos, size_t floor,
			     enum name_mode mode, int whole_line)
{
	size_t ls = window_start(t, pos, 240), p, best = pos;
	size_t starts[64];
	int ok[64], nw = 0;

	if (ls < floor)
		ls = floor;
	/* Split [ls, pos) into words; then take the longest name suffix. */
	for (p = ls; p < pos && nw < 64;) {
		struct word w;

		read_word(t, len, p, &w);
		if (w.e > pos)
			break;
		starts[nw] = w.s;
		ok[nw] = w.e == pos || (!w.stop_after && w.next);
		ok[nw] = ok[nw] && (w.kind == W_CAPS || w.kind == W_NUM ||
				    (w.kind == W_TITLE && mode == NM_ANY)) &&
			 !word_in(t, &w, name_stops);
		nw++;
		if (!w.next)
			break;
		p = w.next;
	}
	for (int i = nw - 1; i >= 0 && ok[i]; i--)
		best = starts[i];
	if (best == pos)
		return pos;
	/* The first word may not be a number. */
	while (best < pos) {
		struct word w;

		read_word(t, len, best, &w);
		if (w.kind != W_NUM)
			break;
		best = w.next ? w.next : pos;
	}
	if (whole_line && best != line_start(t, pos))
		return pos;
	return best;
}

/* ---- the rules ---- */

static int imo_valid(const char *d)
{
	int s = 0;

	for (int i = 0; i < 6; i++)
		s += (d[i] - '0') * (7 - i);
	return s % 10 == d[6] - '0';
}

static int mid_valid(const char *d)
{
	int mid = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');

	return mid >= 201 && mid <= 775;
}

static int day_ok(long y, long m, long d)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	return !(m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)));
}

/* Numeric dates: the day and month must be possible. */
static int date_valid(const char *t, size_t s, size_t e)
{
	long v[3];
	int n = 0, year = -1;

	for (size_t i = s; i < e && n < 3;) {
		if (t[i] >= '0' && t[i] <= '9') {
			long x = 0;
			size_t b = i;

			while (i < e && t[i] >= '0' && t[i] <= '9')
				x = x * 10 + (t[i++] - '0');
			if (i - b == 4)
				year = n;
			v[n++] = x;
		} else if ((unsigned char)t[i] >= 0x80 || is_alnum((unsigned char)t[i])) {
			return 1; /* a month name: the pattern did the checking */
		} else {
			i++;
		}
	}
	if (n != 3 || year < 0)
		return 1;
	if (year == 0) /* Y-M-D */
		return day_ok(v[0], v[1], v[2]);
	/* D.M.Y, or M/D/Y when the day cannot be the first */
	return day_ok(v[2], v[1], v[0]) || day_ok(v[2], v[0], v[1]);
}

struct ctx {
	const struct apf_rules *r;
	const char *t;
	size_t len;
	struct cands *c;
	pcre2_match_data *md;
	struct gz_hits hits;
};

typedef void (*match_fn)(struct ctx *x, const PCRE2_SIZE *ov, int nov);

static void run(struct ctx *x, enum rule_id id, match_fn fn)
{
	PCRE2_SIZE start = 0;

	while (start <= x->len) {
		int rc = pcre2_match(x->r->re[id], (PCRE2_SPTR)x->t, x->len, start, PCRE2_NO_UTF_CHECK,
				     x->md, NULL);
		PCRE2_SIZE *ov;

		if (rc <= 0)
			break;
		ov = pcre2_get_ovector_pointer(x->md);
		fn(x, ov, rc);
		if (ov[1] > ov[0]) {
			start = ov[1];
		} else {
			size_t n;

			if (ov[1] >= x->len)
				break;
			rl_cp(x->t, x->len, ov[1], &n);
			start = ov[1] + n;
		}
	}
}

static const char *const phone_words[] = { "tel", "fax", "phone", "ref", "invoice", "inv", "passport",
					   "account", "acct", "iban", "report", "po box", NULL };

static void imo_at(struct ctx *x, size_t s, size_t e)
{
	const char *d = x->t + s;

	if (!imo_valid(d))
		return;
	if (near_before(x->t, s, 24, "IMO", 1)) {
		add(x->c, s, e, x->r->l_imo, S_IMO_CTX);
		return;
	}
	/* No "IMO" before it: a ship number (5..9 first) not in a phone or a reference. */
	if (d[0] < '5' || near_before(x->t, s, 12, "+", 0))
		return;
	for (const char *const *w = phone_words; *w; w++)
		if (near_before(x->t, s, 20, *w, 1))
			return;
	add(x->c, s, e, x->r->l_imo, S_IMO_BARE);
	/* A name that fills the line before the number ("NAVIOS ANNA 9558933"). */
	if (s > 0 && x->t[s - 1] == ' ') {
		size_t b = scan_name_back(x->t, x->len, s - 1, 0, NM_CAPS, 1);

		if (b < s - 1)
			add(x->c, b, s - 1, x->r->l_vessel, S_V_LINE);
	}
}

/* Moves the start of a name found backward past a vessel type it begins
 * with ("the VLCC EASTERN HOPE (IMO ..."). */
static size_t after_types(const struct ctx *x, size_t b, size_t e)
{
	for (size_t i = 0; i < x->hits.n; i++) {
		const struct gz_hit *h = &x->hits.v[i];

		if (x->r->gz.entries[h->entry].kind == GZ_TYPE && h->start <= b && h->end > b && h->end < e) {
			b = h->end;
			while (b < e && x->t[b] == ' ')
				b++;
			i = (size_t)-1; /* types may follow each other */
		}
	}
	return b;
}

/* A name just before " (" + what follows (IMO, MMSI, tonnage). */
static void name_before_paren(struct ctx *x, size_t paren)
{
	size_t b;

	if (paren < 2 || x->t[paren] != '(' || x->t[paren - 1] != ' ')
		return;
	b = scan_name_back(x->t, x->len, paren - 1, 0, NM_ANY, 0);
	b = after_types(x, b, paren - 1);
	if (b < paren - 1)
		add(x->c, b, paren - 1, x->r->l_vessel, S_V_LINE);
}

static void mmsi_at(struct ctx *x, size_t s, size_t e)
{
	if (!mid_valid(x->t + s) || !near_before(x->t, s, 30, "MMSI", 1))
		return;
	add(x->c, s, e, x->r->l_mmsi, S_MMSI);
}

static void on_shipnum(struct ctx *x, const PCRE2_SIZE *ov, int nov)
{
	(void)nov;
	if (ov[1] - ov[0] == 7)
		imo_at(x, ov[0], ov[1]);
	else
		mmsi_at(x, ov[0], ov[1]);
}

static void callsign_at(struct ctx *x, size_t s, size_t e)
{
	int letters = 0;

	for (size_t i = s; i < e; i++)
		letters += x->t[i] >= 'A' && x->t[i] <= 'Z';
	if (letters)
		add(x->c, s, e, x->r->l_cs, S_CALLSIGN);
}

static void on_callsign(struct ctx *x, const PCRE2_SIZE *ov, int nov)
{
	if (nov >= 2)
		callsign_at(x, ov[2], ov[3]);
}

static void on_date(struct ctx *x, const PCRE2_SIZE *ov, int nov)
{
	(void)nov;
	if (date_valid(x->t, ov[0], ov[1]))
		add(x->c, ov[0], ov[1], x->r->l_date, S_DATE);
}

/* An anchored match of rule id at pos; returns the ovector or NULL. */
static const PCRE2_SIZE *match_at(struct ctx *x, enum rule_id id, size_t pos, int *nov)
{
	int rc = pcre2_match(x->r->re[id], (PCRE2_SPTR)x->t, x->len, pos,
			     PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, x->md, NULL);

	if (rc <= 0)
		return NULL;
	*nov = rc;
	return pcre2_get_ovector_pointer(x->md);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A tonnage unit at [us, ue): the figure before it ("45,123 GT", "81,500dwt"). */
static void ton_unit(struct ctx *x, size_t us, size_t ue)
{
	size_t e = us, b;
	int nov;

	if (e > 0 && x->t[e - 1] == ' ')
		e--;
	if (!e || !is_digit(x->t[e - 1]))
		return;
	b = e;
	while (b > 0 && (is_digit(x->t[b - 1]) ||
			 (b >= 2 && strchr(",. ", x->t[b - 1]) && is_digit(x->t[b - 2]))))
		b--;
	/* The longest figure that ends there: leftmost start first. */
	for (size_t p = b; p < e; p++) {
		const PCRE2_SIZE *ov;

		if (p > 0 && (is_digit(x->t[p - 1]) || x->t[p - 1] == ',' || x->t[p - 1] == '.'))
			continue;
		ov = match_at(x, R_NUM, p, &nov);
		if (ov && ov[1] == e) {
			add(x->c, p, ue, x->r->l_ton, S_TONNAGE);
			/* "(IMO 9..., 45,123 gt)" and "Zhen Hua 23 (131,727 GT)". */
			if (p > 0 && x->t[p - 1] == '(')
				name_before_paren(x, p - 1);
			return;
		}
	}
}

/* After a prefix or a vessel word at [p, q): spaces, then a capital or a digit. */
static size_t name_start(const struct ctx *x, size_t q, int digit_ok)
{
	size_t s = q, n;

	while (s < x->len && x->t[s] == ' ')
		s++;
	if (s == q || s >= x->len)
		return 0;
	if (digit_ok && is_digit(x->t[s]))
		return s;
	return is_upper_cp(rl_cp(x->t, x->len, s, &n)) ? s : 0;
}

static void v_prefix(struct ctx *x, size_t p, size_t q)
{
	size_t s = name_start(x, q, 1), e;

	if (!s)
		return;
	/* "45,000 MT COAL": MT after a figure is a unit. */
	if (p >= 2 && x->t[p - 1] == ' ' && x->t[p - 2] >= '0' && x->t[p - 2] <= '9')
		return;
	e = scan_name(x->t, x->len, s, NM_ANY);
	if (e > s)
		add(x->c, s, e, x->r->l_vessel, S_V_PREFIX);
}

static const char *const type_of[] = { "type of", "kind of", "class of", "flag of", "size of", "age of", NULL };

static void v_field(struct ctx *x, size_t field, size_t s)
{
	size_t e;
	static const char *const prefixes[] = { "M/V ", "M/T ", "MV ", "MT ", "M.V. ", "M.T. ", NULL };

	if (before_is(x->t, field, type_of))
		return; /* "Type of vessel: Bulk Carrier" */
	for (const char *const *p = prefixes; *p; p++)
		if (x->len - s >= strlen(*p) && !memcmp(x->t + s, *p, strlen(*p)))
			return; /* the prefix rule takes it */
	e = scan_name(x->t, x->len, s, NM_ANY);
	if (e > s)
		add(x->c, s, e, x->r->l_vessel, S_V_FIELD);
}

static const char *const quote_stops[] = { "Owners", "Owner", "Charterers", "Charterer", "Buyers",
					   "Sellers", "Vessel", "Master", "Agents", "Carrier", "Shipper",
					   "Merchant", "Receivers", NULL };

static void on_v_quote(struct ctx *x, const PCRE2_SIZE *ov, int nov)
{
	size_t s = ov[1], e;
	struct word w;

	(void)nov;
	e = scan_name(x->t, x->len, s, NM_ANY);
	if (e <= s || e >= x->len)
		return;
	if (!(x->t[e] == '"' || (x->len - e >= 3 && !memcmp(x->t + e, "”", 3))))
		return;
	w.s = s;
	w.e = e;
	if (word_in(x->t, &w, quote_stops))
		return;
	add(x->c, s, e, x->r->l_vessel, S_V_QUOTE);
}

static void v_word(struct ctx *x, size_t p, size_t q)
{
	size_t s, e;

	if (x->t[p] < 'a' || x->t[p] > 'z') /* "the ship Aurora", not "SHIP PARTICULARS" */
		return;
	s = name_start(x, q, 0);
	if (!s)
		return;
	e = scan_name(x->t, x->len, s, NM_ANY);
	if (e > s)
		add(x->c, s, e, x->r->l_vessel, S_V_QUOTE);
}

static const char *const org_connectors[] = { "&", "and", "of", "de", "del", "du", "für", "the", NULL };
/* Words in capitals that end a company name going back ("AS PER X Ltd"). */
static const char *const org_caps_stops[] = { "PER", "AS", "BY", "TO", "FOR", "WITH", "FROM", "AND", "THE",
					      "OF", "IN", "ON", "AT", "VIA", "OR", "IS", "SEE", "CP", NULL };

/*
 * A company name before a legal suffix found by the gazetteer pass
 * ("Oceanic Navigation S.A."): up to seven capitalised words (and the
 * connectors of names) before it on the same line.
 */
static void org_before_suffix(struct ctx *x, size_t s, size_t e)
{
	size_t ls = window_start(x->t, s, 240), p, starts[64], b = s;
	int ok[64], title[64], nw = 0, any_title = 0;

	if (s < 2 || x->t[s - 1] != ' ')
		return;
	for (p = ls; p < s - 1 && nw < 64;) {
		struct word w;

		read_word(x->t, x->len, p, &w);
		if (w.e > s - 1)
			break;
		starts[nw] = w.s;
		title[nw] = w.kind == W_TITLE;
		ok[nw] = (w.e == s - 1 || (!w.stop_after && w.next)) &&
			 (w.kind == W_CAPS || w.kind == W_TITLE || word_in(x->t, &w, org_connectors) ||
			  (w.kind == W_OTHER && x->t[w.s] >= 'A' && x->t[w.s] <= 'Z')) &&
			 !(w.kind == W_CAPS && word_in(x->t, &w, org_caps_stops));
		nw++;
		if (!w.next)
			break;
		p = w.next;
	}
	for (int i = nw - 1, k = 0; i >= 0 && ok[i] && k < 7; i--, k++) {
		b = starts[i];
		any_title |= title[i];
	}
	/* The name starts with a capitalised word, not a connector. */
	while (b < s - 1) {
		struct word w;

		read_word(x->t, x->len, b, &w);
		if (!word_in(x->t, &w, org_connectors))
			break;
		b = w.next ? w.next : s - 1;
	}
	if (b >= s - 1)
		return;
	/* A bare two-letter suffix (AS, SA, AG ...) after words in capitals is
	 * too often an ordinary word ("OTHERWISE AS PER"): it needs a word in
	 * title case before it. */
	if (e - s <= 2 && !any_title)
		return;
	add(x->c, b, e, x->r->l_org, S_ORG_SUFFIX);
}

/*
 * The value of an owner field ends at its legal suffix when punctuation
 * follows it: "Maersk Line A/S. Call sign OXYZ2" and "Hapag-Lloyd AG,
 * Hamburg" are the company, not the rest of the line.  A suffix followed
 * by a space goes on ("S.A. de C.V.", "GmbH & Co. KG").  Returns the end
 * of the first such suffix in t[s..e), or e.
 */
static size_t org_field_suffix_end(const char *t, size_t s, size_t e)
{
	for (size_t w = s; w < e; w++) {
		if (w > s && t[w - 1] != ' ')
			continue;
		for (const char *const *sf = org_suffixes; *sf; sf++) {
			size_t n = strlen(*sf), we = w + n;

			if (we > e || memcmp(t + w, *sf, n))
				continue;
			if (we == e || t[we] == ',' || t[we] == ';' ||
			    (t[we] == '.' && (we + 1 == e || t[we + 1] == ' ')))
				return we;
		}
	}
	return e;
}

static void org_field(struct ctx *x, size_t s)
{
	size_t e = s;

	while (e < x->len && x->t[e] != '\n') {
		if (x->t[e] == ' ' && e + 2 < x->len && (x->t[e + 1] == '|' || x->t[e + 1] == '-') &&
		    x->t[e + 2] == ' ')
			break;
		if (x->t[e] == ' ' && e + 1 < x->len && x->t[e + 1] == '(')
			break;
		if (x->t[e] == ',' && e + 2 < x->len && x->t[e + 1] == ' ' && x->t[e + 2] >= 'a' && x->t[e + 2] <= 'z')
			break;
		e++;
	}
	e = org_field_suffix_end(x->t, s, e);
	while (e > s && strchr(" .,;:|", x->t[e - 1]))
		e--;
	/* Keep the final full stop of an abbreviation (S.A., Ltd.). */
	if (e < x->len && x->t[e] == '.' && e > s && is_alnum((unsigned char)x->t[e - 1]) &&
	    (e - s >= 3 && (!memcmp(x->t + e - 3, "Ltd", 3) || !memcmp(x->t + e - 3, "Inc", 3) ||
			    !memcmp(x->t + e - 3, "S.A", 3) || !memcmp(x->t + e - 3, "B.V", 3) ||
			    !memcmp(x->t + e - 3, "Pte", 3))))
		e++;
	if (e > s && e - s <= 100)
		add(x->c, s, e, x->r->l_org, S_ORG_FIELD);
}

/* ---- fields ---- */

/* A field name at h: its value after ':' or '|' ("Call sign: 3FQR7"). */
static void field_value(struct ctx *x, const struct gz_hit *h, int field)
{
	size_t p = h->end;
	const PCRE2_SIZE *ov;
	int nov;
	unsigned char c;

	if (p < x->len && x->t[p] == ' ')
		p++;
	if (p >= x->len || (x->t[p] != ':' && x->t[p] != '|'))
		return;
	p++;
	while (p < x->len && x->t[p] == ' ')
		p++;
	if (p >= x->len)
		return;
	c = (unsigned char)x->t[p];
	switch (field) {
	case F_CALLSIGN: {
		size_t e = p;

		while (e < x->len && e - p <= 8 && ((x->t[e] >= 'A' && x->t[e] <= 'Z') || is_digit(x->t[e])))
			e++;
		if (e - p >= 3 && e - p <= 8 && (e == x->len || !is_alnum((unsigned char)x->t[e])))
			callsign_at(x, p, e);
		break;
	}
	case F_TONNAGE:
		ov = match_at(x, R_TON_VALUE, p, &nov);
		if (!ov)
			break;
		if (nov >= 2 && ov[2] != PCRE2_UNSET)
			add(x->c, ov[2], ov[3], x->r->l_ton, S_TONNAGE);
		if (nov >= 3 && ov[4] != PCRE2_UNSET)
			add(x->c, ov[4], ov[5], x->r->l_ton, S_TONNAGE);
		break;
	case F_VESSEL: {
		size_t n;
		uint32_t cp = rl_cp(x->t, x->len, p, &n);

		if (is_digit((char)c) || is_upper_cp(cp))
			v_field(x, h->start, p);
		break;
	}
	case F_ORG: {
		size_t n;

		if (is_upper_cp(rl_cp(x->t, x->len, p, &n)))
			org_field(x, p);
		break;
	}
	default:
		break;
	}
}

/* ---- gazetteer hits in their context ---- */

static const char *const flag_before[] = { "flag", "flag state", "flag of ship", "flag state of ship",
					   "flag of the ship", "registered in", "flagged in", "flag:", "under the",
					   "flags", "flag of registry", "registry", NULL };
static const char *const flag_after[] = { " flag", "-flagged", " flagged", "-flag", "-registered",
					  "籍", " registry", " register", NULL };
static const char *const port_before[] = { "port of", "port of registry", "port of inspection", "port of arrival",
					   "port of departure", "port of call", "last port of call", "place of inspection",
					   "port", "berth", "berths", "pilot", "at", "from", "to", "near", "for", "off",
					   "leaving", "approaches to", "arrival", "departure", "loading", "discharging",
					   "delivery", "redelivery", "port of loading", "port of discharge", "via",
					   "location", "anchorage", "inspection", NULL };
static const char *const port_after[] = { " range", " port", " anchorage", " roads", " terminal", "港", NULL };
static const char *const not_port_after[] = { "-based", " based", "-headquartered", " canal", " strait",
					     " river", " coast guard", NULL };
static const char *const not_port_before[] = { "based in", "headquartered in", "office in", "offices in", NULL };

/* A regional-indicator flag emoji just before pos (" 🇱🇷 LIBERIA"). */
static int flag_emoji_before(const char *t, size_t pos)
{
	size_t p = pos;
	uint32_t cp;

	while (p > 0 && t[p - 1] == ' ')
		p--;
	if (p < 4)
		return 0;
	p = rl_prev(t, p);
	apf_utf8_decode(t + p, 4, &cp);
	return cp >= 0x1F1E6 && cp <= 0x1F1FF;
}

static void gaz_hits(struct ctx *x)
{
	const struct gz *g = &x->r->gz;

	for (size_t i = 0; i < x->hits.n; i++) {
		const struct gz_hit *h = &x->hits.v[i];
		const struct gz_entry *en = &g->entries[h->entry];
		int also_port = 0, also_flag = 0;

		for (size_t j = 0; j < x->hits.n; j++) {
			if (x->hits.v[j].start != h->start || x->hits.v[j].end != h->end)
				continue;
			also_port |= g->entries[x->hits.v[j].entry].kind == GZ_PORT;
			also_flag |= g->entries[x->hits.v[j].entry].kind == GZ_FLAG;
		}
		switch (en->kind) {
		case GZ_FLAG:
		case GZ_FLAGADJ: {
			int ctx = after_is(x->t, x->len, h->end, flag_after) ||
				  (en->kind == GZ_FLAG && (before_is(x->t, h->start, flag_before) ||
							   flag_emoji_before(x->t, h->start)));

			if (after_is(x->t, x->len, h->end, not_port_after))
				break; /* "Singapore-based": a company's seat */
			if (ctx)
				add(x->c, h->start, h->end, en->label, S_FLAG_CTX);
			else if (en->kind == GZ_FLAG && !(also_port && before_is(x->t, h->start, port_before)))
				add(x->c, h->start, h->end, en->label, S_FLAG_BARE);
			break;
		}
		case GZ_PORT:
			if (after_is(x->t, x->len, h->end, not_port_after) ||
			    before_is(x->t, h->start, not_port_before))
				break;
			if (also_flag && (after_is(x->t, x->len, h->end, flag_after) ||
					  before_is(x->t, h->start, flag_before)))
				break;
			if (before_is(x->t, h->start, port_before) || after_is(x->t, x->len, h->end, port_after))
				add(x->c, h->start, h->end, en->label, S_PORT_CTX);
			else if (en->sub != GZ_PORT_NEEDS_CONTEXT) /* "Mobile: +30 ...", "Hull damage" */
				add(x->c, h->start, h->end, en->label, also_flag ? S_PORT_AMBIG : S_PORT_BARE);
			break;
		case GZ_TYPE: {
			size_t e;
			size_t lw = h->end;
			int prose;

			/* Prose writes the type in lower case, at least its last
			 * word ("Aframax tanker"); a register in title case. */
			while (lw > h->start && x->t[lw - 1] != ' ')
				lw--;
			prose = x->t[lw] >= 'a' && x->t[lw] <= 'z';
			int acronym = 1;

			for (size_t k = h->start; k < h->end; k++)
				if (x->t[k] >= 'a' && x->t[k] <= 'z')
					acronym = 0;
			add(x->c, h->start, h->end, en->label, S_TYPE);
			/* "the bulk carrier Aegean Phoenix", "the VLCC EASTERN HOPE";
			 * after a type in title case ("Container Ship"), capitals only. */
			if (h->end + 1 < x->len && x->t[h->end] == ' ') {
				e = scan_name(x->t, x->len, h->end + 1, prose || acronym ? NM_ANY : NM_CAPS);
				if (e > h->end + 1)
					add(x->c, h->end + 1, e, x->r->l_vessel, S_V_TYPE);
			}
			/* "2019-07-26 NAVIOS ANNA Container Ship": capitals before a type. */
			if (!prose && h->start > 1 && x->t[h->start - 1] == ' ') {
				size_t b = scan_name_back(x->t, x->len, h->start - 1, 0, NM_CAPS, 0);

				b = after_types(x, b, h->start - 1);
				if (b < h->start - 1)
					add(x->c, b, h->start - 1, x->r->l_vessel, S_V_LINE);
			}
			break;
		}
		case GZ_ORG:
			add(x->c, h->start, h->end, en->label, S_ORG_GAZ);
			break;
		case GZ_ORGSUF:
			org_before_suffix(x, h->start, h->end);
			break;
		case GZ_UNIT:
			ton_unit(x, h->start, h->end);
			break;
		case GZ_VPREFIX:
			v_prefix(x, h->start, h->end);
			break;
		case GZ_VWORD:
			v_word(x, h->start, h->end);
			break;
		case GZ_FIELD:
			field_value(x, h, en->sub);
			break;
		case GZ_MONTH: {
			int rc = pcre2_match(x->r->re[R_DATE_MON], (PCRE2_SPTR)x->t, x->len, h->start,
					     PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED, x->md, NULL);

			if (rc > 0) {
				PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);

				add(x->c, ov[0], ov[1], x->r->l_date, S_DATE);
			}
			break;
		}
		default:
			add(x->c, h->start, h->end, en->label, S_LEARNT);
			break;
		}
	}
}

/* ---- resolving overlaps ---- */

static int by_priority(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	size_t lx = x->e - x->s, ly = y->e - y->s;

	if (lx != ly)
		return lx > ly ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return strcmp(x->label, y->label);
}

static int by_start(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

/* Drops vessel names that are exactly a country or port ("PORTUGAL" after a type). */
static void drop_place_names(struct ctx *x)
{
	const struct gz *g = &x->r->gz;

	for (size_t i = 0; i < x->c->n; i++) {
		struct cand *c = &x->c->v[i];

		if (c->label != x->r->l_vessel)
			continue;
		for (size_t j = 0; j < x->hits.n; j++) {
			const struct gz_hit *h = &x->hits.v[j];
			int k = g->entries[h->entry].kind;

			if (h->start == c->s && h->end == c->e && (k == GZ_FLAG || k == GZ_PORT)) {
				c->e = c->s; /* emptied: resolve() skips it */
				break;
			}
		}
	}
}

static void resolve(struct cands *c, size_t len)
{
	unsigned char *used = NULL;
	size_t n = 0;

	if (!c->n)
		return;
	qsort(c->v, c->n, sizeof(*c->v), by_priority);
	/* A page's few dozen candidates are checked against the winners so
	 * far; many of them, against a map of the bytes taken. */
	if (c->n > 64)
		used = apf_xcalloc(len + 1, 1);
	for (size_t i = 0; i < c->n; i++) {
		struct cand k = c->v[i];
		int free_ = k.e > k.s;

		if (used) {
			for (size_t p = k.s; free_ && p < k.e; p++)
				free_ = !used[p];
		} else {
			for (size_t j = 0; free_ && j < n; j++)
				free_ = k.e <= c->v[j].s || k.s >= c->v[j].e;
		}
		if (!free_)
			continue;
		if (used)
			memset(used + k.s, 1, k.e - k.s);
		c->v[n++] = k;
	}
	free(used);
	c->n = n;
	qsort(c->v, c->n, sizeof(*c->v), by_start);
}

int apf_rules_annotate(const struct apf_rules *r, const char *text, size_t len,
		       struct apf_spans *out, struct apf_err *err)
{
	struct cands c = { 0 };
	struct ctx x = { .r = r, .t = text, .len = len, .c = &c };
	size_t bad, cp = 0, pos = 0;

	if (apf_utf8_validate(text, len, &bad))
		return apf_error(err, APF_EINVAL, "cannot annotate text: invalid UTF-8 at byte %zu", bad);
	if (memchr(text, 0, len))
		return apf_error(err, APF_EINVAL, "cannot annotate text: NUL byte at %zu",
				 (size_t)((const char *)memchr(text, 0, len) - text));
	x.md = pcre2_match_data_create(8, NULL);
	if (!x.md)
		return apf_error(err, APF_ENOMEM, "cannot annotate text: out of memory");

	gz_scan(&r->gz, text, len, &x.hits);
	gaz_hits(&x);
	run(&x, R_SHIPNUM, on_shipnum);
	run(&x, R_CALLSIGN_PROSE, on_callsign);
	run(&x, R_DATE, on_date);
	run(&x, R_V_QUOTE, on_v_quote);
	/* Names before "(IMO ..." / "(MMSI ...". */
	for (size_t i = 0, n0 = c.n; i < n0; i++) {
		const struct cand *k = &c.v[i];
		size_t p;

		if (k->label != r->l_imo && k->label != r->l_mmsi)
			continue;
		p = k->s;
		while (p > 0 && text[p - 1] != '(' && text[p - 1] != '\n' && k->s - p < 10)
			p--;
		if (p > 0 && text[p - 1] == '(' &&
		    (p == k->s || !strncmp(text + p, "IMO", 3) || !strncmp(text + p, "MMSI", 4)))
			name_before_paren(&x, p - 1);
	}
	drop_place_names(&x);
	resolve(&c, len);
	pcre2_match_data_free(x.md);
	free(x.hits.v);

	/* Bytes to code points, in one pass over the sorted spans. */
	for (size_t i = 0; i < c.n; i++) {
		struct apf_span *sp;
		size_t s_cp, e_cp;

		cp += apf_utf8_count(text + pos, c.v[i].s - pos);
		pos = c.v[i].s;
		s_cp = cp;
		e_cp = cp + apf_utf8_count(text + c.v[i].s, c.v[i].e - c.v[i].s);
		if (out->n == out->alloc) {
			out->alloc = out->alloc ? out->alloc * 2 : 32;
			out->v = apf_xrealloc(out->v, out->alloc * sizeof(*out->v));
		}
		sp = &out->v[out->n++];
		sp->start = (int64_t)s_cp;
		sp->end = (int64_t)e_cp;
		sp->label = c.v[i].label;
		sp->score = c.v[i].score;
	}
	free(c.v);
	return 0;
}
