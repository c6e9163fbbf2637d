/* test_dataset.c: dataset names, the store's no-sync puts and deletes used
 * by exports, fetching an export through its manifest. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "apflow/config.h"
#include "apflow/dataset.h"
#include "apflow/store.h"
#include "apflow/util.h"

struct fixture {
	char dir[64];
	struct apf_config cfg;
	struct apf_store *st;
};

static int setup(void **state)
{
	struct fixture *f = apf_xcalloc(1, sizeof(*f));
	struct apf_err err;
	char *data, *url;

	apf_strlcpy(f->dir, "/tmp/apflow-test-dataset-XXXXXX", sizeof(f->dir));
	if (!mkdtemp(f->dir))
		return -1;
	data = apf_xasprintf("%s/data", f->dir);
	url = apf_xasprintf("file://%s/lake", f->dir);
	if (apf_config_load(&f->cfg, "/dev/null", &err) || apf_config_set_flag(&f->cfg, "data_dir", data, "-c", &err) ||
	    apf_store_open_url(url, &f->cfg, &f->st, &err))
		return -1;
	free(data);
	free(url);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = apf_xasprintf("rm -rf '%s'", f->dir);

	apf_store_free(f->st);
	apf_config_release(&f->cfg);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(cmd);
	free(f);
	return 0;
}

static void test_names(void **state)
{
	struct fixture *f = *state;
	struct apf_err err;

	assert_int_equal(apf_dataset_name_check(&f->cfg, "vessels_ocr_batch_1", &err), 0);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "vessels_ocr_", &err), APF_EUSAGE);
	assert_string_equal(err.msg, "bad dataset name 'vessels_ocr_': does not match dataset_pattern "
				     "'vessels_ocr_[a-z0-9_]+'");
	/* The whole name must match, not a part of it. */
	assert_int_equal(apf_dataset_name_check(&f->cfg, "xvessels_ocr_a", &err), APF_EUSAGE);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "vessels_ocr_a\n", &err), APF_EUSAGE);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "", &err), APF_EUSAGE);
	assert_string_equal(err.msg, "no dataset name: give --dataset NAME");
	/* Whatever the pattern admits, a name is one store key segment. */
	assert_int_equal(apf_config_set_flag(&f->cfg, "dataset_pattern", ".+", "-c", &err), 0);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "a/b", &err), APF_EUSAGE);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "..", &err), APF_EUSAGE);
	assert_int_equal(apf_dataset_name_check(&f->cfg, ".apflow-tmp-x", &err), APF_EUSAGE);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "Ærø_ds", &err), 0);
	assert_int_equal(apf_config_set_flag(&f->cfg, "dataset_pattern", "(", "-c", &err), 0);
	assert_int_equal(apf_dataset_name_check(&f->cfg, "x", &err), APF_ECONFIG);
	assert_true(apf_starts_with(err.msg, "bad dataset_pattern '(': missing closing parenthesis"));
	char *k = apf_dataset_key("vessels_ocr_a", "pages/_manifest.json");
	assert_string_equal(k, "argilla/in/vessels_ocr_a/pages/_manifest.json");
	free(k);
}

static void put_tmp(const char *dir, const char *name, const char *text)
{
	char *p = apf_xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(p);
}

static void test_no_sync_store(void **state)
{
	struct fixture *f = *state;
	struct apf_err err;
	char *spool = NULL, *path, buf[64];
	int fd;

	assert_int_equal(apf_store_tmp_dir(f->st, &spool, &err), 0);
	assert_non_null(spool);
	put_tmp(spool, "a.parquet", "alpha");
	path = apf_xasprintf("%s/a.parquet", spool);
	assert_int_equal(apf_store_put_file_move_ex(f->st, "ds/doc_id=1/a.parquet", path, NULL, APF_STORE_NO_SYNC, &err), 0);
	assert_int_equal(access(path, F_OK), -1); /* moved, not copied */
	assert_int_equal(apf_store_sync(f->st, &err), 0);
	free(path);

	path = apf_xasprintf("%s/copy", f->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(apf_store_get_fd(f->st, "ds/doc_id=1/a.parquet", fd, &err), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "alpha", 5);
	assert_int_equal(apf_store_get_fd(f->st, "ds/none", fd, &err), APF_ENOTFOUND);
	assert_int_equal(apf_store_get_fd(f->st, "../x", fd, &err), APF_EINVAL);
	close(fd);
	free(path);

	/* A delete without sync removes the key and the directories it emptied. */
	assert_int_equal(apf_store_delete_ex(f->st, "ds/doc_id=1/a.parquet", APF_STORE_NO_SYNC, &err), 0);
	assert_int_equal(apf_store_delete_ex(f->st, "ds/doc_id=1/a.parquet", APF_STORE_NO_SYNC, &err), 0);
	path = apf_xasprintf("%s/lake/ds", f->dir);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(spool);
}

static void test_fetch_pages(void **state)
{
	struct fixture *f = *state;
	struct apf_dataset_files files;
	struct apf_err err;
	const char *m;

	assert_int_equal(apf_dataset_fetch_pages(&f->cfg, f->st, "vessels_ocr_a", &files, &err), APF_ENOTFOUND);
	assert_string_equal(err.msg, "dataset 'vessels_ocr_a' has no exported pages: run 'apflow export --dataset "
				     "vessels_ocr_a' first");
	/* A manifest naming a file outside the export is refused. */
	m = "{\"export_id\": \"e1\", \"files\": [\"doc_id=ab/e1-0.parquet\", \"../../raw/x.pdf\"]}";
	assert_int_equal(apf_store_put_buf(f->st, "argilla/in/vessels_ocr_a/pages/_manifest.json", m, strlen(m), NULL, &err), 0);
	assert_int_equal(apf_store_put_buf(f->st, "argilla/in/vessels_ocr_a/pages/doc_id=ab/e1-0.parquet", "P", 1, NULL, &err), 0);
	assert_int_equal(apf_dataset_fetch_pages(&f->cfg, f->st, "vessels_ocr_a", &files, &err), APF_EINVAL);
	assert_string_equal(err.msg, "bad manifest 'argilla/in/vessels_ocr_a/pages/_manifest.json': file 1 is not "
				     "doc_id=ID/NAME.parquet");
	m = "{\"export_id\": \"e1\", \"files\": [\"doc_id=ab/e1-0.parquet\"]}";
	assert_int_equal(apf_store_put_buf(f->st, "argilla/in/vessels_ocr_a/pages/_manifest.json", m, strlen(m), NULL, &err), 0);
	assert_int_equal(apf_dataset_fetch_pages(&f->cfg, f->st, "vessels_ocr_a", &files, &err), 0);
	assert_string_equal(files.export_id, "e1");
	assert_int_equal(files.n, 1);
	assert_int_equal(files.bytes, 1);
	/* file:// is read in place: the list names the store's file. */
	char *want = apf_xasprintf("['%s/lake/argilla/in/vessels_ocr_a/pages/doc_id=ab/e1-0.parquet']", f->dir);
	char *dir = apf_xstrdup(files.dir);
	assert_string_equal(files.list, want);
	assert_true(files.in_place);
	apf_dataset_files_release(&files);
	assert_int_equal(access(dir, F_OK), -1); /* the temp directory goes */
	free(want);
	free(dir);
	/* A file the manifest names that is gone (a newer export removed it
	 * meanwhile, and the manifest still says so): not found. */
	assert_int_equal(apf_store_delete(f->st, "argilla/in/vessels_ocr_a/pages/doc_id=ab/e1-0.parquet", &err), 0);
	assert_int_equal(apf_dataset_fetch_pages(&f->cfg, f->st, "vessels_ocr_a", &files, &err), APF_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_sync_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_pages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
