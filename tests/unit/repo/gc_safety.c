/*
 * gc and the writer-session protocol never delete recoverable data
 * (security review H3 and H4): damaged index files, unreadable sessions
 * and app-backup records stop gc; repair makes the blobs of a damaged
 * index file reachable again; sessions keep their start and a backup
 * whose session gc removed records nothing. file:// vaults, so that
 * objects can be damaged and aged directly.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "compress/compress.h"
#include "core/buf.h"
#include "core/clock.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/data.h"
#include "repo/repo.h"
#include "repo/vault_internal.h"
#include "store/store.h"
#include "vault_test.h"

static char *work, *vdir, *url;

static void setup(void)
{
	work = fst_tmpdir("gcsafety");
	vdir = malloc(4200);
	url = malloc(4300);
	snprintf(vdir, 4200, "%s/vault", work);
	snprintf(url, 4300, "file://%s", vdir);
}

static void teardown(void)
{
	fst_rmrf(work);
	free(work);
	free(vdir);
	free(url);
}

TestSuite(repo_gc_safety, .init = setup, .fini = teardown, .timeout = 120);

static astra_vault *new_vault(void)
{
	astra_vault *v = NULL;
	astra_vault_options o = test_vault_options("pw", 2);
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	return v;
}

static char *path_in(const char *name)
{
	char *p = malloc(4400);
	snprintf(p, 4400, "%s/%s", work, name);
	return p;
}

static void backup(astra_vault *v, const char *src, char id[33])
{
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, src, NULL, &res));
	memcpy(id, res.id, 33);
}

static int gc(astra_vault *v, astra__json **rep)
{
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_gc(v, &g, &b);
	if (rep) {
		*rep = NULL;
		if (b.ptr)
			astra__json_parse(rep, b.ptr, b.size, "gc report");
	}
	astra_buf_dispose(&b);
	return rc;
}

static int check(astra_vault *v)
{
	astra_check_options o;
	astra_check_options_init(&o, ASTRA_CHECK_OPTIONS_VERSION);
	o.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_check(v, &o, &b);
	astra_buf_dispose(&b);
	return rc;
}

/* Names of the objects under prefix ("index/", "data/"), as a JSON array
 * of keys. */
static int names_cb(const astra__obj_info *info, void *payload)
{
	return astra__json_push(payload, astra__json_new_string(info->key));
}

static astra__json *names(astra_vault *v, const char *prefix)
{
	astra__json *a = astra__json_new_array();
	cr_assert_geq(astra__store_list(v->r->store, prefix, names_cb, a), 0);
	return a;
}

static int has_name(const astra__json *a, const char *key)
{
	for (size_t i = 0; i < astra__json_size(a); i++)
		if (!strcmp(astra__json_string_value(astra__json_at(a, i)),
		            key))
			return 1;
	return 0;
}

/* Whether index file `key` lists any tree blob (decrypted here). */
static int lists_trees(astra_vault *v, const char *key)
{
	astra__repo *r = v->r;
	astra_buf sealed = ASTRA_BUF_INIT, z = ASTRA_BUF_INIT;
	astra_buf plain = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(r->store, key, 0, 0, &sealed));
	cr_assert_astra_ok(astra__repo_open_sealed(
	        r, key, sealed.ptr, sealed.size, &z, key));
	const uint8_t *p = (const uint8_t *)z.ptr;
	size_t raw = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
	             (size_t)p[3] << 24;
	cr_assert_astra_ok(astra__buf_grow(&plain, raw));
	cr_assert_astra_ok(
	        astra__zstd_decompress(plain.ptr, raw, z.ptr + 8, z.size - 8));
	astra__index ix;
	memset(&ix, 0, sizeof(ix));
	cr_assert_astra_ok(
	        astra__index_decode(&ix, (uint8_t *)plain.ptr, raw, key));
	int trees = 0;
	for (size_t i = 0; i < ix.cap; i++)
		if (ix.slots[i].used && ix.slots[i].type == ASTRA_BLOB_TREE)
			trees = 1;
	astra__index_free(&ix);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&z);
	astra_buf_dispose(&plain);
	return trees;
}

/* Flips one byte in the middle of the object file `key`. */
static void flip_byte(const char *key)
{
	char path[4500];
	snprintf(path, sizeof(path), "%s/%s", vdir, key);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "open %s", path);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	off_t mid = st.st_size / 2;
	unsigned char c;
	cr_assert_eq(pread(fd, &c, 1, mid), 1);
	c ^= 0x5a;
	cr_assert_eq(pwrite(fd, &c, 1, mid), 1);
	close(fd);
}

/* Writes `n` bytes of garbage as object `key` (a file in the vault). */
static void write_garbage(const char *key, size_t n)
{
	char path[4500];
	snprintf(path, sizeof(path), "%s/%s", vdir, key);
	unsigned char buf[512];
	fst_fill(buf, sizeof(buf), 7);
	fst_write(path, buf, n < sizeof(buf) ? n : sizeof(buf));
}

static void set_mtime(const char *key, time_t t)
{
	char path[4500];
	snprintf(path, sizeof(path), "%s/%s", vdir, key);
	struct timeval tv[2] = { { t, 0 }, { t, 0 } };
	cr_assert_eq(utimes(path, tv), 0);
}

static void restore_equals(
        astra_vault *v, const char *id, const char *src, const char *name)
{
	char *dst = path_in(name);
	astra_data_restore_result rr;
	memset(&rr, 0, sizeof(rr));
	rr.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, id, dst, NULL, &rr, NULL));
	cr_assert_eq(fst_compare(src, dst), 0, "restore of %s differs", id);
	free(dst);
}

/*
 * The review's reproduction (H3): a backup of more than 8 packs of new
 * data writes an intermediate index file that lists only data packs.
 * Damaging it made gc condemn and then delete those packs. Now gc stops,
 * naming the file, deletes nothing; repair indexes the packs again, and
 * the snapshot restores and checks; later gc runs proceed and drop the
 * damaged file when they merge the index.
 */
Test(repo_gc_safety, damaged_intermediate_index_stops_gc_and_repair_recovers)
{
	char *a = path_in("a"), *b = path_in("b");
	mkdir(a, 0755);
	mkdir(b, 0755);
	for (int i = 0; i < 6; i++) {
		char n[64];
		snprintf(n, sizeof(n), "a/f%d", i);
		char *f = path_in(n);
		fst_write_random(f, 2 << 20, (uint64_t)i + 1); /* 12 MiB */
		free(f);
	}
	char *fb = path_in("b/small");
	fst_write_random(fb, 100 << 10, 99);
	astra_vault *v = new_vault();
	astra__json *before = names(v, "index/");
	char ida[33], idb[33];
	backup(v, a, ida);
	backup(v, b, idb);
	/* A's index files that list no tree blob: the intermediate ones */
	astra__json *after = names(v, "index/");
	char damaged[128] = "";
	for (size_t i = 0; i < astra__json_size(after); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(after, i));
		if (!has_name(before, k) && !lists_trees(v, k)) {
			snprintf(damaged, sizeof(damaged), "%s", k);
			break;
		}
	}
	cr_assert(damaged[0], "backup A wrote no data-only index file");
	astra__json *packs0 = names(v, "data/");
	flip_byte(damaged);

	/* gc twice, grace 0: stops, names the file, deletes nothing */
	for (int run = 0; run < 2; run++) {
		astra__json *rep = NULL;
		int rc = gc(v, &rep);
		cr_assert_eq(rc, ASTRA_ECORRUPT, "gc run %d: %d (%s)", run, rc,
		        astra_error_last()->message);
		cr_assert(strstr(astra_error_last()->message, damaged),
		        "gc does not name %s: %s", damaged,
		        astra_error_last()->message);
		cr_assert(strstr(astra_error_last()->message, "vault repair"),
		        "%s", astra_error_last()->message);
		astra__json_free(rep);
	}
	astra__json *packs1 = names(v, "data/");
	cr_assert_eq(astra__json_size(packs1), astra__json_size(packs0));
	for (size_t i = 0; i < astra__json_size(packs0); i++)
		cr_assert(has_name(packs1, astra__json_string_value(
		                                   astra__json_at(packs0, i))),
		        "gc deleted a pack");
	astra__json *gcm = names(v, "gc/");
	cr_assert_eq(astra__json_size(gcm), 0, "gc wrote a marker");
	astra__json_free(gcm);
	/* the snapshot misses blobs before the repair */
	cr_assert_eq(check(v), ASTRA_ECORRUPT);

	/* repair: indexes the packs again, names the damaged file */
	astra_repair_options ro;
	cr_assert_astra_ok(
	        astra_repair_options_init(&ro, ASTRA_REPAIR_OPTIONS_VERSION));
	astra_buf rb = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_repair(v, &ro, &rb));
	astra__json *rr = NULL;
	cr_assert_astra_ok(astra__json_parse(&rr, rb.ptr, rb.size, "repair"));
	cr_assert(astra__json_bool(rr, "ok", 0));
	cr_assert_gt(astra__json_int(rr, "blobs_indexed", 0), 0);
	cr_assert(
	        has_name(astra__json_get(rr, "damaged_index_files"), damaged));
	cr_assert_eq(astra__json_size(astra__json_get(rr, "missing")), 0);
	cr_assert_not_null(astra__json_str(rr, "record"));
	astra__json_free(rr);
	astra_buf_dispose(&rb);
	astra__json *idx = names(v, "index/");
	cr_assert(has_name(idx, damaged), "repair deleted the damaged file");
	astra__json_free(idx);
	cr_assert_astra_ok(check(v));
	restore_equals(v, ida, a, "ra");

	/* gc proceeds now; forgetting B gives it packs to sweep, and the
	 * merge drops the superseded damaged file and the repair record */
	cr_assert_astra_ok(astra_vault_forget(v, idb));
	astra__json *rep = NULL;
	cr_assert_astra_ok(gc(v, &rep));
	cr_assert(has_name(
	        astra__json_get(rep, "superseded_index_files"), damaged));
	astra__json_free(rep);
	cr_assert_astra_ok(gc(v, &rep));
	cr_assert_gt(astra__json_size(astra__json_get(rep, "deleted_packs")), 0,
	        "B's packs were not swept");
	astra__json_free(rep);
	idx = names(v, "index/");
	cr_assert(!has_name(idx, damaged), "the merge kept the damaged file");
	astra__json_free(idx);
	astra__json *recs = names(v, "repairs/");
	cr_assert_eq(astra__json_size(recs), 0);
	astra__json_free(recs);
	astra_vault_free(v);
	astra_vault_options o = test_vault_options("pw", 2);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	cr_assert_astra_ok(check(v));
	restore_equals(v, ida, a, "ra2");
	astra_vault_free(v);
	astra__json_free(before);
	astra__json_free(after);
	astra__json_free(packs0);
	astra__json_free(packs1);
	free(a);
	free(b);
	free(fb);
}

/*
 * A repair record alone (say, forged, or written before more damage)
 * does not let gc delete: every blob a snapshot references must resolve
 * in the loaded index, and an unindexed pack is condemned only when its
 * header proves none of its blobs is live.
 */
Test(repo_gc_safety, unindexed_live_blobs_stop_gc_even_when_superseded)
{
	char *a = path_in("a");
	mkdir(a, 0755);
	for (int i = 0; i < 6; i++) {
		char n[64];
		snprintf(n, sizeof(n), "a/f%d", i);
		char *f = path_in(n);
		fst_write_random(f, 2 << 20, (uint64_t)i + 20);
		free(f);
	}
	astra_vault *v = new_vault();
	char ida[33];
	backup(v, a, ida);
	astra__json *idx = names(v, "index/");
	char damaged[128] = "";
	for (size_t i = 0; i < astra__json_size(idx); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(idx, i));
		if (!lists_trees(v, k))
			snprintf(damaged, sizeof(damaged), "%s", k);
	}
	cr_assert(damaged[0]);
	flip_byte(damaged);
	/* a record that claims the file is covered, with no repair index */
	astra__json *m = astra__json_new_object();
	astra__json *dl = astra__json_new_array();
	astra__json_push(dl, astra__json_new_string(damaged));
	astra__json_set_int(m, "time", astra__wall_ns() / 1000000000LL);
	astra__json_set(m, "damaged", dl);
	cr_assert_astra_ok(astra__repo_put_json(
	        v->r, "repairs/0123456789abcdef0123456789abcdef", m, 0));
	astra__json_free(m);
	astra__json *packs0 = names(v, "data/");
	for (int run = 0; run < 2; run++) {
		int rc = gc(v, NULL);
		cr_assert_eq(rc, ASTRA_ECORRUPT, "gc run %d: %d (%s)", run, rc,
		        astra_error_last()->message);
		cr_assert(strstr(astra_error_last()->message,
		                  "no readable index file lists it"),
		        "%s", astra_error_last()->message);
	}
	astra__json *packs1 = names(v, "data/");
	cr_assert_eq(astra__json_size(packs1), astra__json_size(packs0));
	astra__json *gcm = names(v, "gc/");
	cr_assert_eq(astra__json_size(gcm), 0, "gc condemned packs");
	astra__json_free(gcm);
	/* the real repair makes gc and the restore work again */
	astra_buf rb = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra_vault_repair(v, NULL, &rb));
	astra_buf_dispose(&rb);
	cr_assert_astra_ok(gc(v, NULL));
	cr_assert_astra_ok(gc(v, NULL));
	cr_assert_astra_ok(check(v));
	restore_equals(v, ida, a, "ra");
	astra_vault_free(v);
	astra__json_free(idx);
	astra__json_free(packs0);
	astra__json_free(packs1);
	free(a);
}

/* A damaged index file is skipped (with a warning) by backups and
 * restores: they still work. */
Test(repo_gc_safety, backups_and_restores_skip_a_damaged_index_file)
{
	char *a = path_in("a");
	mkdir(a, 0755);
	char *f = path_in("a/f");
	fst_write_random(f, 3 << 20, 5);
	astra_vault *v = new_vault();
	char id1[33], id2[33];
	backup(v, a, id1);
	astra__json *idx = names(v, "index/");
	cr_assert_geq(astra__json_size(idx), 1);
	astra_vault_free(v);
	/* a damaged copy of nothing in particular: garbage as an index */
	write_garbage("index/"
	              "00000000000000000000000000000000000000000000000000000000"
	              "00000000",
	        300);
	astra_vault_options o = test_vault_options("pw", 2);
	cr_assert_astra_ok(astra_vault_open(&v, url, &o));
	backup(v, a, id2);
	restore_equals(v, id1, a, "r1");
	restore_equals(v, id2, a, "r2");
	/* gc refuses while it is there */
	cr_assert_eq(gc(v, NULL), ASTRA_ECORRUPT);
	astra_vault_free(v);
	astra__json_free(idx);
	free(a);
	free(f);
}

/* An unreadable session may be a live writer's: gc stops and deletes
 * nothing. Once nobody has rewritten it for longer than the session
 * timeout, it is dead like any other stale session. */
Test(repo_gc_safety, unreadable_session_stops_gc)
{
	char *a = path_in("a");
	mkdir(a, 0755);
	char *f = path_in("a/f");
	fst_write_random(f, 3 << 20, 6);
	astra_vault *v = new_vault();
	char id1[33];
	backup(v, a, id1);
	cr_assert_astra_ok(astra_vault_forget(v, id1));
	const char *sk = "sessions/00112233445566778899aabbccddeeff";
	write_garbage(sk, 200);
	astra__json *packs0 = names(v, "data/");
	for (int run = 0; run < 2; run++) {
		int rc = gc(v, NULL);
		cr_assert_eq(rc, ASTRA_ECORRUPT, "gc run %d: %d (%s)", run, rc,
		        astra_error_last()->message);
		cr_assert(strstr(astra_error_last()->message, sk), "%s",
		        astra_error_last()->message);
	}
	astra__json *packs1 = names(v, "data/");
	cr_assert_eq(astra__json_size(packs1), astra__json_size(packs0));
	astra__json *gcm = names(v, "gc/");
	cr_assert_eq(astra__json_size(gcm), 0);
	astra__json_free(gcm);
	/* two hours without a rewrite: dead, removed, gc proceeds */
	set_mtime(sk, time(NULL) - 7200);
	cr_assert_astra_ok(gc(v, NULL));
	cr_assert_astra_ok(gc(v, NULL));
	astra__json *ss = names(v, "sessions/");
	cr_assert_eq(astra__json_size(ss), 0);
	astra__json_free(ss);
	astra__json *packs2 = names(v, "data/");
	cr_assert_lt(astra__json_size(packs2), astra__json_size(packs0));
	astra__json_free(packs2);
	astra_vault_free(v);
	astra__json_free(packs0);
	astra__json_free(packs1);
	free(a);
	free(f);
}

/* An unreadable app-backup record would drop its manifests blob from the
 * live set: gc stops instead. */
Test(repo_gc_safety, unreadable_app_backup_record_stops_gc)
{
	char *a = path_in("a");
	mkdir(a, 0755);
	char *f = path_in("a/f");
	fst_write_random(f, 2 << 20, 8);
	astra_vault *v = new_vault();
	char id1[33];
	backup(v, a, id1);
	cr_assert_astra_ok(astra_vault_forget(v, id1));
	char dir[4500];
	snprintf(dir, sizeof(dir), "%s/appbackups", vdir);
	mkdir(dir, 0755);
	write_garbage("appbackups/nightly-1", 300);
	astra__json *packs0 = names(v, "data/");
	for (int run = 0; run < 2; run++) {
		int rc = gc(v, NULL);
		cr_assert_eq(rc, ASTRA_ECORRUPT, "gc run %d: %d (%s)", run, rc,
		        astra_error_last()->message);
		cr_assert(strstr(astra_error_last()->message,
		                  "appbackups/nightly-1"),
		        "%s", astra_error_last()->message);
	}
	astra__json *packs1 = names(v, "data/");
	cr_assert_eq(astra__json_size(packs1), astra__json_size(packs0));
	astra_vault_free(v);
	astra__json_free(packs0);
	astra__json_free(packs1);
	free(a);
	free(f);
}

/* The writer keeps its start in memory: a heartbeat after a failed read
 * of its session (here: the object was damaged) keeps the start. */
Test(repo_gc_safety, session_refresh_after_a_failed_read_keeps_the_start)
{
	astra_vault *v = new_vault();
	astra__session *s = NULL;
	cr_assert_astra_ok(astra__data_session_start(v->r, &s));
	const char *key = astra__data_session_key(s);
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__repo_get_json(v->r, key, &j));
	int64_t start = astra__json_int(j, "start", -1);
	astra__json_free(j);
	/* the next second, so that "now" differs from the start */
	while (astra__wall_ns() / 1000000000LL <= start)
		usleep(20000);
	write_garbage(key, 100);
	astra__data_session_refresh(s);
	cr_assert_astra_ok(astra__repo_get_json(v->r, key, &j));
	cr_assert_eq(astra__json_int(j, "start", -1), start,
	        "the start moved from %lld to %lld", (long long)start,
	        (long long)astra__json_int(j, "start", -1));
	cr_assert_gt(astra__json_int(j, "heartbeat", -1), start);
	astra__json_free(j);
	astra__data_session_end(s);
	astra_vault_free(v);
}

/* gc removes the session of a writer it declared dead (simulated: the
 * object is deleted while the backup runs): the backup fails and writes
 * no record. */
typedef struct {
	astra__store *store;
	int deleted;
} del_ctx;

static int del_cb(const astra__obj_info *info, void *payload)
{
	del_ctx *d = payload;
	if (astra__store_del(d->store, info->key) == 0)
		d->deleted++;
	return 0;
}

static int progress_deletes_sessions(const astra_progress *p, void *payload)
{
	(void)p;
	del_ctx *d = payload;
	if (!d->deleted)
		astra__store_list(d->store, "sessions/", del_cb, d);
	return 0;
}

Test(repo_gc_safety, backup_whose_session_was_removed_records_nothing)
{
	char *a = path_in("a");
	mkdir(a, 0755);
	for (int i = 0; i < 4; i++) {
		char n[64];
		snprintf(n, sizeof(n), "a/f%d", i);
		char *f = path_in(n);
		fst_write_random(f, 300 << 10, (uint64_t)i + 40);
		free(f);
	}
	astra_vault *v = new_vault();
	del_ctx d = { v->r->store, 0 };
	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	bo.progress_cb = progress_deletes_sessions;
	bo.payload = &d;
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	int rc = astra_vault_backup_path(v, a, &bo, &res);
	cr_assert_eq(d.deleted, 1, "the session was not deleted mid-way");
	cr_assert_neq(rc, 0, "the backup succeeded without its session");
	cr_assert(strstr(astra_error_last()->message, "sessions/"), "%s",
	        astra_error_last()->message);
	astra__json *snaps = names(v, "snapshots/");
	cr_assert_eq(astra__json_size(snaps), 0, "a record was written");
	astra__json_free(snaps);
	/* a backup with its session intact still works */
	char id[33];
	backup(v, a, id);
	restore_equals(v, id, a, "r");
	astra_vault_free(v);
	free(a);
}

/* A damaged gc marker: gc stops (it cannot tell what the marker
 * condemned, so it never sweeps it), backups and restores skip it. */
Test(repo_gc_safety, damaged_gc_marker_stops_gc_but_not_backups)
{
	char *a = path_in("a");
	mkdir(a, 0755);
	char *f = path_in("a/f");
	fst_write_random(f, 2 << 20, 9);
	astra_vault *v = new_vault();
	char id1[33], id2[33];
	backup(v, a, id1);
	char dir[4500];
	snprintf(dir, sizeof(dir), "%s/gc", vdir);
	mkdir(dir, 0755);
	const char *mk = "gc/ffeeddccbbaa99887766554433221100";
	write_garbage(mk, 120);
	int rc = gc(v, NULL);
	cr_assert_eq(rc, ASTRA_ECORRUPT, "gc: %d (%s)", rc,
	        astra_error_last()->message);
	cr_assert(strstr(astra_error_last()->message, mk), "%s",
	        astra_error_last()->message);
	backup(v, a, id2);
	restore_equals(v, id1, a, "r1");
	restore_equals(v, id2, a, "r2");
	astra_vault_free(v);
	free(a);
	free(f);
}

/* Packs that no index lists: condemned only when their header proves
 * that none of their blobs is live. A pack whose header cannot be read is
 * kept and reported (by gc and by repair); a readable one with only dead
 * blobs is still reclaimed. */
Test(repo_gc_safety, unindexed_packs_need_a_readable_header_to_go)
{
	char *a = path_in("a"), *b = path_in("b");
	mkdir(a, 0755);
	mkdir(b, 0755);
	char *fa = path_in("a/f"), *fb = path_in("b/f");
	fst_write_random(fa, 2 << 20, 11);
	fst_write_random(fb, 2 << 20, 12);
	astra_vault *v = new_vault();
	char ida[33], idb[33];
	backup(v, a, ida);
	astra__json *idx_a = names(v, "index/");
	astra__json *packs_a = names(v, "data/");
	backup(v, b, idb);
	/* B forgotten and its index files gone: its packs are unindexed and
	 * hold no live blob */
	cr_assert_astra_ok(astra_vault_forget(v, idb));
	astra__json *idx = names(v, "index/");
	for (size_t i = 0; i < astra__json_size(idx); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(idx, i));
		if (!has_name(idx_a, k))
			cr_assert_astra_ok(astra__store_del(v->r->store, k));
	}
	astra__json_free(idx);
	/* and a pack-named object whose header cannot be read */
	const char *bad = "data/ab/"
	                  "ab00000000000000000000000000000000000000000000000000"
	                  "000000000000";
	char dir[4500];
	snprintf(dir, sizeof(dir), "%s/data/ab", vdir);
	mkdir(dir, 0755);
	write_garbage(bad, 500);
	astra__json *rep = NULL;
	cr_assert_astra_ok(gc(v, &rep)); /* marks */
	const astra__json *un = astra__json_get(rep, "unreadable_packs");
	cr_assert_eq(astra__json_size(un), 1);
	cr_assert(strstr(
	        astra__json_str(astra__json_at(un, 0), "pack"), "ab0000"));
	const astra__json *marked = astra__json_get(rep, "marked_packs");
	for (size_t i = 0; i < astra__json_size(marked); i++)
		cr_assert(strncmp(astra__json_string_value(
		                          astra__json_at(marked, i)),
		                  "ab0000", 6),
		        "the unreadable pack was condemned");
	cr_assert_gt(astra__json_size(marked), 0, "B's packs not marked");
	astra__json_free(rep);
	cr_assert_astra_ok(gc(v, &rep)); /* sweeps */
	astra__json_free(rep);
	char path[4600];
	snprintf(path, sizeof(path), "%s/%s", vdir, bad);
	cr_assert_eq(access(path, F_OK), 0, "the unreadable pack was deleted");
	astra__json *packs = names(v, "data/");
	/* A's packs and the unreadable one remain; B's are gone */
	cr_assert_eq(astra__json_size(packs), astra__json_size(packs_a) + 1);
	astra__json_free(packs);
	cr_assert_astra_ok(check(v));
	restore_equals(v, ida, a, "ra");
	/* repair reports the header it cannot read, and deletes nothing */
	astra_buf rb = ASTRA_BUF_INIT;
	cr_assert_eq(astra_vault_repair(v, NULL, &rb), ASTRA_ECORRUPT);
	astra__json *rr = NULL;
	cr_assert_astra_ok(astra__json_parse(&rr, rb.ptr, rb.size, "repair"));
	cr_assert_eq(
	        astra__json_size(astra__json_get(rr, "unreadable_packs")), 1);
	cr_assert_eq(astra__json_size(astra__json_get(rr, "missing")), 0);
	astra__json_free(rr);
	astra_buf_dispose(&rb);
	cr_assert_eq(access(path, F_OK), 0);
	astra_vault_free(v);
	astra__json_free(idx_a);
	astra__json_free(packs_a);
	free(a);
	free(b);
	free(fa);
	free(fb);
}
