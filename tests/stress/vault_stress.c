/*
 * A threaded stress run of the vault API, for ThreadSanitizer (Criterion's
 * forking runner cannot run under TSan). Several threads back up into one
 * vault at once through separate handles, one backup is cancelled from
 * another thread, and the results are restored and compared.
 * Prints "stress: N passed, M failed".
 */
#include <pthread.h>
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
	fst_rmrf(work);
	free(work);
	astra_shutdown();
	printf("stress: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
