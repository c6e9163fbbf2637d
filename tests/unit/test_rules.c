/* test_rules.c: the rules engine: exact spans, offsets in code points, gazetteers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/labelset.h"
#include "apflow/rules.h"
#include "apflow/utf8.h"
#include "apflow/util.h"

static struct apf_rules *rules;

static int setup(void **state)
{
	struct apf_err err = { 0 };

	(void)state;
	if (apf_rules_new(&rules, NULL, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	apf_rules_free(rules);
	return 0;
}

/* The code-point offset of the nth (0-based) occurrence of needle in text. */
static int64_t cp_at(const char *text, const char *needle, int nth)
{
	const char *p = text;

	for (;;) {
		p = strstr(p, needle);
		assert_non_null(p);
		if (!nth--)
			break;
		p++;
	}
	return (int64_t)apf_utf8_count(text, (size_t)(p - text));
}

struct want {
	const char *text; /* the span's text */
	const char *label;
	int nth;          /* which occurrence of text */
};

/* Annotates text and checks the spans are exactly want (in order). */
static void expect(const struct apf_rules *r, const char *text, const struct want *want, size_t n)
{
	struct apf_spans sp = { 0 };
	struct apf_err err = { 0 };

	assert_int_equal(apf_rules_annotate(r, text, strlen(text), &sp, &err), 0);
	for (size_t i = 0; i < sp.n && i < n; i++) {
		int64_t s = cp_at(text, want[i].text, want[i].nth);

		if (sp.v[i].start != s || sp.v[i].end != s + (int64_t)apf_utf8_count(want[i].text, strlen(want[i].text)) ||
		    strcmp(sp.v[i].label, want[i].label))
			fail_msg("span %zu: got %lld-%lld %s, want '%s' %s at %lld", i, (long long)sp.v[i].start,
				 (long long)sp.v[i].end, sp.v[i].label, want[i].text, want[i].label, (long long)s);
		assert_true(sp.v[i].score > 0 && sp.v[i].score <= 1);
	}
	if (sp.n != n) {
		for (size_t i = 0; i < sp.n; i++)
			fprintf(stderr, "# got %lld-%lld %s\n", (long long)sp.v[i].start, (long long)sp.v[i].end, sp.v[i].label);
		fail_msg("got %zu spans, want %zu", sp.n, n);
	}
	apf_spans_release(&sp);
}

static void test_particulars(void **state)
{
	static const char text[] =
		"SHIP PARTICULARS\n"
		"Name of ship: NORDIC BREEZE\n"
		"IMO number: 9321483\n"
		"MMSI: 538001234\n"
		"Call sign: V7AB3\n"
		"Flag: Marshall Islands\n"
		"Port of registry: Majuro\n"
		"Gross tonnage: 45,123\n"
		"Deadweight: 81,500 t\n"
		"Owner: Poseidon Navigation S.A.\n"
		"Class: DNV\n"
		"Date of issue: 12 March 2024";
	static const struct want want[] = {
		{ "NORDIC BREEZE", "VESSEL_NAME", 0 }, { "9321483", "IMO_NUMBER", 0 },
		{ "538001234", "MMSI", 0 },            { "V7AB3", "CALL_SIGN", 0 },
		{ "Marshall Islands", "FLAG_STATE", 0 }, { "Majuro", "PORT", 0 },
		{ "45,123", "TONNAGE", 0 },            { "81,500 t", "TONNAGE", 0 },
		{ "Poseidon Navigation S.A.", "ORGANIZATION", 0 }, { "DNV", "ORGANIZATION", 0 },
		{ "12 March 2024", "DATE", 0 },
	};

	(void)state;
	expect(rules, text, want, sizeof(want) / sizeof(want[0]));
}

/* An owner field ends at its legal suffix when punctuation follows, so
 * the call sign and MMSI after it are found; names may start with Æ. */
static void test_org_field_end(void **state)
{
	static const char text[] =
		"Owner: Maersk Line A/S. Call sign OXYZ2, MMSI 219012345.\n"
		"Managed by Ærø Søfart A/S since 2019. Registered owner Hapag-Lloyd AG, Hamburg.\n"
		"Owner: Naviera Azteca S.A. de C.V.\n";
	static const struct want want[] = {
		{ "Maersk Line A/S", "ORGANIZATION", 0 }, { "OXYZ2", "CALL_SIGN", 0 },
		{ "219012345", "MMSI", 0 },               { "Ærø Søfart A/S", "ORGANIZATION", 0 },
		{ "Hapag-Lloyd AG", "ORGANIZATION", 0 },  { "Hamburg", "PORT", 0 },
		{ "Naviera Azteca S.A. de C.V.", "ORGANIZATION", 0 },
	};

	(void)state;
	expect(rules, text, want, sizeof(want) / sizeof(want[0]));
}

/* Numbers: check digits, maritime identification digits, context. */
static void test_numbers(void **state)
{
	static const char text[] =
		"IMO 9321484 is a typing error for IMO 9321483.\n"
		"Tel: +34 636 091 234, invoice no. 538274619, fax 210 4567890.\n"
		"MMSI 538274619 and MMSI 199123456 (no such MID).\n"
		"Report 2024/17: 45,000 MT COAL, 63,500 DWT, 14,000 ldt, 20 JAN 24, 2024-02-30.";
	static const struct want want[] = {
		{ "9321483", "IMO_NUMBER", 0 }, { "538274619", "MMSI", 1 },
		{ "63,500 DWT", "TONNAGE", 0 },  { "20 JAN 24", "DATE", 0 },
	};

	(void)state;
	expect(rules, text, want, sizeof(want) / sizeof(want[0]));
}

/* Offsets count code points: emoji, CJK, combining marks (a decomposed
 * "Gdańsk" keeps its mark inside the span). */
static void test_unicode(void **state)
{
	static const char text[] =
		"🚢⚓ Arrived at Gdan\xcc\x81sk on 2024年3月12日 — 船名 “ÅLESUND TRADER” 轮, "
		"the Liberian-flagged bulk carrier 🇱🇷. Ships from Göteborg and GÖTEBORG.";
	static const struct want want[] = {
		{ "Gdan\xcc\x81sk", "PORT", 0 },     { "2024年3月12日", "DATE", 0 },
		{ "ÅLESUND TRADER", "VESSEL_NAME", 0 }, { "Liberian", "FLAG_STATE", 0 },
		{ "bulk carrier", "VESSEL_TYPE", 0 }, { "Göteborg", "PORT", 0 },
		{ "GÖTEBORG", "PORT", 0 },
	};

	(void)state;
	expect(rules, text, want, sizeof(want) / sizeof(want[0]));
}

/* Overlaps: the longest span wins; what remains is sorted and disjoint. */
static void test_overlaps(void **state)
{
	static const char text[] =
		"The Maritime and Port Authority of Singapore detained the Panama-flagged "
		"Supramax bulk carrier M/V SINGAPORE SPIRIT (IMO 9321483) at Singapore. "
		"Nationality: Filipino. Owners are Singapore-based.";
	static const struct want want[] = {
		{ "Maritime and Port Authority of Singapore", "ORGANIZATION", 0 },
		{ "Panama", "FLAG_STATE", 0 },
		{ "Supramax bulk carrier", "VESSEL_TYPE", 0 },
		{ "SINGAPORE SPIRIT", "VESSEL_NAME", 0 },
		{ "9321483", "IMO_NUMBER", 0 },
		{ "Singapore", "PORT", 1 },
	};

	(void)state;
	expect(rules, text, want, sizeof(want) / sizeof(want[0]));
}

/* Ports whose names are words, or inland customs posts, need context. */
static void test_port_context(void **state)
{
	static const char text[] =
		"Mobile: +30 6944 123456. Hull damage was found in Madrid, not in the Suez Canal.\n"
		"Discharged at Hull; next port of call Mobile, then Rotterdam.";
	static const struct want want[] = {
		{ "Hull", "PORT", 1 },
		{ "Mobile", "PORT", 1 },
		{ "Rotterdam", "PORT", 0 },
	};

	(void)state;
	expect(rules, text, want, sizeof(want) / sizeof(want[0]));
}

static void test_bad_input(void **state)
{
	struct apf_spans sp = { 0 };
	struct apf_err err = { 0 };

	(void)state;
	assert_int_equal(apf_rules_annotate(rules, "IMO 9321483 \xc3(", 14, &sp, &err), APF_EINVAL);
	assert_string_equal(err.msg, "cannot annotate text: invalid UTF-8 at byte 12");
	assert_int_equal(sp.n, 0);
	assert_int_equal(apf_rules_annotate(rules, "IMO 9321483\0x", 13, &sp, &err), APF_EINVAL);
	assert_string_equal(err.msg, "cannot annotate text: NUL byte at 11");
	assert_int_equal(apf_rules_annotate(rules, "", 0, &sp, &err), 0);
	assert_int_equal(sp.n, 0);
	apf_spans_release(&sp);
}

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	assert_int_equal(fclose(f), 0);
}

/* Learnt gazetteers: <LABEL>.v<N>.txt, the highest N of each label. */
static void test_learnt(void **state)
{
	char dir[] = "/tmp/apflow-test-gaz-XXXXXX";
	struct apf_rules_opts opts = { 0 };
	struct apf_rules *r = NULL;
	struct apf_err err = { 0 };
	char *p1, *p2, *p3, *p4;
	static const char text[] = "Berthed at Port Zorblax, not Port Quux, with Blorp Fleet aboard.";
	static const struct want want[] = {
		{ "Port Zorblax", "PORT", 0 },
		{ "Blorp Fleet", "ORGANIZATION", 0 },
	};

	(void)state;
	assert_non_null(mkdtemp(dir));
	p1 = apf_xasprintf("%s/PORT.v1.txt", dir);
	p2 = apf_xasprintf("%s/PORT.v2.txt", dir);
	p3 = apf_xasprintf("%s/ORGANIZATION.v7.txt", dir);
	p4 = apf_xasprintf("%s/SHIPYARD.v1.txt", dir);
	write_text(p1, "Port Quux\n");
	write_text(p2, "# learnt from 3 exports\nPort Zorblax\n\n");
	write_text(p3, "Blorp Fleet\r\n");
	opts.extra_gazetteer_dir = dir;
	assert_int_equal(apf_rules_new(&r, &opts, &err), 0);
	expect(r, text, want, sizeof(want) / sizeof(want[0]));
	apf_rules_free(r);

	/* A file for a label outside the labelset is an error, not ignored. */
	write_text(p4, "Hyundai Mipo\n");
	assert_int_equal(apf_rules_new(&r, &opts, &err), APF_EINVAL);
	assert_non_null(strstr(err.msg, "SHIPYARD.v1.txt': no label 'SHIPYARD' in labelset v1"));
	unlink(p4);

	/* A missing directory: the bundled gazetteers alone. */
	opts.extra_gazetteer_dir = "/nonexistent/apflow-gazetteers";
	assert_int_equal(apf_rules_new(&r, &opts, &err), 0);
	expect(r, text, NULL, 0);
	apf_rules_free(r);

	unlink(p1);
	unlink(p2);
	unlink(p3);
	rmdir(dir);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
}

struct thr {
	const char *text;
	size_t n;
	int bad;
};

static void *annotate_many(void *arg)
{
	struct thr *t = arg;
	struct apf_spans sp = { 0 };
	struct apf_err err = { 0 };

	for (int i = 0; i < 200; i++) {
		sp.n = 0;
		if (apf_rules_annotate(rules, t->text, strlen(t->text), &sp, &err) || sp.n != t->n)
			t->bad++;
	}
	apf_spans_release(&sp);
	return NULL;
}

/* One engine, several threads at once. */
static void test_threads(void **state)
{
	static const char text[] = "M/V OCEAN PRIDE (IMO 9321483), Liberia flag, left Rotterdam on 3 May 2024.";
	struct thr t[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		t[i].text = text;
		t[i].n = 5;
		t[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, annotate_many, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
	}
}

/*
 * Random pages built from maritime pieces, cut anywhere: whatever the text,
 * spans are sorted, disjoint, inside the text, on labels of the labelset,
 * with scores in (0, 1].  Under AddressSanitizer this also finds reads past
 * the end (a page that stops right after "Flag:" or "45,123").
 */
static void test_random(void **state)
{
	static const char *const pieces[] = {
		"M/V ", "MT ", "\"", "“", "”", "IMO ", "9321483", "538001234", "MMSI: ", "Call sign: ", "V7AB3",
		"Flag: ", "Liberia", "Liberian-flagged ", "bulk carrier ", "Container Ship ", "Port of ", "Rotterdam",
		"Gdan\xcc\x81sk", "\xcc\x81", "Gross tonnage: ", "45,123", " GT", " dwt", "12 March 2024", "March ",
		"2024-02-29", "2024年3月12日", "Owner: ", "Oceanic Navigation ", "S.A.", "Ltd", " Co., Ltd.", "DNV",
		"🚢", "🇱🇷", "船名", "\n", " ", " | ", ":", "|", ",", ".", "(", ")", "-", "\n\n", "OCEAN ", "PRIDE",
		"Aegean Phoenix", "the vessel ", "ship ", "VLCC ", "Name of ship: ", "Type of vessel: ", "AS", "of ",
	};
	const struct apf_labelset *ls = apf_labelset_v1();
	struct apf_spans sp = { 0 };
	struct apf_err err = { 0 };
	char buf[512];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		size_t len = 0, cps;
		int n;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		n = 1 + (int)((seed >> 33) % 24);
		for (int k = 0; k < n; k++) {
			const char *pc;
			size_t pl;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			pc = pieces[(seed >> 33) % (sizeof(pieces) / sizeof(pieces[0]))];
			pl = strlen(pc);
			if (len + pl >= sizeof(buf))
				break;
			memcpy(buf + len, pc, pl);
			len += pl;
		}
		/* An exact-size copy, so that a read past the end is caught. */
		{
			char *t = malloc(len ? len : 1);

			memcpy(t, buf, len);
			sp.n = 0;
			assert_int_equal(apf_rules_annotate(rules, t, len, &sp, &err), 0);
			cps = apf_utf8_count(t, len);
			for (size_t i = 0; i < sp.n; i++) {
				size_t b;

				assert_true(sp.v[i].start >= 0 && sp.v[i].start < sp.v[i].end && (size_t)sp.v[i].end <= cps);
				assert_true(!i || sp.v[i].start >= sp.v[i - 1].end);
				assert_true(apf_labelset_find(ls, sp.v[i].label) >= 0);
				assert_true(sp.v[i].score > 0 && sp.v[i].score <= 1);
				assert_int_equal(apf_utf8_cp_to_byte(t, len, (size_t)sp.v[i].start, &b), 0);
			}
			free(t);
		}
	}
	apf_spans_release(&sp);
}

static void test_patterns(void **state)
{
	const char *const *p = apf_rules_patterns();
	size_t n = 0;

	(void)state;
	while (p[n])
		n++;
	assert_int_equal(n, 11);
	assert_non_null(strstr(p[0], "[1-9]\\d{6}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_particulars),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_port_context),
		cmocka_unit_test(test_org_field_end),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_learnt),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
