/*
 * Replication (astra_vault_replicate): a replica opens with the vault's
 * password, holds every snapshot and restores it, is checked clean; a second
 * run copies nothing; a run stopped half-way leaves a replica whose every
 * snapshot restores and that the next run completes; a forget + gc on the
 * vault deletes nothing in the replica; a password change removes the old
 * key slot from the replica; another vault is refused. file:// stores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "fmt/json.h"
#include "fstree.h"
#include "vault_test.h"

static char *work, *src_url, *dst_url, *data_dir;

static void setup(void)
{
	work = fst_tmpdir("replicate");
	src_url = malloc(4300);
	dst_url = malloc(4300);
	data_dir = malloc(4300);
	snprintf(src_url, 4300, "file://%s/vault", work);
	snprintf(dst_url, 4300, "file://%s/replica", work);
	snprintf(data_dir, 4300, "%s/data", work);
	cr_assert_eq(mkdir(data_dir, 0755), 0);
	fst_make_rich_tree(data_dir);
}

static void teardown(void)
{
	fst_rmrf(work);
	free(work);
	free(src_url);
	free(dst_url);
	free(data_dir);
}

TestSuite(repo_replicate, .init = setup, .fini = teardown, .timeout = 120);

static astra_vault *open_vault(const char *url, const char *pw, int create)
{
	astra_vault *v = NULL;
	astra_vault_options o = test_vault_options(pw, 2);
	if (create)
		cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	else
		cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	return v;
}

static void backup(astra_vault *v, const char *path, char id[33])
{
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, path, NULL, &res));
	memcpy(id, res.id, 33);
}

static astra__json *replicate(astra_vault *v, unsigned flags,
        astra_progress_cb cb, void *payload, int want_rc)
{
	astra_replicate_options o;
	cr_assert_astra_ok(astra_replicate_options_init(
	        &o, ASTRA_REPLICATE_OPTIONS_VERSION));
	o.flags = flags;
	o.progress_cb = cb;
	o.payload = payload;
	o.parallel = 3;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_replicate(v, dst_url, &o, &b);
	cr_assert_eq(rc, want_rc, "replicate: %d (%s), want %d", rc,
	        astra_error_last()->message, want_rc);
	astra__json *j = NULL;
	if (b.ptr)
		cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "r"));
	astra_buf_dispose(&b);
	return j;
}

static int64_t copied(const astra__json *rep, const char *what)
{
	return astra__json_int(astra__json_get(rep, "copied"), what, -1);
}

/* The snapshot restores from v into a fresh directory equal to `want`. */
static void restores(astra_vault *v, const char *id, const char *want)
{
	char *out = malloc(4400);
	static int n;
	snprintf(out, 4400, "%s/out-%d", work, n++);
	astra_data_restore_options ro;
	astra_data_restore_options_init(
	        &ro, ASTRA_DATA_RESTORE_OPTIONS_VERSION);
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, id, out, &ro, NULL, NULL));
	cr_assert_eq(fst_compare(want, out), 0, "restored %s differs", id);
	fst_rmrf(out);
	free(out);
}

static void check_clean(astra_vault *v)
{
	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	co.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_check(v, &co, &b);
	cr_assert_eq(rc, 0, "check of the replica: %s", b.ptr ? b.ptr : "");
	astra_buf_dispose(&b);
}

static size_t count_snapshots(astra_vault *v)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_snapshots(v, &b));
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, b.ptr, b.size, "s"));
	size_t n = astra__json_size(j);
	astra__json_free(j);
	astra_buf_dispose(&b);
	return n;
}

Test(repo_replicate,
        a_replica_opens_restores_and_checks_clean_and_is_incremental)
{
	astra_vault *v = open_vault(src_url, "pw", 1);
	char id1[33], id2[33];
	backup(v, data_dir, id1);
	astra__json *rep = replicate(v, 0, NULL, NULL, 0);
	cr_assert_eq(copied(rep, "config"), 1);
	cr_assert_eq(copied(rep, "key_slots"), 1);
	cr_assert_gt(copied(rep, "packs"), 1);
	cr_assert_gt(copied(rep, "index_files"), 0);
	cr_assert_eq(copied(rep, "snapshots"), 1);
	astra__json_free(rep);

	/* nothing new: nothing copied */
	rep = replicate(v, 0, NULL, NULL, 0);
	cr_assert_eq(copied(rep, "packs"), 0);
	cr_assert_eq(copied(rep, "snapshots"), 0);
	cr_assert_gt(astra__json_int(rep, "present", 0), 3);
	astra__json_free(rep);

	/* a second backup: only its objects */
	char more[4400];
	snprintf(more, sizeof(more), "%s/more.bin", data_dir);
	fst_write_random(more, 3 << 20, 7);
	backup(v, data_dir, id2);
	rep = replicate(v, ASTRA_REPLICATE_F_DRY_RUN, NULL, NULL, 0);
	cr_assert(astra__json_get(rep, "would_copy"));
	int64_t would = astra__json_int(
	        astra__json_get(rep, "would_copy"), "snapshots", -1);
	cr_assert_eq(would, 1);
	astra__json_free(rep);
	rep = replicate(v, 0, NULL, NULL, 0);
	cr_assert_eq(copied(rep, "snapshots"), 1);
	cr_assert_eq(copied(rep, "key_slots"), 0);
	cr_assert_gt(copied(rep, "packs"), 0);
	astra__json_free(rep);

	astra_vault *r = open_vault(dst_url, "pw", 0);
	cr_assert_eq(count_snapshots(r), 2);
	restores(r, id2, data_dir);
	check_clean(r);
	astra_vault_free(r);
	astra_vault_free(v);
}

static int stop_after(const astra_progress *p, void *payload)
{
	return p->items_done >= *(uint64_t *)payload ? 1 : 0;
}

Test(repo_replicate, a_run_stopped_half_way_leaves_a_consistent_replica)
{
	astra_vault *v = open_vault(src_url, "pw", 1);
	char id1[33], id2[33];
	backup(v, data_dir, id1);
	astra__json_free(replicate(v, 0, NULL, NULL, 0));
	char more[4400], more_file[4500];
	snprintf(more, sizeof(more), "%s/more", work);
	snprintf(more_file, sizeof(more_file), "%s/more.bin", more);
	cr_assert_eq(mkdir(more, 0755), 0);
	fst_make_rich_tree(more);
	fst_write_random(more_file, 4 << 20, 9);
	backup(v, more, id2);
	/* stopped once the new packs are copied: the replica holds them but
	 * neither their index files nor the new record */
	uint64_t after = 2;
	astra__json *rep =
	        replicate(v, 0, stop_after, &after, ASTRA_ECANCELLED);
	cr_assert_gt(copied(rep, "packs"), 1);
	cr_assert_eq(copied(rep, "index_files"), 0);
	cr_assert_eq(copied(rep, "snapshots"), 0);
	astra__json_free(rep);
	astra_vault *r = open_vault(dst_url, "pw", 0);
	cr_assert_eq(count_snapshots(r), 1);
	restores(r, id1, data_dir);
	check_clean(r);
	astra_vault_free(r);
	rep = replicate(v, 0, NULL, NULL, 0);
	cr_assert_eq(copied(rep, "snapshots"), 1);
	astra__json_free(rep);
	r = open_vault(dst_url, "pw", 0);
	cr_assert_eq(count_snapshots(r), 2);
	restores(r, id2, more);
	check_clean(r);
	astra_vault_free(r);
	astra_vault_free(v);
}

Test(repo_replicate, deletions_on_the_vault_never_reach_the_replica)
{
	astra_vault *v = open_vault(src_url, "pw", 1);
	char id[33];
	backup(v, data_dir, id);
	astra__json_free(replicate(v, 0, NULL, NULL, 0));
	cr_assert_astra_ok(astra_vault_forget(v, id));
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	cr_assert_astra_ok(astra_vault_gc(v, &g, NULL));
	cr_assert_eq(count_snapshots(v), 0);
	astra__json_free(replicate(v, 0, NULL, NULL, 0));
	astra_vault *r = open_vault(dst_url, "pw", 0);
	cr_assert_eq(count_snapshots(r), 1);
	restores(r, id, data_dir);
	astra_vault_free(r);
	astra_vault_free(v);
}

Test(repo_replicate, an_old_password_no_longer_opens_the_replica)
{
	astra_vault *v = open_vault(src_url, "old", 1);
	char id[33];
	backup(v, data_dir, id);
	astra__json_free(replicate(v, 0, NULL, NULL, 0));
	astra_vault_options np = test_vault_options("new", 2);
	cr_assert_astra_ok(astra_vault_change_password(v, &np));
	astra__json *rep = replicate(v, 0, NULL, NULL, 0);
	cr_assert_eq(copied(rep, "key_slots"), 1);
	cr_assert_eq(astra__json_int(rep, "key_slots_removed", -1), 1);
	astra__json_free(rep);
	astra_vault *r = NULL;
	astra_vault_options o = test_vault_options("old", 2);
	cr_assert_eq(astra_vault_open(&r, dst_url, &o), ASTRA_EAUTH);
	r = open_vault(dst_url, "new", 0);
	restores(r, id, data_dir);
	astra_vault_free(r);
	astra_vault_free(v);
}

Test(repo_replicate, another_vault_or_the_vault_itself_is_refused)
{
	astra_vault *v = open_vault(src_url, "pw", 1);
	astra_vault *other = open_vault(dst_url, "pw", 1);
	astra_vault_free(other);
	astra__json_free(replicate(v, 0, NULL, NULL, ASTRA_EEXISTS));
	cr_assert(strstr(astra_error_last()->message, "holds another vault"),
	        "%s", astra_error_last()->message);
	astra_replicate_options o;
	astra_replicate_options_init(&o, ASTRA_REPLICATE_OPTIONS_VERSION);
	cr_assert_eq(
	        astra_vault_replicate(v, src_url, &o, NULL), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "the vault itself"));
	o.flags = 0x80;
	cr_assert_eq(
	        astra_vault_replicate(v, dst_url, &o, NULL), ASTRA_EINVALID);
	astra_vault_free(v);
}

Test(repo_replicate, a_rekeyed_vault_replicates_its_key_epochs)
{
	astra_vault *v = open_vault(src_url, "old", 1);
	char id1[33], id2[33];
	backup(v, data_dir, id1);
	astra__json_free(replicate(v, 0, NULL, NULL, 0));
	astra_vault_options np = test_vault_options("new", 2);
	np.flags |= ASTRA_VAULT_F_REKEY;
	cr_assert_astra_ok(astra_vault_change_password(v, &np));
	char more[4400];
	snprintf(more, sizeof(more), "%s/after", work);
	cr_assert_eq(mkdir(more, 0755), 0);
	fst_make_rich_tree(more);
	backup(v, more, id2);
	astra__json *rep = replicate(v, 0, NULL, NULL, 0);
	cr_assert_eq(copied(rep, "key_epochs"), 1);
	cr_assert_eq(astra__json_int(rep, "key_slots_removed", -1), 1);
	astra__json_free(rep);
	astra_vault *r = NULL;
	astra_vault_options o = test_vault_options("old", 2);
	cr_assert_eq(astra_vault_open(&r, dst_url, &o), ASTRA_EAUTH);
	r = open_vault(dst_url, "new", 0);
	restores(r, id1, data_dir);
	restores(r, id2, more);
	check_clean(r);
	astra_vault_free(r);
	astra_vault_free(v);
}

/* Flips the last byte of the file at path. */
static void flip_last(const char *path)
{
	FILE *f = fopen(path, "r+b");
	cr_assert(f, "%s", path);
	cr_assert_eq(fseek(f, -1, SEEK_END), 0);
	int c = fgetc(f);
	cr_assert_eq(fseek(f, -1, SEEK_END), 0);
	fputc(c ^ 0x5a, f);
	fclose(f);
}

Test(repo_replicate, damaged_objects_of_the_vault_are_reported_not_copied)
{
	astra_vault *v = open_vault(src_url, "pw", 1);
	char id1[33], id2[33];
	backup(v, data_dir, id1);
	char more[4400];
	snprintf(more, sizeof(more), "%s/second", work);
	cr_assert_eq(mkdir(more, 0755), 0);
	fst_make_rich_tree(more);
	backup(v, more, id2);
	/* damage id2's record and one pack (its sealed header's tag) */
	char rec[4500], cmd[9000], pack[4500];
	snprintf(rec, sizeof(rec), "%s/vault/snapshots/%s", work, id2);
	flip_last(rec);
	snprintf(cmd, sizeof(cmd),
	        "ls -S %s/vault/data/*/* | tail -1 | tr -d '\\n'", work);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t got = fread(pack, 1, sizeof(pack) - 1, p);
	pack[got] = 0;
	pclose(p);
	cr_assert(got > 0);
	/* the header ends 4 bytes before the end: flip a byte of its tag */
	FILE *f = fopen(pack, "r+b");
	cr_assert(f);
	cr_assert_eq(fseek(f, -5, SEEK_END), 0);
	int c = fgetc(f);
	cr_assert_eq(fseek(f, -5, SEEK_END), 0);
	fputc(c ^ 0x5a, f);
	fclose(f);
	astra__json *rep = replicate(v, 0, NULL, NULL, ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "damaged and were not "
	                                              "copied"),
	        "%s", astra_error_last()->message);
	const astra__json *d = astra__json_get(rep, "damaged");
	cr_assert_eq(
	        astra__json_size(d), 2, "damaged: %zu", astra__json_size(d));
	const char *pk = strstr(pack, "/data/") + 1;
	char rk[64];
	snprintf(rk, sizeof(rk), "snapshots/%s", id2);
	int saw_pack = 0, saw_rec = 0;
	for (size_t i = 0; i < astra__json_size(d); i++) {
		const char *o = astra__json_str(astra__json_at(d, i), "object");
		saw_pack |= !strcmp(o, pk);
		saw_rec |= !strcmp(o, rk);
	}
	cr_assert(saw_pack && saw_rec);
	cr_assert(strstr(astra__json_str(astra__json_at(d, 0), "error"),
	        "authentication failed"));
	astra__json_free(rep);
	char there[4600];
	snprintf(there, sizeof(there), "%s/replica/%s", work, pk);
	cr_assert_neq(access(there, F_OK), 0, "a damaged pack was copied");
	snprintf(there, sizeof(there), "%s/replica/%s", work, rk);
	cr_assert_neq(access(there, F_OK), 0, "a damaged record was copied");
	astra_vault *r = open_vault(dst_url, "pw", 0);
	cr_assert_eq(count_snapshots(r), 1);
	astra_vault_free(r);
	astra_vault_free(v);
}
