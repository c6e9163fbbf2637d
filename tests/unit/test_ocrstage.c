/*
 * test_ocrstage.c: the pure parts of the OCR stage and the DeepSeek
 * client: option parsing, the shard hash, base64, reading the two APIs'
 * answers, and stripping DeepSeek's grounding tags and end token.  The
 * stage itself runs in tests/cli/t0500-ocr.sh and tests/http/t0510-*.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/buf.h"
#include "apflow/config.h"
#include "apflow/db.h"
#include "apflow/dbwriter.h"
#include "apflow/deepseek.h"
#include "apflow/err.h"
#include "apflow/ocrstage.h"
#include "apflow/pdf.h"
#include "apflow/utf8.h"
#include "apflow/migrate.h"
#include "apflow/util.h"
#include "core/ocrstage_db.h"

#define EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"

/* ---- several documents in one transaction (ocrdb_commit_docs) ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int64_t count(const struct apf_config *cfg, const char *sql)
{
	struct apf_db *db = NULL;
	struct apf_err err;
	int64_t n = -1;

	assert_int_equal(apf_db_open(cfg, &db, &err), 0);
	assert_int_equal(apf_db_query_i64(db, sql, &n, &err), 0);
	apf_db_close(db);
	return n;
}

#define PAGE(n, text) "{\"k\":\"p\",\"page_num\":" #n ",\"engine\":\"text\",\"model\":null,\"text\":\"" text \
	"\",\"text_sha256\":\"x\",\"chars\":1,\"confidence\":null}\n"
#define FAIL(n) "{\"k\":\"f\",\"page_num\":" #n ",\"engine\":\"text\",\"error\":\"bad page\"}\n"

static void test_commit_docs(void **state)
{
	char dir[] = "/tmp/apflow-test-commit-docs.XXXXXX";
	struct apf_config cfg;
	struct apf_err err;
	struct apf_db *db = NULL;
	struct apf_dbwriter *w = NULL;
	struct apf_dbwriter_stats st;
	int64_t run = 0;
	char *quoted, *pa, *pb, *pc, *pd, *sql;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(apf_config_load(&cfg, NULL, &err), 0);
	assert_int_equal(apf_config_set_flag(&cfg, "data_dir", dir, "test", &err), 0);
	assert_int_equal(apf_db_open(&cfg, &db, &err), 0);
	assert_int_equal(apf_migrate(db, 0, NULL, NULL, &err), 0);
	/* b was committed by another run: with check_others it is skipped. */
	assert_int_equal(apf_db_exec(db, "INSERT INTO md_raw_ocr.main.pages (doc_id, page_num, ocr_run_id, engine, "
					 "text, text_sha256, chars) VALUES ('bbbbbbbbbbbbbbbbbbbb', 1, 99, 'text', '', 'x', 0)",
				     &err), 0);
	apf_db_close(db);
	assert_int_equal(apf_dbwriter_new(&cfg, 0, &w, &err), 0);
	assert_int_equal(ocrdb_start_run(w, "text", NULL, "{}", &run, &err), 0);

	/* Spools in a directory whose name needs quoting. */
	quoted = apf_xasprintf("%s/it's", dir);
	assert_int_equal(mkdir(quoted, 0755), 0);
	pa = apf_xasprintf("%s/a.jsonl", quoted);
	pb = apf_xasprintf("%s/b.jsonl", quoted);
	pc = apf_xasprintf("%s/c.jsonl", quoted);
	pd = apf_xasprintf("%s/d.jsonl", quoted);
	write_file(pa, PAGE(1, "a one") PAGE(2, "a two \u00e9") FAIL(3));
	write_file(pb, PAGE(1, "b one"));
	write_file(pd, PAGE(1, "d one") PAGE(2, "d two"));

	struct ocrdb_commit a = { run, "aaaaaaaaaaaaaaaaaaaa", pa, 2, 1, NULL, 1, NULL, 0, 0, -1 };
	struct ocrdb_commit b = { run, "bbbbbbbbbbbbbbbbbbbb", pb, 1, 0, NULL, 1, NULL, 0, 0, -1 };
	struct ocrdb_commit c = { run, "cccccccccccccccccccc", pc, 0, 0, "cannot write the page spool: No space", 0,
				  NULL, 0, 0, -1 };
	struct ocrdb_commit d = { run, "dddddddddddddddddddd", pd, 2, 0, NULL, 0, "done", 0, 0, -1 };
	struct ocrdb_commit *cs[] = { &a, &b, &c, &d };
	assert_int_equal(ocrdb_commit_docs(w, cs, 4, &err), 0);
	assert_int_equal(a.skipped, 0);
	assert_int_equal(b.skipped, 1);
	assert_int_equal(c.skipped, 0);
	assert_int_equal(d.skipped, 0);
	apf_dbwriter_stats(w, &st);
	assert_int_equal(st.batches, 2); /* the run's row, then the four documents together */

	sql = apf_xasprintf("SELECT count(*) FROM md_raw_ocr.main.pages WHERE ocr_run_id = %lld", (long long)run);
	assert_int_equal(count(&cfg, sql), 4);
	free(sql);
	assert_int_equal(count(&cfg, "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = 'aaaaaaaaaaaaaaaaaaaa' "
				     "AND ((page_num = 1 AND text = 'a one') OR (page_num = 2 AND text = 'a two \u00e9'))"),
			 2);
	assert_int_equal(count(&cfg, "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = 'dddddddddddddddddddd' "
				     "AND text LIKE 'd %'"),
			 2);
	assert_int_equal(count(&cfg, "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = 'bbbbbbbbbbbbbbbbbbbb'"),
			 1); /* only the other run's row */
	assert_int_equal(count(&cfg, "SELECT count(*) FROM md_raw_ocr.main.ocr_failures WHERE "
				     "(doc_id = 'aaaaaaaaaaaaaaaaaaaa' AND page_num = 3 AND error = 'bad page') OR "
				     "(doc_id = 'cccccccccccccccccccc' AND page_num IS NULL AND error LIKE 'cannot write%')"),
			 2);
	sql = apf_xasprintf("SELECT count(*) FROM md_raw_ocr.main.ocr_runs WHERE ocr_run_id = %lld AND docs = 3 AND "
			    "pages = 4 AND failed = 2 AND status = 'done' AND finished_at IS NOT NULL",
			    (long long)run);
	assert_int_equal(count(&cfg, sql), 1);
	free(sql);

	/* A spool that does not hold what it should fails the whole batch:
	 * nothing of it is written, and each document can go alone. */
	struct ocrdb_commit e = { run, "eeeeeeeeeeeeeeeeeeee", pa, 2, 1, NULL, 0, NULL, 0, 0, -1 };
	struct ocrdb_commit f = { run, "ffffffffffffffffffff", pb, 2, 0, NULL, 0, NULL, 0, 0, -1 }; /* b's spool has 1 */
	struct ocrdb_commit *bad[] = { &e, &f };
	assert_int_not_equal(ocrdb_commit_docs(w, bad, 2, &err), 0);
	assert_non_null(strstr(err.msg, "gave 3 page rows, not 4"));
	assert_int_equal(count(&cfg, "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = 'eeeeeeeeeeeeeeeeeeee'"),
			 0);
	assert_int_equal(ocrdb_commit_doc(w, &e, &err), 0);
	assert_int_equal(count(&cfg, "SELECT count(*) FROM md_raw_ocr.main.pages WHERE doc_id = 'eeeeeeeeeeeeeeeeeeee'"),
			 2);

	apf_dbwriter_free(w);
	apf_config_release(&cfg);
	free(pa);
	free(pb);
	free(pc);
	free(pd);
	free(quoted);
	sql = apf_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(sql), 0);
	free(sql);
}

static void test_engine_and_shard_parse(void **state)
{
	enum apf_ocrstage_engine e;
	int k = -1, n = -1;

	(void)state;
	assert_int_equal(apf_ocrstage_engine_parse("auto", &e), 0);
	assert_int_equal(e, APF_OCRSTAGE_AUTO);
	assert_int_equal(apf_ocrstage_engine_parse("deepseek", &e), 0);
	assert_int_equal(e, APF_OCRSTAGE_DEEPSEEK);
	assert_string_equal(apf_ocrstage_engine_name(APF_OCRSTAGE_TESSERACT), "tesseract");
	assert_int_equal(apf_ocrstage_engine_parse("Auto", &e), -1);
	assert_int_equal(apf_ocrstage_engine_parse("", &e), -1);

	assert_int_equal(apf_ocrstage_parse_shard("0/2", &k, &n), 0);
	assert_int_equal(k, 0);
	assert_int_equal(n, 2);
	assert_int_equal(apf_ocrstage_parse_shard("6/7", &k, &n), 0);
	assert_int_equal(k, 6);
	assert_int_equal(n, 7);
	assert_int_equal(apf_ocrstage_parse_shard("2/2", &k, &n), -1);
	assert_int_equal(apf_ocrstage_parse_shard("-1/2", &k, &n), -1);
	assert_int_equal(apf_ocrstage_parse_shard("0/0", &k, &n), -1);
	assert_int_equal(apf_ocrstage_parse_shard("1", &k, &n), -1);
	assert_int_equal(apf_ocrstage_parse_shard("/2", &k, &n), -1);
	assert_int_equal(apf_ocrstage_parse_shard("1/2x", &k, &n), -1);
}

/* The hash is the first 8 bytes of sha256 of the doc_id's text, as
 * `printf %s ID | sha256sum | cut -c1-16` shows, and as the SQL in
 * ocrstage.h computes. */
static void test_shard_hash(void **state)
{
	(void)state;
	assert_true(apf_ocrstage_shard_hash("8a9a9bac5b82799fb0cc") == UINT64_C(0x4f578b87a2e93f49));
	assert_true(apf_ocrstage_shard_hash("00000000000000000000") == UINT64_C(0xa7d351f3de399c74));
	assert_int_equal(apf_ocrstage_shard_hash("8a9a9bac5b82799fb0cc") % 7, 4);
}

static void test_base64(void **state)
{
	struct apf_buf b;
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg==" },
		{ "fo", 2, "Zm8=" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg==" },
		{ "hello world!\0\xff", 14, "aGVsbG8gd29ybGQhAP8=" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		apf_buf_init(&b, 0);
		assert_int_equal(apf_base64_append(&b, cases[i].in, cases[i].len), 0);
		assert_string_equal(b.data ? b.data : "", cases[i].out);
		apf_buf_release(&b);
	}
	/* Longer than the encoder's chunk: every byte value, twice. */
	unsigned char all[512];
	for (int i = 0; i < 512; i++)
		all[i] = (unsigned char)i;
	apf_buf_init(&b, 0);
	assert_int_equal(apf_base64_append(&b, all, sizeof(all)), 0);
	assert_int_equal(b.len, 684);
	assert_memory_equal(b.data, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44);
	apf_buf_release(&b);
	/* The cap holds. */
	apf_buf_init(&b, 8);
	assert_int_equal(apf_base64_append(&b, all, 100), -1);
	apf_buf_release(&b);
}

static char *strip(const char *s)
{
	struct apf_buf b;

	apf_buf_init(&b, 0);
	assert_int_equal(apf_deepseek_strip(s, strlen(s), &b), 0);
	return b.data;
}

#define assert_strip(in, want)                          \
	do {                                            \
		char *got_ = strip(in);                 \
		assert_string_equal(got_, want);        \
		free(got_);                             \
	} while (0)

static void test_strip_tags(void **state)
{
	(void)state;
	assert_strip("", "");
	assert_strip("plain text, no tags", "plain text, no tags");
	/* Layout labels with their boxes go, text stays. */
	assert_strip("<|ref|>title<|/ref|><|det|>[[40, 60, 960, 120]]<|/det|>\nReport\n\n"
		     "<|ref|>text<|/ref|><|det|>[[41, 150, 960, 210], [41, 220, 960, 260]]<|/det|>\nMV Nordic Star",
		     "\nReport\n\n\nMV Nordic Star");
	/* A reference without boxes keeps its text. */
	assert_strip("Locate <|ref|>the vessel name<|/ref|> here", "Locate the vessel name here");
	/* Boxes alone, unclosed boxes, stray and unknown markers. */
	assert_strip("a<|det|>[[1,2,3,4]]<|/det|>b", "ab");
	assert_strip("a<|det|>[[1,2,3", "a");
	assert_strip("<|grounding|>a<|/ref|>b", "ab");
	assert_strip("x <| y |> z", "x <| y |> z");
	assert_strip("a <|", "a <|");
	assert_strip("<|ref|>unclosed", "unclosed");
	/* The end-of-sentence token and what follows are cut. */
	assert_strip("Page text" EOS, "Page text");
	assert_strip("Page text" EOS "garbage after", "Page text");
	assert_strip("A<|end\xe2\x96\x81of\xe2\x96\x81sentence|>B", "A");
	/* Non-ASCII text passes untouched. */
	assert_strip("<|ref|>text<|/ref|><|det|>[[0,0,1,1]]<|/det|>Ærø — Πειραιάς 東京", "Ærø — Πειραιάς 東京");
}

/* Stripped and normalised: what the engine stores. */
static void test_strip_then_normalise(void **state)
{
	struct apf_buf raw, out;
	struct apf_text_stats st;
	const char *in = "<|ref|>title<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nVessel report\n\n"
			 "<|ref|>text<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>\nIMO 9321483,  flag Malta.\n" EOS;

	(void)state;
	apf_buf_init(&raw, 0);
	apf_buf_init(&out, 0);
	assert_int_equal(apf_deepseek_strip(in, strlen(in), &raw), 0);
	assert_int_equal(apf_text_normalize(raw.data, raw.len, &out, &st), 0);
	assert_string_equal(out.data, "Vessel report\n\nIMO 9321483, flag Malta.");
	assert_int_equal(st.chars, strlen("Vessel report\n\nIMO 9321483, flag Malta."));
	apf_buf_release(&raw);
	apf_buf_release(&out);
}

static void parse(enum apf_deepseek_api api, const char *body, int want_rc, const char *want_text,
		  int want_runaway)
{
	struct apf_buf raw;
	struct apf_err err = { 0 };
	int runaway = -1, rc;

	apf_buf_init(&raw, 0);
	rc = apf_deepseek_parse_answer(api, body, strlen(body), &raw, &runaway, &err);
	if (rc != want_rc)
		fail_msg("parse of %s: rc %d (%s), expected %d", body, rc, err.msg, want_rc);
	if (!rc) {
		assert_string_equal(raw.data ? raw.data : "", want_text);
		assert_int_equal(runaway, want_runaway);
	}
	apf_buf_release(&raw);
}

static void test_parse_answers(void **state)
{
	(void)state;
	parse(APF_DEEPSEEK_OPENAI,
	      "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
	      "{\"role\":\"assistant\",\"content\":\"Page\\n\\u00c6r\\u00f8\"},\"finish_reason\":\"stop\"}]}",
	      0, "Page\n\xc3\x86r\xc3\xb8", 0);
	parse(APF_DEEPSEEK_OPENAI,
	      "{\"choices\":[{\"message\":{\"content\":\"loop loop\"},\"finish_reason\":\"length\"}]}", 0,
	      "loop loop", 1);
	/* An empty page answers null content. */
	parse(APF_DEEPSEEK_OPENAI, "{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"stop\"}]}",
	      0, "", 0);
	parse(APF_DEEPSEEK_OPENAI, "{\"choices\":[]}", APF_EOCR, NULL, 0);
	parse(APF_DEEPSEEK_OPENAI, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assis", APF_EOCR, NULL, 0);
	parse(APF_DEEPSEEK_OPENAI, "[]", APF_EOCR, NULL, 0);

	parse(APF_DEEPSEEK_OLLAMA,
	      "{\"model\":\"deepseek-ocr\",\"message\":{\"role\":\"assistant\",\"content\":\"Text\"},"
	      "\"done_reason\":\"stop\",\"done\":true}",
	      0, "Text", 0);
	parse(APF_DEEPSEEK_OLLAMA,
	      "{\"message\":{\"role\":\"assistant\",\"content\":\"a a a\"},\"done_reason\":\"length\",\"done\":true}", 0,
	      "a a a", 1);
	/* A streamed chunk (stream was not false) is not an answer. */
	parse(APF_DEEPSEEK_OLLAMA, "{\"message\":{\"role\":\"assistant\",\"content\":\"Te\"},\"done\":false}",
	      APF_EOCR, NULL, 0);
	parse(APF_DEEPSEEK_OLLAMA, "{\"error\":\"model not found\"}", APF_EOCR, NULL, 0);
	/* An OpenAI answer is not an Ollama answer. */
	parse(APF_DEEPSEEK_OLLAMA, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", APF_EOCR, NULL, 0);
}

static void test_client_settings(void **state)
{
	struct apf_deepseek_options o;
	struct apf_deepseek *ds = NULL;
	struct apf_err err = { 0 };
	enum apf_deepseek_api api;

	(void)state;
	assert_int_equal(apf_deepseek_parse_api("openai", &api), 0);
	assert_int_equal(api, APF_DEEPSEEK_OPENAI);
	assert_int_equal(apf_deepseek_parse_api("ollama", &api), 0);
	assert_int_equal(api, APF_DEEPSEEK_OLLAMA);
	assert_int_equal(apf_deepseek_parse_api("llama", &api), -1);

	memset(&o, 0, sizeof(o));
	o.url = "http://user:s3cret@127.0.0.1:8000/";
	o.api = APF_DEEPSEEK_OPENAI;
	o.retries = -1;
	assert_int_equal(apf_deepseek_new(&o, &ds, &err), 0);
	assert_string_equal(apf_deepseek_model(ds), "deepseek-ai/DeepSeek-OCR");
	assert_string_equal(apf_deepseek_endpoint(ds), "http://127.0.0.1:8000/v1/chat/completions");
	apf_deepseek_free(ds);

	o.url = "http://127.0.0.1:8000/v1";
	assert_int_equal(apf_deepseek_new(&o, &ds, &err), 0);
	assert_string_equal(apf_deepseek_endpoint(ds), "http://127.0.0.1:8000/v1/chat/completions");
	apf_deepseek_free(ds);

	o.url = "http://127.0.0.1:11434/api/chat";
	o.api = APF_DEEPSEEK_OLLAMA;
	o.model = "deepseek-ocr:3b";
	assert_int_equal(apf_deepseek_new(&o, &ds, &err), 0);
	assert_string_equal(apf_deepseek_model(ds), "deepseek-ocr:3b");
	assert_string_equal(apf_deepseek_endpoint(ds), "http://127.0.0.1:11434/api/chat");
	apf_deepseek_free(ds);

	o.url = "ftp://user:s3cret@host/";
	assert_int_equal(apf_deepseek_new(&o, &ds, &err), APF_ECONFIG);
	assert_null(strstr(err.msg, "s3cret"));
	o.url = "";
	assert_int_equal(apf_deepseek_new(&o, &ds, &err), APF_ECONFIG);
}

/* A one-page PDF saying "Hello private world" (no xref: MuPDF rebuilds it). */
static const char tiny_pdf[] =
	"%PDF-1.4\n"
	"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
	"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
	"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
	"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >> endobj\n"
	"4 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n"
	"5 0 obj << /Length 44 >> stream\n"
	"BT /F1 12 Tf 20 100 Td (Hello private world) Tj ET\n"
	"endstream endobj\n"
	"trailer << /Root 1 0 R >>\n%%EOF\n";

static char tiny_path[4096];

static void read_tiny(struct apf_pdf_ctx *pc)
{
	struct apf_pdf *pdf = NULL;
	struct apf_err err = { 0 };
	struct apf_buf text;
	struct apf_text_stats st;

	apf_buf_init(&text, 0);
	if (apf_pdf_open(pc, tiny_path, &pdf, &err))
		fail_msg("open: %s", err.msg);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(apf_pdf_page_text(pdf, 1, &text, &st, &err), 0);
		assert_string_equal(text.data, "Hello private world");
	}
	apf_pdf_close(pdf);
	apf_buf_release(&text);
}

static void *reader(void *arg)
{
	struct apf_pdf_ctx *pc = NULL;
	struct apf_err err = { 0 };

	(void)arg;
	assert_int_equal(apf_pdf_ctx_new_single(16 << 20, &pc, &err), 0);
	read_tiny(pc);
	apf_pdf_ctx_free(pc);
	return NULL;
}

/* The stage gives each worker a context of its own, without locks: two
 * threads read at once, each with its own. */
static void test_private_contexts(void **state)
{
	pthread_t t[2];
	int fd;

	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(tiny_path, sizeof(tiny_path), "%s/apflow-test-tiny-%d.pdf", tmp && *tmp ? tmp : "/tmp",
		 (int)getpid());
	fd = open(tiny_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, tiny_pdf, sizeof(tiny_pdf) - 1), (ssize_t)(sizeof(tiny_pdf) - 1));
	close(fd);

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	unlink(tiny_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_and_shard_parse),
		cmocka_unit_test(test_shard_hash),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_strip_tags),
		cmocka_unit_test(test_strip_then_normalise),
		cmocka_unit_test(test_parse_answers),
		cmocka_unit_test(test_client_settings),
		cmocka_unit_test(test_private_contexts),
		cmocka_unit_test(test_commit_docs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
