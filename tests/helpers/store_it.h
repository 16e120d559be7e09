/*
 * Helpers shared by the object-store integration suites (s3_it, az_it,
 * gcs_it): the run's scratch directory and id, the environment run.sh
 * provides, store and vault shorthands, source trees, and the control of
 * the fault-injecting proxy (tests/integration/s3/faultproxy.py).
 *
 * Define STORE_IT_SUITE ("s3", "azure", "gcs": the directory of the
 * suite's run.sh) before including this file.
 */
#ifndef ASTRA_STORE_IT_H
#define ASTRA_STORE_IT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fstree.h"
#include "store/store.h"

#ifndef STORE_IT_SUITE
#error "define STORE_IT_SUITE before including store_it.h"
#endif

#define STORE_IT_UNUSED __attribute__((unused))

static char *work; /* this test's scratch directory */
static char run_id[17]; /* random: names this run's objects */

/* A variable run.sh sets; fails the test when it is missing. */
static STORE_IT_UNUSED const char *env(const char *n)
{
	const char *v = getenv(n);
	cr_assert(v && *v,
	        "%s is not set (run tests/integration/" STORE_IT_SUITE
	        "/run.sh)",
	        n);
	return v;
}

/* For a suite's .init: a scratch directory named after tag, a new id. */
static STORE_IT_UNUSED void store_it_setup(const char *tag)
{
	work = fst_tmpdir(tag);
	uint8_t r[8];
	astra__random(r, sizeof(r));
	for (int i = 0; i < 8; i++)
		snprintf(run_id + 2 * i, 3, "%02x", r[i]);
}

/* For a suite's .fini. */
static STORE_IT_UNUSED void store_it_teardown(void)
{
	fst_rmrf(work);
	free(work);
	work = NULL;
}

static STORE_IT_UNUSED char *path_in(const char *name)
{
	char *p = malloc(4400);
	snprintf(p, 4400, "%s/%s", work, name);
	return p;
}

/* ---- stores ---- */

static STORE_IT_UNUSED astra__store *open_store(const char *url)
{
	astra__store *s = NULL;
	cr_assert_astra_ok(astra__store_open(&s, url, NULL));
	return s;
}

static STORE_IT_UNUSED int collect_key(
        const astra__obj_info *info, void *payload)
{
	return astra__json_push(
	        (astra__json *)payload, astra__json_new_string(info->key));
}

/* Every key under prefix, as a JSON array. */
static STORE_IT_UNUSED astra__json *all_keys(
        astra__store *s, const char *prefix)
{
	astra__json *a = astra__json_new_array();
	cr_assert_geq(astra__store_list(s, prefix, collect_key, a), 0);
	return a;
}

/* ---- vaults ---- */

/* Small chunks and packs, a fast KDF; days and mode of object locks. */
static STORE_IT_UNUSED astra_vault_options vopts(unsigned days, unsigned mode)
{
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "correct horse";
	o.kdf_log2n = 10;
	o.chunk_min = 16 << 10;
	o.chunk_avg = 64 << 10;
	o.chunk_max = 256 << 10;
	o.pack_size = 1 << 20;
	o.threads = 4;
	o.immutable_days = days;
	o.lock_mode = mode;
	return o;
}

static STORE_IT_UNUSED astra_vault *vinit(
        const char *url, unsigned days, unsigned mode)
{
	astra_vault *v = NULL;
	astra_vault_options o = vopts(days, mode);
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	return v;
}

static STORE_IT_UNUSED astra_vault *vopen(const char *url)
{
	astra_vault *v = NULL;
	astra_vault_options o = vopts(0, 0);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	return v;
}

static STORE_IT_UNUSED void vbackup(astra_vault *v, const char *src,
        unsigned flags, astra_data_backup_result *res)
{
	astra_data_backup_options o;
	astra_data_backup_options_init(&o, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	o.flags = flags;
	memset(res, 0, sizeof(*res));
	res->version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, src, &o, res));
}

/* Restores backup id into a new directory and compares it with src. */
static STORE_IT_UNUSED void vrestore_equal(
        astra_vault *v, const char *id, const char *src)
{
	static int n;
	char dst[4500];
	snprintf(dst, sizeof(dst), "%s/restore-%d", work, n++);
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, id, dst, NULL, NULL, NULL));
	cr_assert_eq(fst_compare(src, dst), 0, "restore of %s differs", id);
}

/* A check that reads every pack. */
static STORE_IT_UNUSED int vcheck(astra_vault *v)
{
	astra_check_options o;
	astra_check_options_init(&o, ASTRA_CHECK_OPTIONS_VERSION);
	o.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_check(v, &o, &b);
	astra_buf_dispose(&b);
	return rc;
}

static STORE_IT_UNUSED size_t nsnapshots(astra_vault *v)
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

/* A directory of `files` random files of `size` bytes. */
static STORE_IT_UNUSED char *make_src(
        const char *name, int files, size_t size, int seed)
{
	char *src = path_in(name);
	mkdir(src, 0755);
	for (int i = 0; i < files; i++) {
		char f[4500];
		snprintf(f, sizeof(f), "%s/f%d.bin", src, i);
		fst_write_random(f, size, (uint64_t)(seed * 100 + i));
	}
	return src;
}

/* Replication through the suite's store: a file vault is replicated to
 * `here`, which opens with the vault's password, checks clean, restores and
 * replicates on to a second file vault that restores too. */
static STORE_IT_UNUSED void replicates_here_and_back(const char *here)
{
	char furl[4500], back[4500];
	snprintf(furl, sizeof(furl), "file://%s/rlocal", work);
	snprintf(back, sizeof(back), "file://%s/rback", work);
	char *src = make_src("rsrc", 4, 900 << 10, 3);
	astra_vault *v = vinit(furl, 0, 0);
	astra_data_backup_result r;
	vbackup(v, src, 0, &r);
	astra_replicate_options o;
	astra_replicate_options_init(&o, ASTRA_REPLICATE_OPTIONS_VERSION);
	astra_buf rep = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_replicate(v, here, &o, &rep));
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, rep.ptr, rep.size, "report"));
	cr_assert_eq(
	        astra__json_int(astra__json_get(j, "copied"), "snapshots", -1),
	        1, "%s", rep.ptr);
	astra__json_free(j);
	astra_buf_dispose(&rep);
	astra_vault_free(v);
	astra_vault *mid = vopen(here);
	cr_assert_eq(nsnapshots(mid), 1);
	cr_assert_eq(vcheck(mid), 0);
	vrestore_equal(mid, r.id, src);
	cr_assert_astra_ok(astra_vault_replicate(mid, back, &o, NULL));
	astra_vault_free(mid);
	astra_vault *b = vopen(back);
	vrestore_equal(b, r.id, src);
	astra_vault_free(b);
	free(src);
}

/* ---- the fault proxy ($ASTRA_IT_PROXY_CONTROL) ---- */

/* Replaces the proxy's fault settings (a JSON object). */
static STORE_IT_UNUSED void faults(const char *json)
{
	const char *path = env("ASTRA_IT_PROXY_CONTROL");
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fst_write(tmp, json, strlen(json));
	cr_assert_eq(rename(tmp, path), 0);
	usleep(20000);
}

/* How many faults of a kind the proxy injected so far. */
static STORE_IT_UNUSED int64_t fault_stat(const char *name)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s.stats", env("ASTRA_IT_PROXY_CONTROL"));
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	char buf[4096] = { 0 };
	fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	astra__json *j = NULL;
	if (astra__json_parse(&j, buf, strlen(buf), "stats"))
		return 0;
	int64_t v = astra__json_int(j, name, 0);
	astra__json_free(j);
	return v;
}

static STORE_IT_UNUSED int64_t all_faults(void)
{
	return fault_stat("slowdown") + fault_stat("reset") +
	       fault_stat("reset_mid") + fault_stat("internal") +
	       fault_stat("stall");
}

#endif
