/*
 * A threaded stress run of the vault API, for ThreadSanitizer (Criterion's
 * forking runner cannot run under TSan). Several threads back up into one
 * vault at once through separate handles, one backup is cancelled from
 * another thread, and the results are restored and compared. Then gc
 * (grace 0) runs in a loop while two threads back up in loops and another
 * forgets old snapshots; every remaining snapshot must restore exactly
 * and check must pass.
 * Prints "stress: N passed, M failed".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <astra.h>

#include "fstree.h"
#include "vault_test.h"

static int passed, failed;
static char url[4200];

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (cond) {                                               \
			passed++;                                         \
		} else {                                                  \
			failed++;                                         \
			fprintf(stderr, "stress: FAIL %s:%d: ", __FILE__, \
			        __LINE__);                                \
			fprintf(stderr, __VA_ARGS__);                     \
			fprintf(stderr, " (%s)\n",                        \
			        astra_error_last()->message);             \
		}                                                         \
	} while (0)

static astra_vault_options opts(void)
{
	astra_vault_options o = test_vault_options("stress", 2);
	/* every init and open derives the key in 3 scrypt lanes on up to
	 * min(3, CPUs) threads, inside the threads of this test */
	o.kdf_p = 3;
	return o;
}

typedef struct {
	const char *src;
	char id[33];
	int rc;
	astra_cancel *cancel;
} job;

static void *backup_thread(void *arg)
{
	job *j = arg;
	astra_vault *v = NULL;
	astra_vault_options o = opts();
	j->rc = astra_vault_open(&v, url, &o);
	if (j->rc)
		return NULL;
	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	bo.cancel = j->cancel;
	astra_data_backup_result r;
	memset(&r, 0, sizeof(r));
	r.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	j->rc = astra_vault_backup_path(v, j->src, &bo, &r);
	memcpy(j->id, r.id, sizeof(j->id));
	astra_vault_free(v);
	return NULL;
}

static void *canceller(void *arg)
{
	usleep(20000);
	astra_cancel_request(arg);
	return NULL;
}

/* ---- gc concurrent with backups and forgets ---- */

enum { GC_ROUNDS = 4 };

typedef struct {
	const char *work;
	int k;
	int fails; /* backups that failed */
	char err[512];
} gc_looper;

static atomic_int backups_running;

static void *backup_loop(void *arg)
{
	gc_looper *l = arg;
	for (int r = 0; r < GC_ROUNDS; r++) {
		/* a directory per round: the shared file deduplicates against
		 * earlier rounds (whose packs gc may be condemning), the new
		 * one becomes garbage once the snapshot is forgotten */
		char dir[4300], f[4400];
		snprintf(dir, sizeof(dir), "%.4200s/g%d-%d", l->work, l->k, r);
		mkdir(dir, 0755);
		snprintf(f, sizeof(f), "%s/shared", dir);
		fst_write_random(f, 2u << 20, (uint64_t)(500 + l->k));
		snprintf(f, sizeof(f), "%s/new", dir);
		fst_write_random(
		        f, 768u << 10, (uint64_t)(1000 + 100 * l->k + r));
		astra_vault *v = NULL;
		astra_vault_options o = opts();
		int rc = astra_vault_open(&v, url, &o);
		if (!rc)
			rc = astra_vault_backup_path(v, dir, NULL, NULL);
		if (rc) {
			l->fails++;
			snprintf(l->err, sizeof(l->err), "round %d: %d %s", r,
			        rc, astra_error_last()->message);
		}
		astra_vault_free(v);
	}
	atomic_fetch_sub(&backups_running, 1);
	return NULL;
}

/* Copies the string value that follows key `k` at or after p into out;
 * returns the position after it, or NULL. */
static const char *str_after(
        const char *p, const char *k, char *out, size_t cap)
{
	p = strstr(p, k);
	if (!p)
		return NULL;
	p = strchr(p + strlen(k), '"'); /* the value's opening quote */
	const char *e = p ? strchr(p + 1, '"') : NULL;
	if (!e || (size_t)(e - p - 1) >= cap)
		return NULL;
	memcpy(out, p + 1, (size_t)(e - p - 1));
	out[e - p - 1] = '\0';
	return e + 1;
}

/* The ids and sources of a snapshot list (records print "source" before
 * "id"), oldest first. */
static int list_ids(
        const char *json, char ids[][33], char srcs[][4300], int max)
{
	int n = 0;
	const char *p = json;
	while (n < max) {
		p = str_after(p, "\"source\"", srcs[n], 4300);
		if (p)
			p = str_after(p, "\"id\"", ids[n], 33);
		if (!p)
			break;
		n++;
	}
	return n;
}

typedef struct {
	int runs, fails, sweeps;
	char err[512];
} gc_stats;

/* Whether a gc report deleted any pack. */
static int deleted_some(const char *rep)
{
	const char *p = rep ? strstr(rep, "\"deleted_packs\"") : NULL;
	p = p ? strchr(p, '[') : NULL;
	if (!p)
		return 0;
	p++;
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	return *p && *p != ']';
}

static void *gc_loop(void *arg)
{
	gc_stats *st = arg;
	astra_vault *v = NULL;
	astra_vault_options o = opts();
	if (astra_vault_open(&v, url, &o)) {
		st->fails++;
		return NULL;
	}
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	for (int last = 0; !last;) {
		last = atomic_load(&backups_running) == 0;
		astra_buf rep = ASTRA_BUF_INIT;
		int rc = astra_vault_gc(v, &g, &rep);
		st->runs++;
		if (!rc && deleted_some(rep.ptr))
			st->sweeps++;
		if (rc) {
			st->fails++;
			snprintf(st->err, sizeof(st->err), "%d %s", rc,
			        astra_error_last()->message);
		}
		astra_buf_dispose(&rep);
		usleep(5000);
	}
	astra_vault_free(v);
	return NULL;
}

typedef struct {
	int forgotten, fails;
	char err[512];
} forget_stats;

static void *forget_loop(void *arg)
{
	forget_stats *st = arg;
	astra_vault *v = NULL;
	astra_vault_options o = opts();
	if (astra_vault_open(&v, url, &o)) {
		st->fails++;
		return NULL;
	}
	static char ids[64][33], srcs[64][4300];
	while (atomic_load(&backups_running)) {
		astra_buf b = ASTRA_BUF_INIT;
		if (astra_vault_snapshots(v, &b) == 0 && b.ptr) {
			int n = list_ids(b.ptr, ids, srcs, 64);
			/* keep the two newest */
			if (n > 2) {
				int rc = astra_vault_forget(v, ids[0]);
				if (rc == 0)
					st->forgotten++;
				else if (rc != ASTRA_ENOTFOUND) {
					st->fails++;
					snprintf(st->err, sizeof(st->err),
					        "%d %s", rc,
					        astra_error_last()->message);
				}
			}
		}
		astra_buf_dispose(&b);
		usleep(20000);
	}
	astra_vault_free(v);
	return NULL;
}

static void gc_scenario(const char *work)
{
	snprintf(url, sizeof(url), "file://%s/gcvault", work);
	astra_vault *v = NULL;
	astra_vault_options o = opts();
	CHECK(astra_vault_init(&v, url, &o) == 0, "gc vault init");
	astra_vault_free(v);
	gc_looper lp[2];
	gc_stats gs = { 0, 0, 0, "" };
	forget_stats fs = { 0, 0, "" };
	pthread_t th[4];
	atomic_store(&backups_running, 2);
	for (int k = 0; k < 2; k++) {
		memset(&lp[k], 0, sizeof(lp[k]));
		lp[k].work = work;
		lp[k].k = k;
		pthread_create(&th[k], NULL, backup_loop, &lp[k]);
	}
	pthread_create(&th[2], NULL, gc_loop, &gs);
	pthread_create(&th[3], NULL, forget_loop, &fs);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int k = 0; k < 2; k++)
		CHECK(lp[k].fails == 0,
		        "gc scenario: %d backup(s) of loop %d "
		        "failed: %s",
		        lp[k].fails, k, lp[k].err);
	CHECK(gs.fails == 0, "gc scenario: %d of %d gc runs failed: %s",
	        gs.fails, gs.runs, gs.err);
	CHECK(fs.fails == 0, "gc scenario: %d forgets failed: %s", fs.fails,
	        fs.err);
	fprintf(stderr,
	        "stress: gc scenario: %d gc runs (%d deleted packs), %d "
	        "snapshots forgotten\n",
	        gs.runs, gs.sweeps, fs.forgotten);
	CHECK(fs.forgotten > 0, "gc scenario: nothing was forgotten");
	/* a last mark and sweep with nothing running */
	CHECK(astra_vault_open(&v, url, &o) == 0, "gc vault open");
	if (!v)
		return;
	astra_gc_options g;
	astra_gc_options_init(&g, ASTRA_GC_OPTIONS_VERSION);
	g.grace_seconds = 0;
	CHECK(astra_vault_gc(v, &g, NULL) == 0, "final gc 1");
	CHECK(astra_vault_gc(v, &g, NULL) == 0, "final gc 2");
	static char ids[64][33], srcs[64][4300];
	astra_buf b = ASTRA_BUF_INIT;
	CHECK(astra_vault_snapshots(v, &b) == 0, "list");
	int n = b.ptr ? list_ids(b.ptr, ids, srcs, 64) : 0;
	CHECK(n >= 2, "gc scenario: %d snapshots remain", n);
	for (int i = 0; i < n; i++) {
		char dst[4300];
		snprintf(dst, sizeof(dst), "%.4200s/gcrestore%d", work, i);
		int rc = astra_vault_restore_path(
		        v, ids[i], dst, NULL, NULL, NULL);
		CHECK(rc == 0, "gc scenario: restore of %s", ids[i]);
		CHECK(fst_compare(srcs[i], dst) == 0,
		        "gc scenario: %s differs from %s", ids[i], srcs[i]);
	}
	astra_buf_dispose(&b);
	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	co.flags = ASTRA_CHECK_F_READ_DATA;
	CHECK(astra_vault_check(v, &co, NULL) == 0, "gc scenario: check");
	astra_vault_free(v);
}

int main(void)
{
	if (astra_init() < 0)
		return 1;
	char *work = fst_tmpdir("stress");
	snprintf(url, sizeof(url), "file://%s/vault", work);
	astra_vault *v = NULL;
	astra_vault_options o = opts();
	CHECK(astra_vault_init(&v, url, &o) == 0, "init");
	astra_vault_free(v);

	enum { N = 4 };
	char srcs[N + 1][4200];
	job jobs[N + 1];
	pthread_t th[N + 2];
	for (int i = 0; i <= N; i++) {
		snprintf(srcs[i], sizeof(srcs[i]), "%s/src%d", work, i);
		mkdir(srcs[i], 0755);
		fst_make_rich_tree(srcs[i]);
		char big[4300];
		snprintf(big, sizeof(big), "%.4200s/big", srcs[i]);
		fst_write_random(big, (size_t)(8 + i) << 20, (uint64_t)i);
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].src = srcs[i];
	}
	astra_cancel *tok;
	CHECK(astra_cancel_new(&tok) == 0, "cancel token");
	jobs[N].cancel = tok;
	for (int i = 0; i <= N; i++)
		pthread_create(&th[i], NULL, backup_thread, &jobs[i]);
	pthread_create(&th[N + 1], NULL, canceller, tok);
	for (int i = 0; i <= N + 1; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++)
		CHECK(jobs[i].rc == 0, "backup %d rc %d", i, jobs[i].rc);
	CHECK(jobs[N].rc == ASTRA_ECANCELLED || jobs[N].rc == 0,
	        "cancelled backup rc %d", jobs[N].rc);
	astra_cancel_free(tok);

	CHECK(astra_vault_open(&v, url, &o) == 0, "open");
	for (int i = 0; i < N && v; i++) {
		char dst[4300];
		snprintf(dst, sizeof(dst), "%s/restore%d", work, i);
		int rc = astra_vault_restore_path(
		        v, jobs[i].id, dst, NULL, NULL, NULL);
		CHECK(rc == 0, "restore %d", i);
		CHECK(fst_compare(srcs[i], dst) == 0, "compare %d", i);
	}
	/* a second round with parents: unchanged directories, unchanged
	 * files and the parent's subtrees read ahead by the workers, while
	 * the other backups run */
	for (int i = 0; i < N; i++) {
		char f[4300];
		snprintf(f, sizeof(f), "%.4200s/round2", srcs[i]);
		fst_write_random(f, (size_t)(1 + i) << 20, (uint64_t)(100 + i));
		jobs[i].rc = -1;
	}
	for (int i = 0; i < N; i++)
		pthread_create(&th[i], NULL, backup_thread, &jobs[i]);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N && v; i++) {
		CHECK(jobs[i].rc == 0, "second backup %d rc %d", i, jobs[i].rc);
		char dst[4300];
		snprintf(dst, sizeof(dst), "%s/restore2-%d", work, i);
		int rc = astra_vault_restore_path(
		        v, jobs[i].id, dst, NULL, NULL, NULL);
		CHECK(rc == 0, "second restore %d", i);
		CHECK(fst_compare(srcs[i], dst) == 0, "second compare %d", i);
	}
	astra_check_options co;
	astra_check_options_init(&co, ASTRA_CHECK_OPTIONS_VERSION);
	co.flags = ASTRA_CHECK_F_READ_DATA;
	CHECK(v && astra_vault_check(v, &co, NULL) == 0, "check");
	astra_vault_free(v);
	gc_scenario(work);
	fst_rmrf(work);
	free(work);
	astra_shutdown();
	printf("stress: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
