/*
 * Vault round trips and failure behaviour through the public API. One
 * suite, several backends: the vaults live under file:// by default, or
 * under $ASTRA_TEST_VAULT_BASE (e.g. s3://bucket/prefix?endpoint=http://...,
 * set by tests/integration/s3/run.sh, azure://container/prefix?..., set by
 * tests/integration/azure/run.sh, or gs://... set by
 * tests/integration/gcs/run.sh), each test in a fresh prefix. Damage
 * is done through the store API, so it works on all; only the full-disk
 * test is about a local file system and always uses file://.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "vault_test.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/base64.h"
#include "crypto/blake3.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/repo.h"
#include "store/store.h"

static char *work, *vdir, *url;

/*
 * A URL for a vault named `name` of this test: under $ASTRA_TEST_VAULT_BASE
 * (its query kept at the end) with a per-test random prefix, else
 * file://<work>/<name>.
 */
static char *vault_url_for(const char *name)
{
	static char run[17];
	const char *base = getenv("ASTRA_TEST_VAULT_BASE");
	char *u = malloc(4400);
	if (!base || !*base) {
		snprintf(u, 4400, "file://%s/%s", work, name);
		return u;
	}
	if (!run[0]) {
		uint8_t r[8];
		astra__random(r, sizeof(r));
		for (int i = 0; i < 8; i++)
			snprintf(run + 2 * i, 3, "%02x", r[i]);
	}
	const char *q = strchr(base, '?');
	size_t bl = q ? (size_t)(q - base) : strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	snprintf(u, 4400, "%.*s/%s-%s%s", (int)bl, base, run, name, q ? q : "");
	return u;
}

/* A bucket store (s3://, gs://): the scheme is the first 5 characters. */
static int on_s3(void)
{
	return strncmp(url, "s3://", 5) == 0 || strncmp(url, "gs://", 5) == 0;
}

static int on_azure(void)
{
	return strncmp(url, "azure://", 8) == 0;
}

static void setup(void)
{
	work = fst_tmpdir("vault");
	vdir = malloc(4200);
	snprintf(vdir, 4200, "%s/vault", work);
	url = vault_url_for("vault");
}

/* The vault's store, for inspecting and damaging objects. */
static astra__store *open_store(void)
{
	astra__store *s = NULL;
	cr_assert_astra_ok(astra__store_open(&s, url, NULL));
	return s;
}

static void teardown(void)
{
	fst_rmrf(work);
	free(work);
	free(vdir);
	free(url);
}

TestSuite(repo_vault, .init = setup, .fini = teardown, .timeout = 120);

static astra_vault_options opts(const char *pw)
{
	return test_vault_options(pw, 3);
}

static astra_vault *new_vault(void)
{
	astra_vault *v = NULL;
	astra_vault_options o = opts("correct horse");
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	return v;
}

static astra_vault *reopen(void)
{
	astra_vault *v = NULL;
	astra_vault_options o = opts("correct horse");
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	return v;
}

static char *path_in(const char *name)
{
	char *p = malloc(4400);
	snprintf(p, 4400, "%s/%s", work, name);
	return p;
}

static void backup(
        astra_vault *v, const char *src, astra_data_backup_result *res)
{
	memset(res, 0, sizeof(*res));
	res->version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, src, NULL, res));
	cr_assert_eq(strlen(res->id), 32);
}

static int restore(
        astra_vault *v, const char *id, const char *dst, astra_buf *report)
{
	astra_data_restore_result rr;
	memset(&rr, 0, sizeof(rr));
	rr.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	return astra_vault_restore_path(v, id, dst, NULL, &rr, report);
}

static int check(astra_vault *v, int read_data, astra__json **rep)
{
	astra_check_options o;
	astra_check_options_init(&o, ASTRA_CHECK_OPTIONS_VERSION);
	if (read_data)
		o.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_check(v, &o, &b);
	if (rep) {
		*rep = NULL;
		if (b.ptr)
			astra__json_parse(rep, b.ptr, b.size, "report");
	}
	astra_buf_dispose(&b);
	return rc;
}

static size_t snapshot_count(astra_vault *v)
{
	astra_buf b = ASTRA_BUF_INIT;
	astra__json *j = NULL;
	cr_assert_astra_ok(astra_vault_snapshots(v, &b));
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "list"));
	size_t n = astra__json_size(j);
	astra__json_free(j);
	astra_buf_dispose(&b);
	return n;
}

Test(repo_vault, rich_tree_round_trips_exactly)
{
	char *src = path_in("src"), *dst = path_in("dst");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = new_vault();
	astra_data_backup_result res;
	backup(v, src, &res);
	cr_assert_gt(res.bytes_stored, 0);
	cr_assert_lt(res.bytes_read, 16u << 20, "holes must not be read");
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(restore(v, res.id, dst, &rep));
	astra_buf_dispose(&rep);
	cr_assert_eq(fst_compare(src, dst), 0, "restored tree differs");
	/* holes restored as holes */
	char *sp = path_in("dst/sparse.img");
	cr_assert_lt(fst_blocks(sp), 2048, "sparse file is not sparse");
	free(sp);
	/* hard links stay links */
	struct stat h1, h2;
	char *p1 = path_in("dst/hardlink.log"),
	     *p2 = path_in("dst/dir/sub/text.log");
	cr_assert_eq(stat(p1, &h1), 0);
	cr_assert_eq(stat(p2, &h2), 0);
	cr_assert_eq(h1.st_ino, h2.st_ino, "hard link became a copy");
	free(p1);
	free(p2);
	cr_assert_astra_ok(check(v, 1, NULL));
	astra_vault_free(v);
	free(src);
	free(dst);
}

Test(repo_vault, subpath_and_single_file_restores)
{
	char *src = path_in("src"), *dst = path_in("dst"),
	     *dst2 = path_in("dst2");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = new_vault();
	astra_data_backup_result res;
	backup(v, src, &res);
	astra_data_restore_options ro;
	astra_data_restore_options_init(
	        &ro, ASTRA_DATA_RESTORE_OPTIONS_VERSION);
	ro.subpath = "dir/sub";
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, res.id, dst, &ro, NULL, NULL));
	char *a = path_in("src/dir/sub"), *b = path_in("dst/sub");
	cr_assert_eq(fst_compare(a, b), 0);
	ro.subpath = "nope/x";
	cr_assert_astra_fail(
	        astra_vault_restore_path(v, res.id, dst, &ro, NULL, NULL),
	        ASTRA_ENOTFOUND);
	/* a single image file is its own snapshot */
	char *img = path_in("src/dir/random.bin");
	astra_data_backup_result r2;
	backup(v, img, &r2);
	cr_assert_eq(r2.files, 1);
	cr_assert_astra_ok(restore(v, r2.id, dst2, NULL));
	char *back = path_in("dst2/random.bin");
	cr_assert_eq(fst_compare(img, back), 0);
	astra_vault_free(v);
	free(src);
	free(dst);
	free(dst2);
	free(a);
	free(b);
	free(img);
	free(back);
}

Test(repo_vault, wrong_password_and_bad_urls_are_refused)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	astra_vault_options o = opts("wrong");
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "wrong password or key"));
	cr_assert_null(v);
	char *empty = path_in("empty");
	mkdir(empty, 0700);
	char *u2 = vault_url_for("empty");
	o = opts("x");
	cr_assert_astra_fail(astra_vault_open(&v, u2, &o), ASTRA_ENOTFOUND);
	cr_assert(strstr(astra_error_last()->message, "not a vault"));
	free(u2);
	if (on_s3() || on_azure()) {
		/* a missing bucket (container) is named */
		const char *q = strchr(url, '?');
		char u3[4500];
		int scheme = (int)(strstr(url, "://") - url) + 3;
		snprintf(u3, sizeof(u3), "%.*sastra-missing-bucket/v%s", scheme,
		        url, q ? q : "");
		cr_assert_astra_fail(
		        astra_vault_open(&v, u3, &o), ASTRA_ENOTFOUND);
		cr_assert(strstr(
		        astra_error_last()->message, "astra-missing-bucket"));
	} else {
		char u3[4500];
		snprintf(u3, sizeof(u3), "file://%s/missing", empty);
		cr_assert_astra_fail(
		        astra_vault_open(&v, u3, &o), ASTRA_ENOTFOUND);
		cr_assert(strstr(astra_error_last()->message, "missing"));
	}
	cr_assert_astra_fail(
	        astra_vault_open(&v, "gopher://x/y", &o), ASTRA_ENOTSUPPORTED);
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EEXISTS);
	o.password = NULL;
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EINVALID);
	o.version = 0;
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EVERSION);
	free(empty);
}

Test(repo_vault, newer_format_is_refused_with_versions)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	astra__store *st = open_store();
	astra_buf text = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(st, "config", 0, 0, &text));
	char *p = strstr(text.ptr, "\"format\":");
	cr_assert_not_null(p);
	p += strlen("\"format\":");
	while (*p == ' ' || *p == '\t')
		p++;
	*p = '7';
	cr_assert_astra_ok(
	        astra__store_put(st, "config", text.ptr, text.size, NULL));
	astra_buf_dispose(&text);
	astra__store_free(st);
	astra_vault_options o = opts("correct horse");
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EVERSION);
	cr_assert(strstr(astra_error_last()->message, "format version 7"));
}

Test(repo_vault, password_change_rewraps_without_rewriting_data)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = new_vault();
	astra_data_backup_result res;
	backup(v, src, &res);
	astra_vault_options n = opts("new secret");
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	astra_vault_free(v);
	astra_vault_options old = opts("correct horse");
	cr_assert_astra_fail(astra_vault_open(&v, url, &old), ASTRA_EAUTH);
	cr_assert_astra_ok(astra_vault_open(&v, url, &n));
	char *dst = path_in("dst");
	cr_assert_astra_ok(restore(v, res.id, dst, NULL));
	cr_assert_eq(fst_compare(src, dst), 0);
	astra_vault_free(v);
	free(src);
	free(dst);
}

Test(repo_vault, key_file_secret)
{
	char *kf = path_in("key");
	fst_write_random(kf, 64, 42);
	astra_vault_options o = opts(NULL);
	o.password = NULL;
	o.password_file = kf;
	o.flags = ASTRA_VAULT_F_KEY_FILE;
	astra_vault *v = NULL;
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	astra_vault_free(v);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	astra_vault_free(v);
	fst_write_random(kf, 64, 43);
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EAUTH);
	free(kf);
}

Test(repo_vault, incremental_backups_read_only_what_changed)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = new_vault();
	astra_data_backup_result r1, r2, r3;
	backup(v, src, &r1);
	backup(v, src, &r2);
	cr_assert_eq(r2.bytes_read, 0, "unchanged files were read again");
	cr_assert_eq(r2.bytes_new, 0);
	cr_assert_geq(r2.files_unchanged, 5);
	/* change one file in the middle */
	char *f = path_in("src/dir/random.bin");
	int fd = open(f, O_WRONLY);
	pwrite(fd, "CHANGED", 7, 1 << 20);
	close(fd);
	backup(v, src, &r3);
	struct stat sb;
	stat(f, &sb);
	cr_assert_eq(r3.bytes_read, (uint64_t)sb.st_size);
	cr_assert_lt(r3.bytes_new, 600 << 10,
	        "dedup should keep new data near one chunk, got %llu",
	        (unsigned long long)r3.bytes_new);
	char *dst = path_in("dst");
	cr_assert_astra_ok(restore(v, r3.id, dst, NULL));
	cr_assert_eq(fst_compare(src, dst), 0);
	cr_assert_eq(snapshot_count(v), 3);
	astra_vault_free(v);
	free(src);
	free(f);
	free(dst);
}

static int collect_key(const astra__obj_info *info, void *payload)
{
	return astra__json_push(
	        (astra__json *)payload, astra__json_new_string(info->key));
}

Test(repo_vault, nothing_is_stored_in_plaintext)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	char *f = path_in("src/Secret-manifest.yaml");
	const char *marker =
	        "apiVersion: v1 kind: Secret data: PLAINTEXT-MARKER-4242";
	char big[200000];
	for (size_t i = 0; i + strlen(marker) < sizeof(big);
	        i += strlen(marker))
		memcpy(big + i, marker, strlen(marker));
	fst_write(f, big, sizeof(big) - 100);
	astra_vault *v = new_vault();
	astra_data_backup_result r;
	backup(v, src, &r);
	astra_vault_free(v);
	/* every object of the vault, read through the store */
	astra__store *st = open_store();
	astra__json *keys = astra__json_new_array();
	cr_assert_geq(astra__store_list(st, "", collect_key, keys), 0);
	cr_assert_gt(astra__json_size(keys), 5);
	for (size_t i = 0; i < astra__json_size(keys); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		astra_buf b = ASTRA_BUF_INIT;
		cr_assert_astra_ok(astra__store_get(st, k, 0, 0, &b));
		cr_assert_null(memmem(b.ptr, b.size, "PLAINTEXT-MARKER", 16),
		        "plaintext found in %s", k);
		cr_assert_null(memmem(b.ptr, b.size, "Secret-manifest", 15),
		        "a file name found in %s", k);
		cr_assert_null(strstr(k, "Secret-manifest"));
		astra_buf_dispose(&b);
	}
	astra__json_free(keys);
	astra__store_free(st);
	free(src);
	free(f);
}

static int collect_big_pack(const astra__obj_info *info, void *payload)
{
	astra__json *arr = payload;
	if (info->size > 100 << 10)
		astra__json_push(arr, astra__json_new_string(info->key));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Changes one byte of the first pack (by key) larger than 100 KiB. */
static void flip_byte_in_first_pack(size_t at_from_start)
{
	astra__store *st = open_store();
	astra__json *keys = astra__json_new_array();
	cr_assert_geq(
	        astra__store_list(st, "data/", collect_big_pack, keys), 0);
	size_t n = astra__json_size(keys);
	cr_assert_gt(n, 0, "no pack larger than 100 KiB");
	char **names = calloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		names[i] = (char *)astra__json_string_value(
		        astra__json_at(keys, i));
	qsort(names, n, sizeof(char *), cmp_str);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(st, names[0], 0, 0, &b));
	cr_assert_gt(b.size, at_from_start);
	b.ptr[at_from_start] ^= 0x5a;
	cr_assert_astra_ok(astra__store_put(st, names[0], b.ptr, b.size, NULL));
	astra_buf_dispose(&b);
	free(names);
	astra__json_free(keys);
	astra__store_free(st);
}

Test(repo_vault, flipped_byte_is_named_by_check_and_restore_saves_the_rest)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = new_vault();
	astra_data_backup_result r;
	backup(v, src, &r);
	cr_assert_astra_ok(check(v, 1, NULL));
	flip_byte_in_first_pack(5000);
	astra__json *rep = NULL;
	cr_assert_astra_fail(check(v, 1, &rep), ASTRA_ECORRUPT);
	cr_assert_not_null(rep);
	const astra__json *dam = astra__json_get(rep, "damaged");
	cr_assert_geq(astra__json_size(dam), 1);
	const astra__json *d0 = astra__json_at(dam, 0);
	cr_assert_not_null(strstr(astra__json_str(d0, "object"), "chunk"));
	const astra__json *snaps = astra__json_get(d0, "snapshots");
	cr_assert_eq(astra__json_size(snaps), 1);
	cr_assert_str_eq(
	        astra__json_string_value(astra__json_at(snaps, 0)), r.id);
	astra__json_free(rep);
	/* without read-data the structure still resolves */
	cr_assert_astra_ok(check(v, 0, NULL));
	char *dst = path_in("dst");
	astra_buf report = ASTRA_BUF_INIT;
	cr_assert_astra_fail(restore(v, r.id, dst, &report), ASTRA_EPARTIAL);
	cr_assert_not_null(report.ptr);
	cr_assert(strstr(report.ptr, "random.bin") ||
	          strstr(report.ptr, "text.log"));
	/* intact files are restored */
	char *a = path_in("src/mode-600"), *b = path_in("dst/mode-600");
	cr_assert_eq(fst_compare(a, b), 0);
	astra_buf_dispose(&report);
	astra_vault_free(v);
	free(src);
	free(dst);
	free(a);
	free(b);
}

static int cancel_after(const astra_progress *p, void *payload)
{
	return p->bytes_done > *(uint64_t *)payload;
}

Test(repo_vault, cancel_records_nothing_and_next_backup_reuses_data)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	/* 128 MiB: a (rate-limited) progress report comes after 9 MiB and
	 * well before the end, however fast the backup runs */
	enum { NFILES = 32 };
	for (int i = 0; i < NFILES; i++) {
		char n[64];
		snprintf(n, sizeof(n), "src/file%d", i);
		char *f = path_in(n);
		fst_write_random(f, 4 << 20, (uint64_t)i + 100);
		free(f);
	}
	astra_vault *v = new_vault();
	astra_data_backup_options o;
	astra_data_backup_options_init(&o, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	uint64_t limit = 9 << 20;
	o.progress_cb = cancel_after;
	o.payload = &limit;
	cr_assert_astra_fail(
	        astra_vault_backup_path(v, src, &o, NULL), ASTRA_ECANCELLED);
	cr_assert_eq(snapshot_count(v), 0);
	cr_assert_astra_ok(check(v, 1, NULL));
	astra_vault_free(v);
	v = reopen();
	astra_data_backup_result r;
	backup(v, src, &r);
	cr_assert_lt(r.bytes_new, ((uint64_t)NFILES * 4 - 4) << 20,
	        "cancelled data was not reused (%llu new)",
	        (unsigned long long)r.bytes_new);
	/* a token cancels too */
	astra_cancel *tok;
	cr_assert_astra_ok(astra_cancel_new(&tok));
	astra_cancel_request(tok);
	astra_data_backup_options_init(&o, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	o.cancel = tok;
	o.flags = ASTRA_DATA_BACKUP_F_NO_PARENT;
	cr_assert_astra_fail(
	        astra_vault_backup_path(v, src, &o, NULL), ASTRA_ECANCELLED);
	astra_cancel_free(tok);
	cr_assert_eq(snapshot_count(v), 1);
	astra_vault_free(v);
	free(src);
}

static int die_after(const astra_progress *p, void *payload)
{
	if (p->bytes_done > *(uint64_t *)payload)
		raise(SIGKILL);
	return 0;
}

Test(repo_vault, kill_9_mid_backup_leaves_a_consistent_vault)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	/* enough data that a (rate-limited) progress report comes after
	 * 12 MiB and well before the end, however fast the backup runs */
	for (int i = 0; i < 32; i++) {
		char n[64];
		snprintf(n, sizeof(n), "src/big%d", i);
		char *f = path_in(n);
		fst_write_random(f, 3 << 20, (uint64_t)i + 7);
		free(f);
	}
	astra_vault *v = new_vault();
	char *first = path_in("src/dir");
	astra_data_backup_result r0;
	backup(v, first, &r0);
	astra_vault_free(v);
	pid_t pid = fork();
	if (pid == 0) {
		astra_vault *cv = reopen();
		astra_data_backup_options o;
		astra_data_backup_options_init(
		        &o, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
		uint64_t limit = 12 << 20;
		o.progress_cb = die_after;
		o.payload = &limit;
		int rc = astra_vault_backup_path(cv, src, &o, NULL);
		(void)rc;
		_exit(3);
	}
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	        "child was not killed");
	v = reopen();
	cr_assert_eq(snapshot_count(v), 1);
	cr_assert_astra_ok(check(v, 1, NULL));
	char *dst = path_in("dst0");
	cr_assert_astra_ok(restore(v, r0.id, dst, NULL));
	cr_assert_eq(fst_compare(first, dst), 0);
	astra_data_backup_result r;
	backup(v, src, &r);
	char *dst2 = path_in("dst");
	cr_assert_astra_ok(restore(v, r.id, dst2, NULL));
	cr_assert_eq(fst_compare(src, dst2), 0);
	cr_assert_astra_ok(check(v, 1, NULL));
	astra_vault_free(v);
	free(src);
	free(first);
	free(dst);
	free(dst2);
}

Test(repo_vault, full_disk_fails_cleanly_and_earlier_backups_survive)
{
	/* about a local file system: always file:// */
	snprintf(url, 4400, "file://%s", vdir);
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = new_vault();
	char *small = path_in("src/dir/sub");
	astra_data_backup_result r0;
	backup(v, small, &r0);
	astra_vault_free(v);
	char *big = path_in("big");
	mkdir(big, 0755);
	for (int i = 0; i < 4; i++) {
		char n[64];
		snprintf(n, sizeof(n), "big/f%d", i);
		char *f = path_in(n);
		fst_write_random(f, 4 << 20, (uint64_t)i + 900);
		free(f);
	}
	int pipefd[2];
	pipe(pipefd);
	pid_t pid = fork();
	if (pid == 0) {
		/* no file may grow past 512 KiB: writes fail with EFBIG */
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 512 << 10, 512 << 10 };
		setrlimit(RLIMIT_FSIZE, &rl);
		astra_vault *cv = reopen();
		int rc = astra_vault_backup_path(cv, big, NULL, NULL);
		write(pipefd[1], &rc, sizeof(rc));
		_exit(0);
	}
	int rc = 0, st;
	read(pipefd[0], &rc, sizeof(rc));
	waitpid(pid, &st, 0);
	cr_assert_eq(rc, ASTRA_ENOSPACE, "got %d", rc);
	v = reopen();
	cr_assert_eq(snapshot_count(v), 1);
	cr_assert_astra_ok(check(v, 1, NULL));
	char *dst = path_in("dst");
	cr_assert_astra_ok(restore(v, r0.id, dst, NULL));
	cr_assert_eq(fst_compare(small, dst), 0);
	astra_vault_free(v);
	free(src);
	free(small);
	free(big);
	free(dst);
}

Test(repo_vault, forget_and_gc_reclaim_space_and_keep_the_rest)
{
	char *a = path_in("a"), *b = path_in("b");
	mkdir(a, 0755);
	mkdir(b, 0755);
	char *fa = path_in("a/data"), *fb = path_in("b/data");
	fst_write_random(fa, 6 << 20, 1);
	fst_write_random(fb, 6 << 20, 2);
	astra_vault *v = new_vault();
	astra_data_backup_result ra, rb;
	backup(v, a, &ra);
	backup(v, b, &rb);
	astra_buf info = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_info(v, &info));
	astra__json *j = NULL;
	astra__json_parse(&j, info.ptr, info.size, "info");
	int64_t before = astra__json_int(j, "stored_bytes", 0);
	astra__json_free(j);
	astra_buf_dispose(&info);
	cr_assert_astra_ok(astra_vault_forget(v, ra.id));
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_gc(v, &g, &rep)); /* marks */
	astra_buf_dispose(&rep);
	cr_assert_astra_ok(astra_vault_gc(v, &g, &rep)); /* sweeps */
	astra_buf_dispose(&rep);
	cr_assert_astra_ok(astra_vault_info(v, &info));
	astra__json_parse(&j, info.ptr, info.size, "info");
	int64_t after = astra__json_int(j, "stored_bytes", 0);
	astra__json_free(j);
	astra_buf_dispose(&info);
	cr_assert_lt(after, before - (5 << 20),
	        "gc freed too little: %lld -> %lld", (long long)before,
	        (long long)after);
	cr_assert_astra_ok(check(v, 1, NULL));
	char *dst = path_in("dst");
	cr_assert_astra_ok(restore(v, rb.id, dst, NULL));
	cr_assert_eq(fst_compare(b, dst), 0);
	cr_assert_astra_fail(astra_vault_forget(v, ra.id), ASTRA_ENOTFOUND);
	astra_vault_free(v);
	free(a);
	free(b);
	free(fa);
	free(fb);
	free(dst);
}

Test(repo_vault, two_concurrent_writers_and_a_gc)
{
	char *a = path_in("a"), *b = path_in("b");
	mkdir(a, 0755);
	mkdir(b, 0755);
	fst_make_rich_tree(a);
	for (int i = 0; i < 5; i++) {
		char n[64];
		snprintf(n, sizeof(n), "b/f%d", i);
		char *f = path_in(n);
		fst_write_random(f, 3 << 20, (uint64_t)i + 50);
		free(f);
	}
	astra_vault *v = new_vault();
	/* an old snapshot to forget, so gc has work while writers run */
	char *old = path_in("a/dir");
	astra_data_backup_result r0;
	backup(v, old, &r0);
	cr_assert_astra_ok(astra_vault_forget(v, r0.id));
	astra_vault_free(v);
	pid_t kids[2];
	const char *srcs[2] = { a, b };
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			astra_vault *cv = reopen();
			int rc = astra_vault_backup_path(
			        cv, srcs[k], NULL, NULL);
			astra_vault_free(cv);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	v = reopen();
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	for (int i = 0; i < 3; i++) {
		astra_buf rep = ASTRA_BUF_INIT;
		cr_assert_astra_ok(astra_vault_gc(v, &g, &rep));
		astra_buf_dispose(&rep);
	}
	for (int k = 0; k < 2; k++) {
		int st;
		waitpid(kids[k], &st, 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		        "writer %d failed", k);
	}
	/* one more gc after the writers: must not touch their data */
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_gc(v, &g, &rep));
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	v = reopen();
	cr_assert_astra_ok(check(v, 1, NULL));
	astra_buf list = ASTRA_BUF_INIT;
	astra__json *j = NULL;
	cr_assert_astra_ok(astra_vault_snapshots(v, &list));
	astra__json_parse(&j, list.ptr, list.size, "list");
	cr_assert_eq(astra__json_size(j), 2);
	for (size_t i = 0; i < 2; i++) {
		const astra__json *s = astra__json_at(j, i);
		char dst[4500];
		snprintf(dst, sizeof(dst), "%s/restore%zu", work, i);
		cr_assert_astra_ok(
		        restore(v, astra__json_str(s, "id"), dst, NULL));
		const char *source = astra__json_str(s, "source");
		cr_assert_eq(fst_compare(source, dst), 0);
	}
	astra__json_free(j);
	astra_buf_dispose(&list);
	astra_vault_free(v);
	free(a);
	free(b);
	free(old);
}

Test(repo_vault, unreadable_files_are_reported_and_skipped)
{
	/* as an unprivileged user, so that permissions apply even to root */
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	char *secret = path_in("src/locked.bin");
	fst_write_random(secret, 1000, 5);
	chmod(secret, 0);
	char *lockdir = path_in("src/lockeddir");
	mkdir(lockdir, 0);
	astra_vault *v = new_vault();
	astra_vault_free(v);
	char cmd[9000];
	/* (an s3:// vault has no local directory) */
	snprintf(cmd, sizeof(cmd),
	        "{ [ ! -e '%s' ] || chmod -R a+rwX '%s'; } && chmod 0 '%s' '%s' "
	        "&& chmod a+rwx '%s'",
	        vdir, vdir, secret, lockdir, work);
	cr_assert_eq(system(cmd), 0);
	chmod(secret, 0);
	chmod(lockdir, 0);
	int pipefd[2];
	pipe(pipefd);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(9);
		astra_vault *cv = NULL;
		astra_vault_options o = opts("correct horse");
		int rc = astra_vault_open(&cv, url, &o);
		astra_data_backup_result r;
		memset(&r, 0, sizeof(r));
		r.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
		if (!rc)
			rc = astra_vault_backup_path(cv, src, NULL, &r);
		char msg[512];
		snprintf(msg, sizeof(msg), "%d %llu %s", rc,
		        (unsigned long long)r.errors,
		        astra_error_last()->message);
		write(pipefd[1], msg, strlen(msg) + 1);
		_exit(0);
	}
	char msg[512] = { 0 };
	read(pipefd[0], msg, sizeof(msg) - 1);
	int st;
	waitpid(pid, &st, 0);
	int rc = 0;
	unsigned long long errors = 0;
	sscanf(msg, "%d %llu", &rc, &errors);
	cr_assert_eq(rc, ASTRA_EPARTIAL, "backup as nobody: %s", msg);
	/* locked.bin, lockeddir, and the rich tree's 0700/0750/0600 items */
	cr_assert_eq(errors, 5, "%s", msg);
	cr_assert(strstr(msg, "Permission denied"),
	        "the message names the cause: %s", msg);
	/* the snapshot was recorded and restores the readable part */
	v = reopen();
	cr_assert_eq(snapshot_count(v), 1);
	astra_vault_free(v);
	chmod(secret, 0644);
	chmod(lockdir, 0755);
	free(src);
	free(secret);
	free(lockdir);
}

Test(repo_vault, version_1_options_still_work)
{
	/* a caller built against version 1 has a shorter struct */
	size_t v1 = offsetof(astra_vault_options, immutable_days);
	unsigned char *mem = malloc(v1 + 64);
	memset(mem, 0xAB, v1 + 64);
	astra_vault_options *o = (astra_vault_options *)mem;
	cr_assert_astra_ok(astra_vault_options_init(o, 1));
	for (size_t i = v1; i < v1 + 64; i++)
		cr_assert_eq(mem[i], 0xAB, "init wrote past a v1 struct");
	o->password = "correct horse";
	o->kdf_log2n = 10;
	astra_vault *v = NULL;
	/* the v2 fields (garbage here) are not read */
	cr_assert_astra_ok(astra_vault_init(&v, url, o));
	astra_buf info = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_info(v, &info));
	cr_assert_null(strstr(info.ptr, "immutability"));
	astra_buf_dispose(&info);
	astra_vault_free(v);
	free(mem);
}

Test(repo_vault, version_2_options_leave_kdf_p_unread)
{
	/* a caller built against version 2 has no kdf_p */
	size_t v2 = offsetof(astra_vault_options, kdf_p);
	unsigned char *mem = malloc(v2 + 64);
	memset(mem, 0xAB, v2 + 64);
	astra_vault_options *o = (astra_vault_options *)mem;
	cr_assert_astra_ok(astra_vault_options_init(o, 2));
	for (size_t i = v2; i < v2 + 64; i++)
		cr_assert_eq(mem[i], 0xAB, "init wrote past a v2 struct");
	o->password = "correct horse";
	o->kdf_log2n = 10;
	astra_vault *v = NULL;
	/* kdf_p (garbage here, far out of range) is not read: default 2 */
	cr_assert_astra_ok(astra_vault_init(&v, url, o));
	astra_vault_free(v);
	cr_assert_astra_ok(astra_vault_open(&v, url, o));
	astra_vault_free(v);
	free(mem);
}

/* ---- key slots and their KDF ---- */

typedef struct {
	astra__store *st;
	char key[64]; /* keys/<slot> */
	char sid[40];
	char vault_id[40];
	astra__json *slot;
} slot_view;

static int first_slot(const astra__obj_info *info, void *payload)
{
	slot_view *sv = payload;
	cr_assert_eq(sv->key[0], 0, "more than one key slot");
	snprintf(sv->key, sizeof(sv->key), "%s", info->key);
	return 0;
}

/* Reads the vault's only key slot and its vault id. */
static void read_slot(slot_view *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->st = open_store();
	cr_assert_geq(astra__store_list(sv->st, "keys/", first_slot, sv), 0);
	cr_assert_neq(sv->key[0], 0, "no key slot");
	snprintf(sv->sid, sizeof(sv->sid), "%s", strrchr(sv->key, '/') + 1);
	astra_buf b = ASTRA_BUF_INIT;
	astra__json *cfg = NULL;
	cr_assert_astra_ok(astra__store_get(sv->st, "config", 0, 0, &b));
	cr_assert_astra_ok(astra__json_parse(&cfg, b.ptr, b.size, "config"));
	snprintf(sv->vault_id, sizeof(sv->vault_id), "%s",
	        astra__json_str(cfg, "vault_id"));
	astra__json_free(cfg);
	astra__buf_clear(&b);
	cr_assert_astra_ok(astra__store_get(sv->st, sv->key, 0, 0, &b));
	cr_assert_astra_ok(astra__json_parse(&sv->slot, b.ptr, b.size, "slot"));
	astra_buf_dispose(&b);
}

static void slot_view_free(slot_view *sv)
{
	astra__json_free(sv->slot);
	astra__store_free(sv->st);
}

static void b64(astra_buf *out, const char *text)
{
	cr_assert_not_null(text);
	cr_assert_astra_ok(astra__base64_decode(out, text, strlen(text)));
}

/* The key-encryption key, derived with OpenSSL's scrypt (what derived
 * every slot before libastra had its own; any conforming scrypt will do). */
static void openssl_kek(
        const char *pw, const astra__json *slot, uint8_t kek[32])
{
	astra_buf salt = ASTRA_BUF_INIT;
	b64(&salt, astra__json_str(slot, "salt"));
	int64_t log2n = astra__json_int(slot, "log2n", 0);
	int64_t r = astra__json_int(slot, "r", 0);
	int64_t p = astra__json_int(slot, "p", 0);
	cr_assert_eq(EVP_PBE_scrypt(pw, strlen(pw), (unsigned char *)salt.ptr,
	                     salt.size, 1ULL << log2n, (uint64_t)r, (uint64_t)p,
	                     0, kek, 32),
	        1);
	astra_buf_dispose(&salt);
}

Test(repo_vault, key_slots_open_with_any_scrypt_and_old_p1_slots_still_open)
{
	uint8_t kek[32], master[64];
	char aad[128];
	slot_view sv;

	/* a new slot: the default p = 2, the test's N, r = 8 */
	astra_vault *v = new_vault();
	astra_vault_free(v);
	read_slot(&sv);
	cr_assert_str_eq(astra__json_str(sv.slot, "kdf"), "scrypt");
	cr_assert_eq(astra__json_int(sv.slot, "log2n", 0), 10);
	cr_assert_eq(astra__json_int(sv.slot, "r", 0), 8);
	cr_assert_eq(astra__json_int(sv.slot, "p", 0), 2);
	/* docs/format.md: the key is scrypt(password, salt, N, r, p), so an
	 * independent scrypt unwraps the master key */
	openssl_kek("correct horse", sv.slot, kek);
	snprintf(aad, sizeof(aad), "astra key slot %s %s", sv.vault_id, sv.sid);
	astra_buf w = ASTRA_BUF_INIT;
	b64(&w, astra__json_str(sv.slot, "wrapped_key"));
	cr_assert_eq(w.size, sizeof(master) + ASTRA_AEAD_OVERHEAD);
	cr_assert_astra_ok(
	        astra__aead_open(kek, aad, strlen(aad), w.ptr, w.size, master));

	/* the slot as the previous releases wrote it: p = 1, N = 2^11,
	 * wrapped under OpenSSL's scrypt */
	uint8_t salt[32];
	astra__random(salt, sizeof(salt));
	astra_buf t = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__base64_encode(&t, salt, sizeof(salt)));
	astra__json_set_str(sv.slot, "salt", t.ptr);
	astra__json_set_int(sv.slot, "log2n", 11);
	astra__json_set_int(sv.slot, "p", 1);
	openssl_kek("correct horse", sv.slot, kek);
	cr_assert_astra_ok(astra__aead_seal(
	        kek, aad, strlen(aad), master, sizeof(master), w.ptr));
	astra__buf_clear(&t);
	cr_assert_astra_ok(astra__base64_encode(&t, w.ptr, w.size));
	astra__json_set_str(sv.slot, "wrapped_key", t.ptr);
	astra__buf_clear(&t);
	cr_assert_astra_ok(astra__json_print_buf(&t, sv.slot, 1));
	cr_assert_astra_ok(
	        astra__store_put(sv.st, sv.key, t.ptr, t.size, NULL));
	slot_view_free(&sv);
	astra_vault_options o = opts("correct horse");
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	astra_vault_options bad = opts("correct horsf");
	astra_vault *v2 = NULL;
	cr_assert_astra_fail(astra_vault_open(&v2, url, &bad), ASTRA_EAUTH);

	/* a change of password writes the new kind of slot (p = 3 asked) */
	astra_vault_options n = opts("new secret");
	n.kdf_p = 3;
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	astra_vault_free(v);
	read_slot(&sv);
	cr_assert_eq(astra__json_int(sv.slot, "log2n", 0), 10);
	cr_assert_eq(astra__json_int(sv.slot, "p", 0), 3);
	slot_view_free(&sv);
	cr_assert_astra_ok(astra_vault_open(&v, url, &n));
	astra_vault_free(v);

	astra__wipe(master, sizeof(master));
	astra_buf_dispose(&w);
	astra_buf_dispose(&t);
}

Test(repo_vault, kdf_cost_out_of_range_is_refused_naming_the_field)
{
	astra_vault *v = NULL;
	astra_vault_options o = opts("correct horse");
	o.kdf_p = 65;
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "kdf_p 65"));
	o = opts("correct horse");
	o.kdf_log2n = 31;
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "kdf_log2n 31"));
	/* nothing was created: a valid init still succeeds */
	v = new_vault();
	astra_vault_options n = opts("new secret");
	n.kdf_p = 100;
	cr_assert_astra_fail(
	        astra_vault_change_password(v, &n), ASTRA_EINVALID);
	astra_vault_free(v);
	/* the old secret still opens */
	v = reopen();
	astra_vault_free(v);
}

Test(repo_vault, immutability_is_refused_where_objects_cannot_be_locked)
{
	/* file:// (always) and an object store bucket without object lock */
	char u[4400];
	snprintf(u, sizeof(u), "file://%s/imm", work);
	astra_vault_options o = opts("correct horse");
	o.immutable_days = 7;
	astra_vault *v = NULL;
	cr_assert_astra_fail(astra_vault_init(&v, u, &o), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(astra_error_last()->message, "object lock"));
	struct stat sb;
	cr_assert_neq(stat(u + 7, &sb), 0, "the directory was created");
	o.lock_mode = 9;
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EINVALID);
}

/* The vault's "blob_id" as astra_vault_info reports it. */
static char *info_blob_id(astra_vault *v)
{
	astra_buf info = ASTRA_BUF_INIT;
	astra__json *j = NULL;
	cr_assert_astra_ok(astra_vault_info(v, &info));
	cr_assert_astra_ok(astra__json_parse(&j, info.ptr, info.size, "info"));
	const char *b = astra__json_str(j, "blob_id");
	char *out = strdup(b ? b : "");
	astra__json_free(j);
	astra_buf_dispose(&info);
	return out;
}

/*
 * Backs up a tree with one small file (a single blob), restores it, reads
 * every blob back, and returns whether the small file's blob is indexed
 * under the id computed here from the documented formula: alg(K_id,
 * content), K_id = HKDF-SHA256(master, "astra vault blob id v1").
 */
static void round_trip_and_check_ids(int blake3)
{
	char *src = path_in("src"), *dst = path_in("dst");
	char *f = path_in("src/small.txt");
	mkdir(src, 0755);
	const char *content = "a small file, one blob\n";
	fst_write(f, content, strlen(content));
	char *big = path_in("src/big.bin");
	fst_write_random(big, 3u << 20, 77);
	astra_vault *v = reopen();
	astra_data_backup_result res;
	backup(v, src, &res);
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(restore(v, res.id, dst, &rep));
	astra_buf_dispose(&rep);
	cr_assert_eq(fst_compare(src, dst), 0, "restored tree differs");
	cr_assert_astra_ok(check(v, 1, NULL));
	astra_vault_free(v);

	astra__repo *r = NULL;
	astra__repo_opts ro = { 0 };
	ro.password = "correct horse";
	ro.password_len = strlen(ro.password);
	cr_assert_astra_ok(astra__repo_open(&r, url, &ro));
	cr_assert_astra_ok(astra__repo_load_index(r));
	uint8_t kid[32];
	cr_assert_astra_ok(astra__hkdf_sha256(
	        kid, 32, r->master, 64, NULL, 0, "astra vault blob id v1"));
	astra__id want, other;
	astra__mac *m = NULL;
	cr_assert_astra_ok(astra__mac_new(&m, kid, 32));
	uint8_t hm[32], b3[32];
	cr_assert_astra_ok(astra__mac_compute(m, content, strlen(content), hm));
	astra__mac_free(m);
	astra__blake3_keyed(kid, content, strlen(content), b3);
	memcpy(want.b, blake3 ? b3 : hm, 32);
	memcpy(other.b, blake3 ? hm : b3, 32);
	cr_assert_geq(astra__index_find(&r->index, &want), 0,
	        "the small file's blob is not under its %s id",
	        blake3 ? "blake3-keyed" : "hmac-sha256");
	cr_assert_lt(astra__index_find(&r->index, &other), 0);
	astra__repo_free(r);
	free(src);
	free(dst);
	free(f);
	free(big);
}

Test(repo_vault, new_vaults_use_keyed_blake3_ids)
{
	astra_vault *v = new_vault();
	char *b = info_blob_id(v);
	cr_assert_str_eq(b, "blake3-keyed");
	free(b);
	astra_vault_free(v);
	round_trip_and_check_ids(1);
}

/* A vault written before BLAKE3 ids ("hmac-sha256" in its params) keeps
 * its ids: backups, restores and checks work on it unchanged. */
Test(repo_vault, hmac_sha256_vaults_keep_working)
{
	astra__repo *r = NULL;
	astra__repo_opts ro = { 0 };
	ro.password = "correct horse";
	ro.password_len = strlen(ro.password);
	ro.kdf_log2n = 10;
	ro.chunk_min = 16 << 10;
	ro.chunk_avg = 64 << 10;
	ro.chunk_max = 256 << 10;
	ro.pack_size = 1 << 20;
	ro.blob_id = "hmac-sha256";
	cr_assert_astra_ok(astra__repo_init(&r, url, &ro));
	astra__repo_free(r);
	astra_vault *v = reopen();
	char *b = info_blob_id(v);
	cr_assert_str_eq(b, "hmac-sha256");
	free(b);
	astra_vault_free(v);
	round_trip_and_check_ids(0);
}

/* Rewrites the vault's sealed params with "blob_id" set to `alg`. */
static void set_params_blob_id(const char *alg)
{
	astra__repo *r = NULL;
	astra__repo_opts ro = { 0 };
	ro.password = "correct horse";
	ro.password_len = strlen(ro.password);
	cr_assert_astra_ok(astra__repo_open(&r, url, &ro));
	astra_buf text = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT,
	          plain = ASTRA_BUF_INIT, b64 = ASTRA_BUF_INIT;
	astra__json *cfg = NULL, *params = NULL;
	cr_assert_astra_ok(astra__store_get(r->store, "config", 0, 0, &text));
	cr_assert_astra_ok(
	        astra__json_parse(&cfg, text.ptr, text.size, "config"));
	const char *p64 = astra__json_str(cfg, "params");
	char aad[64];
	snprintf(aad, sizeof(aad), "astra config %s", r->vault_id);
	cr_assert_astra_ok(astra__base64_decode(&sealed, p64, strlen(p64)));
	cr_assert_astra_ok(astra__repo_open_sealed(
	        r, aad, sealed.ptr, sealed.size, &plain, "params"));
	cr_assert_astra_ok(
	        astra__json_parse(&params, plain.ptr, plain.size, "params"));
	astra__json_set_str(params, "blob_id", alg);
	astra__buf_clear(&plain);
	astra__buf_clear(&sealed);
	astra__buf_clear(&text);
	cr_assert_astra_ok(astra__json_print_buf(&plain, params, 0));
	cr_assert_astra_ok(
	        astra__repo_seal(r, aad, plain.ptr, plain.size, &sealed));
	cr_assert_astra_ok(astra__base64_encode(&b64, sealed.ptr, sealed.size));
	astra__json_set_str(cfg, "params", b64.ptr);
	cr_assert_astra_ok(astra__json_print_buf(&text, cfg, 1));
	cr_assert_astra_ok(astra__store_put(
	        r->store, "config", text.ptr, text.size, NULL));
	astra__json_free(cfg);
	astra__json_free(params);
	astra_buf_dispose(&text);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&b64);
	astra__repo_free(r);
}

Test(repo_vault, unknown_blob_id_algorithm_is_refused_by_name)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	/* the rewrite itself round trips: a known name opens */
	set_params_blob_id("hmac-sha256");
	v = reopen();
	char *b = info_blob_id(v);
	cr_assert_str_eq(b, "hmac-sha256");
	free(b);
	astra_vault_free(v);
	set_params_blob_id("sha3-256");
	astra_vault_options o = opts("correct horse");
	cr_assert_astra_fail(
	        astra_vault_open(&v, url, &o), ASTRA_ENOTSUPPORTED);
	cr_assert(strstr(astra_error_last()->message, "\"sha3-256\""), "%s",
	        astra_error_last()->message);
	/* nor can a vault be created with it */
	astra__repo *r = NULL;
	astra__repo_opts ro = { 0 };
	ro.password = "correct horse";
	ro.password_len = strlen(ro.password);
	ro.kdf_log2n = 10;
	ro.blob_id = "sha3-256";
	char *u2 = vault_url_for("other");
	cr_assert_astra_fail(
	        astra__repo_init(&r, u2, &ro), ASTRA_ENOTSUPPORTED);
	free(u2);
}

/* Files are read into 16 MiB segments back to back and chunks are slices of
 * them; a chunk's unfinished tail moves to the next segment. Default chunk
 * sizes (up to 8 MiB), files larger than a segment, and small files between
 * them: every byte must come back, and the chunks must dedup across files. */
Test(repo_vault, chunks_spanning_read_segments_round_trip)
{
	char *src = path_in("src"), *dst = path_in("dst");
	mkdir(src, 0755);
	char name[64];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "src/s%03d", i);
		char *f = path_in(name);
		fst_write_random(f, (size_t)(i * 97) % 9000, (uint64_t)i + 1);
		free(f);
		if (i % 100 == 50) {
			snprintf(name, sizeof(name), "src/big%03d", i);
			f = path_in(name);
			fst_write_random(f, (37u << 20) + (size_t)i, 4242);
			free(f);
		}
	}
	astra_vault *v = NULL;
	astra_vault_options o = opts("correct horse");
	o.chunk_min = o.chunk_avg = o.chunk_max = 0; /* the defaults */
	o.pack_size = 0;
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	astra_data_backup_result res;
	backup(v, src, &res);
	/* the three big files share their first 37 MiB */
	cr_assert_lt(res.bytes_new, 45u << 20, "big files did not dedup: %llu",
	        (unsigned long long)res.bytes_new);
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(restore(v, res.id, dst, &rep));
	astra_buf_dispose(&rep);
	cr_assert_eq(fst_compare(src, dst), 0, "restored tree differs");
	cr_assert_astra_ok(check(v, 1, NULL));
	astra_vault_free(v);
	free(src);
	free(dst);
}
