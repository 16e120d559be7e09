/*
 * astra_backup_verify without a cluster: two app backups (records written
 * as astra_backup_create writes them, each with one volume backed up from a
 * directory) share a file vault; verification reads what one backup needs,
 * names a damaged pack, and does not read the other backup's packs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astra/backup.h"
#include "astra_test.h"
#include "fstree.h"
#include "vault_test.h"
#include "fmt/json.h"
#include "repo/catalog.h"
#include "repo/repo.h"
#include "repo/vault_internal.h"
#include "store/store.h"

static char *work;
static char url[4300];
static astra_vault *vault;

static void setup(void)
{
	work = fst_tmpdir("verify");
	snprintf(url, sizeof(url), "file://%s/vault", work);
	astra_vault_options o = test_vault_options("pw", 2);
	cr_assert_astra_ok(astra_vault_init(&vault, url, &o));
}

static void teardown(void)
{
	astra_vault_free(vault);
	fst_rmrf(work);
	free(work);
}

TestSuite(backup_verify, .init = setup, .fini = teardown, .timeout = 120);

static int collect(const astra__obj_info *info, void *payload)
{
	astra__json *arr = payload;
	astra__json *o = astra__json_new_object();
	astra__json_set_str(o, "key", info->key);
	astra__json_set_int(o, "size", (int64_t)info->size);
	return astra__json_push(arr, o);
}

/* The packs in the vault as [{"key", "size"}]. */
static astra__json *packs(void)
{
	astra__store *st = NULL;
	cr_assert_astra_ok(astra__store_open(&st, url, NULL));
	astra__json *arr = astra__json_new_array();
	cr_assert_geq(astra__store_list(st, "data/", collect, arr), 0);
	astra__store_free(st);
	return arr;
}

static int has_key(const astra__json *arr, const char *key)
{
	for (size_t i = 0; i < astra__json_size(arr); i++)
		if (!strcmp(astra__json_str(astra__json_at(arr, i), "key"),
		            key))
			return 1;
	return 0;
}

/*
 * App backup `name`: a directory of 600 KiB of random data (seed) backed up
 * as its one volume, its manifests blob and its record. Returns the packs
 * this backup added to the vault (the caller frees).
 */
static astra__json *app_backup(const char *name, uint64_t seed)
{
	astra__json *before = packs();
	char dir[4400], file[4500];
	snprintf(dir, sizeof(dir), "%s/src-%s", work, name);
	mkdir(dir, 0755);
	snprintf(file, sizeof(file), "%s/data.bin", dir);
	fst_write_random(file, 600 << 10, seed);
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(vault, dir, NULL, &res));
	astra__writer *w = NULL;
	astra__id id;
	char hex[ASTRA_ID_HEX], man[200];
	snprintf(man, sizeof(man),
	        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	        "{\"name\":\"%s\",\"namespace\":\"ns-%s\"}}]",
	        name, name);
	cr_assert_astra_ok(astra__writer_new(&w, vault->r));
	cr_assert_astra_ok(astra__writer_add(
	        w, ASTRA_BLOB_DATA, man, strlen(man), &id, 0, NULL));
	cr_assert_astra_ok(astra__writer_flush(w));
	astra__writer_free(w);
	astra__id_hex(&id, hex);
	char rec[2000];
	snprintf(rec, sizeof(rec),
	        "{\"format\":1,\"name\":\"%s\",\"app\":\"app-%s\","
	        "\"created\":\"2026-12-07T18:00:00Z\",\"state\":\"completed\","
	        "\"snapshot\":\"%s-bk\",\"manifests\":\"%s\",\"resources\":1,"
	        "\"volumes\":[{\"namespace\":\"ns-%s\",\"pvc\":\"data\","
	        "\"data\":\"%s\",\"bytes\":%d,\"files\":1}],"
	        "\"durationMs\":1}",
	        name, name, name, hex, name, res.id, 600 << 10);
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, rec, strlen(rec), "rec"));
	char key[300];
	snprintf(key, sizeof(key), "appbackups/%s", name);
	cr_assert_astra_ok(astra__repo_put_json(vault->r, key, j, 0));
	astra__json_free(j);
	astra__json *after = packs();
	astra__json *added = astra__json_new_array();
	for (size_t i = 0; i < astra__json_size(after); i++) {
		const astra__json *p = astra__json_at(after, i);
		if (!has_key(before, astra__json_str(p, "key")))
			astra__json_push(added, astra__json_dup(p));
	}
	astra__json_free(before);
	astra__json_free(after);
	cr_assert_gt(astra__json_size(added), 0);
	return added;
}

/* The largest pack of `added` (a data pack), damaged in its middle. */
static const char *damage_largest(const astra__json *added)
{
	const astra__json *big = NULL;
	for (size_t i = 0; i < astra__json_size(added); i++) {
		const astra__json *p = astra__json_at(added, i);
		if (!big || astra__json_int(p, "size", 0) >
		                    astra__json_int(big, "size", 0))
			big = p;
	}
	const char *key = astra__json_str(big, "key");
	char path[4500];
	snprintf(path, sizeof(path), "%s/vault/%s", work, key);
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f, "%s", path);
	long at = (long)astra__json_int(big, "size", 0) / 2;
	fseek(f, at, SEEK_SET);
	int c = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(c ^ 0x5a, f);
	fclose(f);
	return key;
}

static int verify(const char *name, astra__json **rep)
{
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_backup_verify(vault, name, NULL, &b);
	*rep = NULL;
	if (b.ptr)
		cr_assert_astra_ok(astra__json_parse(rep, b.ptr, b.size, "r"));
	astra_buf_dispose(&b);
	return rc;
}

Test(backup_verify, good_backups_verify_and_a_damaged_pack_is_named)
{
	astra__json *a = app_backup("a1", 1);
	astra__json *b = app_backup("b1", 2);
	astra__json *all = packs();
	astra__json *rep = NULL;

	cr_assert_astra_ok(verify("a1", &rep));
	cr_assert(astra__json_bool(rep, "ok", 0));
	cr_assert_str_eq(astra__json_str(rep, "app"), "app-a1");
	cr_assert_eq(astra__json_int(rep, "snapshots", 0), 1);
	cr_assert_geq(astra__json_int(rep, "trees", 0), 1);
	cr_assert_gt(astra__json_int(rep, "blobs", 0), 5);
	cr_assert_gt(astra__json_int(rep, "bytes", 0), 600 << 10);
	cr_assert_gt(astra__json_int(rep, "objects", 0), 2);
	cr_assert_eq(astra__json_size(astra__json_get(rep, "problems")), 0);
	/* only what a1 needs: fewer packs than the vault holds */
	int64_t pa = astra__json_int(rep, "packs", 0);
	cr_assert_gt(pa, 0);
	cr_assert_lt((size_t)pa, astra__json_size(all));
	astra__json_free(rep);
	cr_assert_astra_ok(verify("b1", &rep));
	astra__json_free(rep);

	/* damage a pack only b1 uses: a1 still verifies, b1 names it */
	const char *key = damage_largest(b);
	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	co.flags = ASTRA_CHECK_F_READ_DATA;
	cr_assert_astra_fail(
	        astra_vault_check(vault, &co, NULL), ASTRA_ECORRUPT);
	cr_assert_astra_ok(verify("a1", &rep));
	cr_assert(astra__json_bool(rep, "ok", 0));
	astra__json_free(rep);
	cr_assert_astra_fail(verify("b1", &rep), ASTRA_ECORRUPT);
	cr_assert_not_null(rep);
	cr_assert(!astra__json_bool(rep, "ok", 1));
	const astra__json *p0 =
	        astra__json_at(astra__json_get(rep, "problems"), 0);
	char want[300];
	snprintf(want, sizeof(want), "pack %s", key);
	cr_assert_str_eq(astra__json_str(p0, "object"), want);
	cr_assert_not_null(strstr(astra__json_str(p0, "error"),
	                           "does not decrypt or verify"),
	        "%s", astra__json_str(p0, "error"));
	cr_assert_not_null(strstr(astra_error_last()->message, key), "%s",
	        astra_error_last()->message);
	astra__json_free(rep);

	/* a damaged pack of a1 fails a1 too */
	damage_largest(a);
	cr_assert_astra_fail(verify("a1", &rep), ASTRA_ECORRUPT);
	astra__json_free(rep);
	astra__json_free(a);
	astra__json_free(b);
	astra__json_free(all);
}

Test(backup_verify, bad_input_is_refused_with_a_clear_error)
{
	astra__json *rep = NULL;
	cr_assert_astra_fail(verify("nope", &rep), ASTRA_ENOTFOUND);
	cr_assert_null(rep);
	cr_assert_not_null(strstr(astra_error_last()->message, "nope"));
	astra_backup_verify_options o;
	cr_assert_astra_ok(astra_backup_verify_options_init(
	        &o, ASTRA_BACKUP_VERIFY_OPTIONS_VERSION));
	o.flags = ASTRA_BACKUP_VERIFY_F_TEST_RESTORE;
	cr_assert_astra_fail(
	        astra_backup_verify(vault, "nope", &o, NULL), ASTRA_EINVALID);
	cr_assert_not_null(
	        strstr(astra_error_last()->message, "target cluster"));
	o.flags = 0x80;
	cr_assert_astra_fail(
	        astra_backup_verify(vault, "nope", &o, NULL), ASTRA_EINVALID);
}

Test(backup_verify, a_damaged_record_is_reported_as_the_problem)
{
	astra__json *a = app_backup("a1", 3);
	astra__json *j = NULL;
	const char *bad = "{\"format\":1,\"name\":\"a1\",\"app\":7}";
	cr_assert_astra_ok(astra__json_parse(&j, bad, strlen(bad), "rec"));
	cr_assert_astra_ok(
	        astra__repo_put_json(vault->r, "appbackups/a1", j, 0));
	astra__json_free(j);
	astra__json *rep = NULL;
	cr_assert_astra_fail(verify("a1", &rep), ASTRA_ECORRUPT);
	const astra__json *p0 =
	        astra__json_at(astra__json_get(rep, "problems"), 0);
	cr_assert_str_eq(astra__json_str(p0, "object"), "record appbackups/a1");
	astra__json_free(rep);
	astra__json_free(a);
}

Test(backup_verify, a_hostile_pack_trailer_is_named_not_a_crash)
{
	astra__json *a = app_backup("a1", 4);
	const char *key = damage_largest(a);
	char path[4500];
	snprintf(path, sizeof(path), "%s/vault/%s", work, key);
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f);
	fseek(f, -4, SEEK_END);
	fwrite("\xff\xff\xff\xff", 1, 4, f);
	fclose(f);
	astra__json *rep = NULL;
	cr_assert_astra_fail(verify("a1", &rep), ASTRA_ECORRUPT);
	const astra__json *p0 =
	        astra__json_at(astra__json_get(rep, "problems"), 0);
	char want[300];
	snprintf(want, sizeof(want), "pack %s", key);
	cr_assert_str_eq(astra__json_str(p0, "object"), want);
	cr_assert_not_null(
	        strstr(astra__json_str(p0, "error"), "header length"), "%s",
	        astra__json_str(p0, "error"));
	astra__json_free(rep);
	astra__json_free(a);
}
