/*
 * The typed app-backup record (lib/repo/catalog.c): a record decodes and
 * encodes back to the same bytes, in the key order docs/backups.md lists;
 * damaged records are refused with an error naming the member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra/backup.h"
#include "astra/vault.h"
#include "astra_test.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/catalog.h"
#include "repo/repo.h"
#include "repo/vault_internal.h"
#include "vault_test.h"

TestSuite(repo_catalog);

/* A record as astra_backup_create writes it (compact, in its key order):
 * one volume backed up by this process, one by a mover Job. */
static const char full[] =
        "{\"format\":1,\"name\":\"nightly\",\"app\":\"shop\","
        "\"definition\":{\"name\":\"shop\",\"namespaces\":[\"shop\"]},"
        "\"source\":{\"server\":\"https://127.0.0.1:6443\","
        "\"context\":\"kind-a\"},"
        "\"created\":\"2026-12-07T18:00:00Z\",\"state\":\"completed\","
        "\"snapshot\":\"nightly-bk\",\"consistency\":\"crash\","
        "\"manifests\":\"00112233445566778899aabbccddeeff\","
        "\"resources\":12,"
        "\"volumes\":[{\"namespace\":\"shop\",\"pvc\":\"db\","
        "\"storageClass\":\"csi-hostpath-sc\",\"size\":\"1Gi\","
        "\"accessModes\":[\"ReadWriteOnce\"],"
        "\"data\":\"ffeeddccbbaa99887766554433221100\",\"bytes\":4096,"
        "\"files\":3},"
        "{\"namespace\":\"shop\",\"pvc\":\"cache\","
        "\"data\":\"0123456789abcdef0123456789abcdef\",\"bytes\":0,"
        "\"files\":0,\"mover\":{\"job\":\"astra-mv-0a1b2c3d-1\","
        "\"started\":\"2026-12-07T18:00:01Z\","
        "\"completed\":\"2026-12-07T18:00:09Z\",\"bytesNew\":0}}],"
        "\"hooks\":[{\"stage\":\"pre-backup\",\"hooks\":0,\"failed\":0}],"
        "\"hookDefinitions\":[],\"durationMs\":1234}";

static astra__json *parse(const char *text)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "test"));
	return j;
}

static char *print(const astra__json *j)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__json_print_buf(&b, j, 0));
	char *s = strndup(b.ptr, b.size);
	astra_buf_dispose(&b);
	return s;
}

Test(repo_catalog, round_trip_keeps_every_member_and_the_key_order)
{
	astra__json *j = parse(full);
	astra__appbackup_rec rec;
	cr_assert_astra_ok(astra__appbackup_decode(j, "nightly", &rec));
	cr_assert_eq(rec.format, 1);
	cr_assert_str_eq(rec.name, "nightly");
	cr_assert_str_eq(rec.app, "shop");
	cr_assert_str_eq(rec.server, "https://127.0.0.1:6443");
	cr_assert_str_eq(rec.context, "kind-a");
	cr_assert_str_eq(rec.snapshot, "nightly-bk");
	cr_assert_str_eq(rec.manifests, "00112233445566778899aabbccddeeff");
	cr_assert_eq(rec.resources, 12);
	cr_assert_eq(rec.duration_ms, 1234);
	cr_assert_eq(rec.nvolumes, 2);
	cr_assert_str_eq(rec.volumes[0].ns, "shop");
	cr_assert_str_eq(rec.volumes[0].pvc, "db");
	cr_assert_str_eq(rec.volumes[0].storage_class, "csi-hostpath-sc");
	cr_assert_str_eq(rec.volumes[0].size, "1Gi");
	cr_assert_str_eq(
	        rec.volumes[0].data, "ffeeddccbbaa99887766554433221100");
	cr_assert_eq(rec.volumes[0].bytes, 4096);
	cr_assert_eq(rec.volumes[0].files, 3);
	cr_assert_null(rec.volumes[0].mover);
	cr_assert_null(rec.volumes[1].storage_class);
	cr_assert_null(rec.volumes[1].access_modes);
	cr_assert_str_eq(astra__json_str(rec.volumes[1].mover, "job"),
	        "astra-mv-0a1b2c3d-1");

	astra__json *back = NULL;
	cr_assert_astra_ok(astra__appbackup_encode(&rec, &back));
	char *text = print(back);
	cr_assert_str_eq(text, full);
	free(text);
	astra__json_free(back);
	astra__appbackup_rec_free(&rec);
	cr_assert_null(rec.name);
	astra__json_free(j);
}

/* Decodes `full` with `key` (a path such as "volumes.1.data", numbers
 * index arrays) replaced by `value` (JSON text; NULL: removed); expects
 * `code` and a message equal to `msg`. */
static void expect_refused(
        const char *path, const char *value, int code, const char *msg)
{
	astra__json *j = parse(full);
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	astra__json *parent = j;
	char *key = buf;
	for (char *dot; (dot = strchr(key, '.')); key = dot + 1) {
		*dot = '\0';
		parent = (key[0] >= '0' && key[0] <= '9')
		                 ? astra__json_at(parent, (size_t)atoi(key))
		                 : astra__json_get(parent, key);
		cr_assert_not_null(parent, "%s", path);
	}
	cr_assert_not_null(astra__json_get(parent, key), "%s", path);
	if (value)
		astra__json_set(parent, key, parse(value));
	else
		astra__json_del(parent, key);
	astra__appbackup_rec rec;
	memset(&rec, 0x5a, sizeof(rec));
	cr_assert_astra_fail(astra__appbackup_decode(j, "nightly", &rec), code);
	cr_assert_str_eq(astra_error_last()->message, msg);
	cr_assert_null(rec.name, "nothing is left behind");
	cr_assert_null(rec.volumes);
	astra__json_free(j);
}

Test(repo_catalog, garbage_records_name_the_field)
{
	expect_refused("volumes.1.data", "7", ASTRA_ECORRUPT,
	        "backup nightly: field volumes[1].data is not a string");
	expect_refused("volumes.0.pvc", NULL, ASTRA_ECORRUPT,
	        "backup nightly: field volumes[0].pvc is missing");
	expect_refused("volumes.1.bytes", "\"many\"", ASTRA_ECORRUPT,
	        "backup nightly: field volumes[1].bytes is not a number");
	/* found by fuzz_record: the conversion was undefined behaviour */
	expect_refused("volumes.1.bytes", "1e300", ASTRA_ECORRUPT,
	        "backup nightly: field volumes[1].bytes is out of range");
	expect_refused("durationMs", "-9.3e18", ASTRA_ECORRUPT,
	        "backup nightly: field durationMs is out of range");
	expect_refused("volumes.0.accessModes", "\"ReadWriteOnce\"",
	        ASTRA_ECORRUPT,
	        "backup nightly: field volumes[0].accessModes is not an array");
	expect_refused("volumes",
	        "[{\"namespace\":\"a\",\"pvc\":\"b\",\"data\":\"c\"},[]]",
	        ASTRA_ECORRUPT,
	        "backup nightly: field volumes[1] is not an object");
	expect_refused("manifests", NULL, ASTRA_ECORRUPT,
	        "backup nightly: field manifests is missing");
	expect_refused("manifests", "null", ASTRA_ECORRUPT,
	        "backup nightly: field manifests is not a string");
	expect_refused("volumes", "{}", ASTRA_ECORRUPT,
	        "backup nightly: field volumes is not an array");
	expect_refused("source.server", "false", ASTRA_ECORRUPT,
	        "backup nightly: field source.server is not a string");
	expect_refused("hookDefinitions", "{}", ASTRA_ECORRUPT,
	        "backup nightly: field hookDefinitions is not an array");
	expect_refused("format", "\"1\"", ASTRA_ECORRUPT,
	        "backup nightly: field format is not a number");
	expect_refused("format", "2", ASTRA_EVERSION,
	        "backup nightly has record format 2; this library reads 1 "
	        "to 1");
	expect_refused("format", NULL, ASTRA_EVERSION,
	        "backup nightly has record format 0; this library reads 1 "
	        "to 1");
}

Test(repo_catalog, a_record_that_is_not_an_object_is_refused)
{
	astra__json *j = parse("[1,2]");
	astra__appbackup_rec rec;
	cr_assert_astra_fail(
	        astra__appbackup_decode(j, "nightly", &rec), ASTRA_ECORRUPT);
	cr_assert_str_eq(astra_error_last()->message,
	        "backup nightly: the record is not a JSON object");
	astra__json_free(j);
}

/* ---- through a vault ---- */

static char *work;
static astra_vault *vault;

static void vault_setup(void)
{
	work = fst_tmpdir("catalog");
	char url[4300];
	snprintf(url, sizeof(url), "file://%s/vault", work);
	astra_vault_options o = test_vault_options("pw", 1);
	cr_assert_astra_ok(astra_vault_init(&vault, url, &o));
}

static void vault_teardown(void)
{
	astra_vault_free(vault);
	fst_rmrf(work);
	free(work);
}

/* Stores `full` as backup "nightly", its manifests blob `manifests` (JSON
 * text) in the vault and, when `path` is set, member `path` of the record
 * replaced by `value` (JSON text) or removed (NULL). */
static void store_record(
        const char *manifests, const char *path, const char *value)
{
	astra__repo *r = vault->r;
	astra__writer *w = NULL;
	astra__id id;
	char hex[ASTRA_ID_HEX];
	cr_assert_astra_ok(astra__writer_new(&w, r));
	cr_assert_astra_ok(astra__writer_add(w, ASTRA_BLOB_DATA, manifests,
	        strlen(manifests), &id, 0, NULL));
	cr_assert_astra_ok(astra__writer_flush(w));
	astra__writer_free(w);
	astra__id_hex(&id, hex);
	astra__json *j = parse(full);
	astra__json_set_str(j, "manifests", hex);
	if (path && value)
		astra__json_set(j, path, parse(value));
	else if (path)
		astra__json_del(j, path);
	cr_assert_astra_ok(astra__repo_put_json(r, "appbackups/nightly", j, 0));
	astra__json_free(j);
}

Test(repo_catalog, load_rec_reads_the_record_and_its_manifests,
        .init = vault_setup, .fini = vault_teardown)
{
	store_record(
	        "[{\"kind\":\"ConfigMap\"},{\"kind\":\"Secret\"}]", NULL, NULL);
	astra__appbackup_rec rec;
	astra__json *man = NULL;
	cr_assert_astra_ok(
	        astra__appbackup_load_rec(vault->r, "nightly", &rec, &man));
	cr_assert_eq(rec.nvolumes, 2);
	cr_assert_str_eq(rec.volumes[1].pvc, "cache");
	cr_assert_eq(astra__json_size(man), 2);
	cr_assert_str_eq(
	        astra__json_str(astra__json_at(man, 1), "kind"), "Secret");
	astra__json_free(man);
	astra__appbackup_rec_free(&rec);

	cr_assert_astra_fail(
	        astra__appbackup_load_rec(vault->r, "weekly", &rec, &man),
	        ASTRA_ENOTFOUND);
	cr_assert_null(man);
}

Test(repo_catalog, backup_delete_removes_a_damaged_record_and_its_data,
        .init = vault_setup, .fini = vault_teardown)
{
	/* a data snapshot of the backup (tagged as backups tag them) and one
	 * of another backup */
	char *src = fst_tmpdir("catalog-src");
	char f[4200];
	snprintf(f, sizeof(f), "%s/a", src);
	FILE *fp = fopen(f, "w");
	cr_assert_not_null(fp);
	fputs("volume data\n", fp);
	fclose(fp);
	const char *mine[] = { "backup=nightly", "pvc=shop/db" };
	const char *other[] = { "backup=weekly", "pvc=shop/db" };
	astra_data_backup_result res = { ASTRA_DATA_BACKUP_RESULT_VERSION };
	char keep_id[33];
	for (int k = 0; k < 2; k++) {
		astra_data_backup_options bo = ASTRA_DATA_BACKUP_OPTIONS_INIT;
		bo.tags = k ? other : mine;
		bo.ntags = 2;
		cr_assert_astra_ok(
		        astra_vault_backup_path(vault, src, &bo, &res));
		if (k)
			snprintf(keep_id, sizeof(keep_id), "%s", res.id);
	}
	store_record("[]", "volumes",
	        "[{\"namespace\":\"shop\",\"pvc\":\"db\",\"data\":7}]");
	cr_assert_astra_fail(astra__appbackup_load_rec(vault->r, "nightly",
	                             &(astra__appbackup_rec){ 0 }, NULL),
	        ASTRA_ECORRUPT);
	/* a record that cannot be decoded is still deleted, and its volumes
	 * are found by their tag: nothing is left that stops gc */
	cr_assert_astra_ok(astra_backup_delete(vault, "nightly"));
	cr_assert_not(astra__appbackup_exists(vault->r, "nightly"));
	astra_buf out = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_snapshots(vault, &out));
	cr_assert(strstr(out.ptr, keep_id), "the other backup's data stays");
	cr_assert_null(strstr(out.ptr, "nightly"),
	        "the damaged backup's data snapshot is forgotten: %s", out.ptr);
	astra_buf_dispose(&out);

	/* a readable record is deleted with what it names */
	store_record("[]", NULL, NULL);
	cr_assert_astra_ok(astra_backup_delete(vault, "nightly"));
	cr_assert_not(astra__appbackup_exists(vault->r, "nightly"));
	fst_rmrf(src);
	free(src);
}

/* volumes[].consistency ("snapshot" or "crash-consistent-with-hooks")
 * survives a round trip, after "mover"; a non-string is refused by name. */
Test(repo_catalog, volume_consistency_round_trips)
{
	static const char vol[] =
	        "{\"namespace\":\"shop\",\"pvc\":\"logs\","
	        "\"storageClass\":\"local\",\"size\":\"1Gi\","
	        "\"data\":\"ffeeddccbbaa99887766554433221100\",\"bytes\":5,"
	        "\"files\":1,\"mover\":{\"job\":\"astra-mv-0a1b2c3d-2\"},"
	        "\"consistency\":\"crash-consistent-with-hooks\"}";
	astra__json *j = parse(vol);
	astra__appbackup_vol v;
	cr_assert_astra_ok(astra__appbackup_vol_decode(j, "nightly", 1, &v));
	cr_assert_str_eq(v.consistency, "crash-consistent-with-hooks");
	astra__appbackup_rec rec;
	memset(&rec, 0, sizeof(rec));
	rec.format = 1;
	rec.name = strdup("nightly");
	rec.app = strdup("shop");
	rec.created = strdup("2026-12-07T18:00:00Z");
	rec.snapshot = strdup("nightly-bk");
	rec.manifests = strdup("00112233445566778899aabbccddeeff");
	rec.volumes = calloc(1, sizeof(*rec.volumes));
	rec.volumes[0] = v;
	rec.nvolumes = 1;
	astra__json *out = NULL;
	cr_assert_astra_ok(astra__appbackup_encode(&rec, &out));
	char *s = print(astra__json_at(astra__json_get(out, "volumes"), 0));
	cr_assert_str_eq(s, vol);
	free(s);
	astra__json_free(out);
	astra__appbackup_rec_free(&rec);
	astra__json_set(j, "consistency", parse("1"));
	cr_assert_astra_fail(astra__appbackup_vol_decode(j, "nightly", 1, &v),
	        ASTRA_ECORRUPT);
	cr_assert_str_eq(astra_error_last()->message,
	        "backup nightly: field volumes[1].consistency is not a string");
	astra__json_free(j);
}
