/*
 * Rekey (astra_vault_change_password with ASTRA_VAULT_F_REKEY): a new key
 * epoch that an old password with a saved old key slot cannot read, and
 * a rekey stopped after each of its steps (docs/format.md, "Key epochs").
 * File vaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "vault_test.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/repo.h"
#include "store/store.h"

static char *work;

static void setup(void)
{
	work = fst_tmpdir("rekey");
}

static void teardown(void)
{
	astra__rekey_fail_after = 0;
	fst_rmrf(work);
	free(work);
}

TestSuite(repo_rekey, .init = setup, .fini = teardown, .timeout = 240);

static char *path_in(const char *name)
{
	char *p = malloc(4400);
	snprintf(p, 4400, "%s/%s", work, name);
	return p;
}

static char *url_of(const char *name)
{
	char *u = malloc(4400);
	snprintf(u, 4400, "file://%s/%s", work, name);
	return u;
}

static astra_vault_options opts(const char *pw)
{
	return test_vault_options(pw, 2);
}

static astra_vault_options rekey_opts(const char *pw)
{
	astra_vault_options o = opts(pw);
	o.flags |= ASTRA_VAULT_F_REKEY;
	return o;
}

static astra_vault *open_with(const char *url, const char *pw)
{
	astra_vault *v = NULL;
	astra_vault_options o = opts(pw);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	return v;
}

static void backup(astra_vault *v, const char *src, char id[33])
{
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, src, NULL, &res));
	memcpy(id, res.id, 33);
}

static int restore(astra_vault *v, const char *id, const char *dst)
{
	astra_data_restore_result rr;
	memset(&rr, 0, sizeof(rr));
	rr.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	return astra_vault_restore_path(v, id, dst, NULL, &rr, NULL);
}

static void restores_exactly(
        astra_vault *v, const char *id, const char *src, const char *tag)
{
	char *dst = path_in(tag);
	cr_assert_astra_ok(restore(v, id, dst));
	cr_assert_eq(fst_compare(src, dst), 0, "%s differs", tag);
	fst_rmrf(dst);
	free(dst);
}

static void check_read_data_ok(astra_vault *v)
{
	astra_check_options o;
	astra_check_options_init(&o, ASTRA_CHECK_OPTIONS_VERSION);
	o.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_check(v, &o, &b));
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "report"));
	cr_assert(astra__json_bool(j, "ok", 0), "%s", b.ptr);
	astra__json_free(j);
	astra_buf_dispose(&b);
}

typedef struct {
	char keys[64][128];
	size_t n;
} key_set;

static int list_cb(const astra__obj_info *info, void *payload)
{
	key_set *s = payload;
	if (s->n < 64)
		snprintf(s->keys[s->n++], 128, "%s", info->key);
	return 0;
}

static key_set list(const char *url, const char *prefix)
{
	astra__store *st = NULL;
	key_set s;
	memset(&s, 0, sizeof(s));
	cr_assert_astra_ok(astra__store_open(&st, url, NULL));
	cr_assert_geq(astra__store_list(st, prefix, list_cb, &s), 0);
	astra__store_free(st);
	return s;
}

static int has(const key_set *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->keys[i], key))
			return 1;
	return 0;
}

static astra__repo *repo_with(const char *url, const char *pw)
{
	astra__repo_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.password = pw;
	ro.password_len = strlen(pw);
	astra__repo *r = NULL;
	cr_assert_astra_ok(astra__repo_open(&r, url, &ro));
	return r;
}

/* 0 when the sealed header of pack `key` authenticates under r's keys. */
static int open_pack_header(astra__repo *r, const char *key)
{
	astra_buf pk = ASTRA_BUF_INIT, plain = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(r->store, key, 0, 0, &pk));
	cr_assert_gt(pk.size, 12);
	uint32_t hl;
	memcpy(&hl, pk.ptr + pk.size - 4, 4);
	cr_assert_leq((size_t)hl + 12, pk.size);
	char aad[100];
	snprintf(aad, sizeof(aad), "pack %s", strrchr(key, '/') + 1);
	int rc = astra__repo_open_sealed(
	        r, aad, pk.ptr + pk.size - 4 - hl, hl, &plain, key);
	astra_buf_dispose(&pk);
	astra_buf_dispose(&plain);
	return rc;
}

Test(repo_rekey, old_password_with_saved_old_slot_reads_nothing_new)
{
	char *src1 = path_in("src1"), *src2 = path_in("src2");
	char *url = url_of("vault");
	mkdir(src1, 0755);
	mkdir(src2, 0755);
	fst_make_rich_tree(src1);
	char *f = path_in("src2/new.bin");
	fst_write_random(f, 3 << 20, 7);
	free(f);

	astra_vault *v = NULL;
	astra_vault_options o = opts("correct horse");
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	char id1[33], id2[33];
	backup(v, src1, id1);
	/* the attacker's copy of the old key slot */
	key_set slots = list(url, "keys/");
	cr_assert_eq(slots.n, 1);
	astra__store *st = NULL;
	cr_assert_astra_ok(astra__store_open(&st, url, NULL));
	astra_buf old_slot = ASTRA_BUF_INIT;
	cr_assert_astra_ok(
	        astra__store_get(st, slots.keys[0], 0, 0, &old_slot));
	key_set packs_before = list(url, "data/");

	astra_vault_options n = rekey_opts("new secret");
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	backup(v, src2, id2); /* written after the rekey */
	astra_vault_free(v);
	key_set packs_after = list(url, "data/");
	cr_assert_gt(packs_after.n, packs_before.n);

	/* the old slot is gone: the old password opens nothing */
	cr_assert_eq(list(url, "keys/").n, 1);
	o = opts("correct horse");
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EAUTH);

	/* forged back: the old password opens the vault again ... */
	cr_assert_astra_ok(astra__store_put(
	        st, slots.keys[0], old_slot.ptr, old_slot.size, NULL));
	v = open_with(url, "correct horse");
	/* ... but reads neither the new backup nor the rewritten records */
	char *dst = path_in("dst-old");
	cr_assert_astra_fail(restore(v, id2, dst), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "rekey"), "%s",
	        astra_error_last()->message);
	cr_assert_astra_fail(restore(v, id1, dst), ASTRA_ECORRUPT);
	astra_vault_free(v);
	free(dst);
	/* nor a pack written after the rekey, while the new secret does; the
	 * packs written before stay under the first epoch's key */
	astra__repo *ro = repo_with(url, "correct horse");
	astra__repo *rn = repo_with(url, "new secret");
	size_t fresh = 0;
	for (size_t i = 0; i < packs_after.n; i++) {
		const char *k = packs_after.keys[i];
		if (has(&packs_before, k)) {
			cr_assert_astra_ok(open_pack_header(ro, k));
			continue;
		}
		fresh++;
		cr_assert_astra_fail(open_pack_header(ro, k), ASTRA_ECORRUPT);
		cr_assert_astra_ok(open_pack_header(rn, k));
	}
	cr_assert_gt(fresh, 0);
	astra__repo_free(ro);
	astra__repo_free(rn);

	/* the new secret reads both backups and every blob */
	v = open_with(url, "new secret");
	restores_exactly(v, id1, src1, "dst1");
	restores_exactly(v, id2, src2, "dst2");
	check_read_data_ok(v);
	astra_vault_free(v);

	astra_buf_dispose(&old_slot);
	astra__store_free(st);
	free(src1);
	free(src2);
	free(url);
}

Test(repo_rekey, rekey_keeps_ids_so_backups_deduplicate_across_epochs)
{
	char *src = path_in("src"), *url = url_of("vault");
	mkdir(src, 0755);
	char *f = path_in("src/data.bin");
	fst_write_random(f, 2 << 20, 11);
	free(f);
	astra_vault *v = NULL;
	astra_vault_options o = opts("one");
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	char id1[33], id2[33];
	backup(v, src, id1);
	astra_vault_options n = rekey_opts("two");
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	astra_vault_free(v);
	v = open_with(url, "two");
	n = rekey_opts("three");
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	astra_vault_free(v);
	cr_assert_eq(list(url, "epochs/").n, 1);
	cr_assert_eq(list(url, "keys/").n, 1);

	v = open_with(url, "three");
	astra_buf info = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_info(v, &info));
	cr_assert(strstr(info.ptr, "\"key_epoch\":\t2") ||
	                  strstr(info.ptr, "\"key_epoch\": 2"),
	        "%s", info.ptr);
	astra_buf_dispose(&info);
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	bo.flags = ASTRA_DATA_BACKUP_F_NO_PARENT;
	cr_assert_astra_ok(astra_vault_backup_path(v, src, &bo, &res));
	memcpy(id2, res.id, 33);
	cr_assert_eq(res.bytes_new, 0,
	        "the same data after two rekeys "
	        "must deduplicate (%llu new bytes)",
	        (unsigned long long)res.bytes_new);
	restores_exactly(v, id1, src, "dst1");
	restores_exactly(v, id2, src, "dst2");
	check_read_data_ok(v);
	astra_vault_free(v);
	free(src);
	free(url);
}

/*
 * A rekey stopped after each step: the vault opens and restores with the
 * secret the format doc names for that point, and a second rekey finishes
 * it (one key slot, one epoch object left).
 */
Test(repo_rekey, rekey_stopped_after_each_step_leaves_a_readable_vault)
{
	char *src = path_in("src");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	for (int step = 1; step <= 5; step++) {
		char name[32];
		snprintf(name, sizeof(name), "vault%d", step);
		char *url = url_of(name);
		astra_vault *v = NULL;
		astra_vault_options o = opts("old pw");
		cr_assert_astra_ok(astra_vault_init(&v, url, &o));
		char id[33];
		backup(v, src, id);
		astra__rekey_fail_after = step;
		astra_vault_options n = rekey_opts("new pw");
		cr_assert_astra_fail(
		        astra_vault_change_password(v, &n), ASTRA_EIO);
		astra__rekey_fail_after = 0;
		/* the handle still writes what a slot opens */
		char id2[33];
		backup(v, src, id2);
		astra_vault_free(v);

		const char *works = step == 1 ? "old pw" : "new pw";
		v = open_with(url, works);
		restores_exactly(v, id, src, "dst");
		restores_exactly(v, id2, src, "dst");
		check_read_data_ok(v);
		astra_vault_free(v);
		if (step == 1) {
			o = opts("new pw");
			cr_assert_astra_fail(
			        astra_vault_open(&v, url, &o), ASTRA_EAUTH);
		} else if (step < 5) {
			/* the old slot still opens the vault */
			astra_vault_free(open_with(url, "old pw"));
		} else {
			o = opts("old pw");
			cr_assert_astra_fail(
			        astra_vault_open(&v, url, &o), ASTRA_EAUTH);
		}

		/* run again with the secret that works: it finishes */
		v = open_with(url, works);
		n = rekey_opts("final pw");
		cr_assert_astra_ok(astra_vault_change_password(v, &n));
		astra_vault_free(v);
		cr_assert_eq(list(url, "keys/").n, 1, "step %d", step);
		cr_assert_eq(list(url, "epochs/").n, 1, "step %d", step);
		v = open_with(url, "final pw");
		restores_exactly(v, id, src, "dst");
		check_read_data_ok(v);
		astra_vault_free(v);
		o = opts("old pw");
		cr_assert_astra_fail(
		        astra_vault_open(&v, url, &o), ASTRA_EAUTH);
		free(url);
	}
	free(src);
}

Test(repo_rekey, missing_epoch_object_is_a_clear_error)
{
	char *url = url_of("vault");
	astra_vault *v = NULL;
	astra_vault_options o = opts("a");
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	astra_vault_options n = rekey_opts("b");
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	astra_vault_free(v);
	key_set e = list(url, "epochs/");
	cr_assert_eq(e.n, 1);
	astra__store *st = NULL;
	cr_assert_astra_ok(astra__store_open(&st, url, NULL));
	/* one too large to be an epoch object is refused unread */
	static char big[300000];
	memset(big, 'x', sizeof(big));
	cr_assert_astra_ok(
	        astra__store_put(st, e.keys[0], big, sizeof(big), NULL));
	o = opts("b");
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "300000 bytes"), "%s",
	        astra_error_last()->message);
	cr_assert_astra_ok(astra__store_del(st, e.keys[0]));
	astra__store_free(st);
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, e.keys[0]), "%s",
	        astra_error_last()->message);
	cr_assert(!strstr(astra_error_last()->message, "\"b\""));
	free(url);
}

Test(repo_rekey, damaged_record_is_left_as_it_is)
{
	char *src = path_in("src"), *url = url_of("vault");
	mkdir(src, 0755);
	fst_make_rich_tree(src);
	astra_vault *v = NULL;
	astra_vault_options o = opts("a");
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	char id[33];
	backup(v, src, id);
	astra__store *st = NULL;
	cr_assert_astra_ok(astra__store_open(&st, url, NULL));
	const char *bad = "snapshots/00000000000000000000000000000000";
	char junk[64];
	memset(junk, 'x', sizeof(junk));
	cr_assert_astra_ok(astra__store_put(st, bad, junk, sizeof(junk), NULL));
	astra_vault_options n = rekey_opts("b");
	cr_assert_astra_ok(astra_vault_change_password(v, &n));
	astra_vault_free(v);
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(st, bad, 0, 0, &b));
	cr_assert_eq(b.size, sizeof(junk));
	cr_assert_eq(memcmp(b.ptr, junk, sizeof(junk)), 0);
	astra_buf_dispose(&b);
	astra__store_free(st);
	v = open_with(url, "b");
	restores_exactly(v, id, src, "dst");
	astra_vault_free(v);
	free(src);
	free(url);
}

/* gc between the steps of a stopped rekey: with the old secret it stops
 * at the first record rewritten under the new key and deletes nothing;
 * with the new one it collects and the kept backup still restores. */
Test(repo_rekey, gc_during_a_stopped_rekey_deletes_nothing_with_the_old_key)
{
	char *src = path_in("src"), *junk = path_in("junk");
	char *url = url_of("vault");
	mkdir(src, 0755);
	mkdir(junk, 0755);
	fst_make_rich_tree(src);
	char *f = path_in("junk/big.bin");
	fst_write_random(f, 3 << 20, 99);
	free(f);
	astra_vault *v = NULL;
	astra_vault_options o = opts("old pw");
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	char keep[33], gone[33];
	backup(v, src, keep);
	backup(v, junk, gone);
	cr_assert_astra_ok(astra_vault_forget(v, gone));
	astra__rekey_fail_after = 3;
	astra_vault_options n = rekey_opts("new pw");
	cr_assert_astra_fail(astra_vault_change_password(v, &n), ASTRA_EIO);
	astra__rekey_fail_after = 0;
	astra_vault_free(v);
	key_set before = list(url, "data/");
	key_set ix_before = list(url, "index/");

	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	v = open_with(url, "old pw");
	astra_buf rep = ASTRA_BUF_INIT;
	for (int i = 0; i < 2; i++) {
		cr_assert_astra_fail(
		        astra_vault_gc(v, &g, &rep), ASTRA_ECORRUPT);
		astra_buf_dispose(&rep);
	}
	astra_vault_free(v);
	key_set after = list(url, "data/");
	key_set ix_after = list(url, "index/");
	cr_assert_eq(after.n, before.n);
	cr_assert_eq(ix_after.n, ix_before.n);
	for (size_t i = 0; i < before.n; i++)
		cr_assert(has(&after, before.keys[i]), "%s deleted",
		        before.keys[i]);

	v = open_with(url, "new pw");
	for (int i = 0; i < 2; i++) {
		cr_assert_astra_ok(astra_vault_gc(v, &g, &rep));
		astra_buf_dispose(&rep);
	}
	cr_assert_lt(list(url, "data/").n, before.n, "gc collected nothing");
	restores_exactly(v, keep, src, "dst");
	check_read_data_ok(v);
	astra_vault_free(v);
	free(src);
	free(junk);
	free(url);
}
