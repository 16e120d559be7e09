/*
 * Hostile vault objects and hostile source trees: forged pack trailers and
 * headers, index files whose lengths exceed their bodies, poisoned and
 * malformed key slots, entries swapped between their lstat and their open.
 * Each must give a clear error naming the object (or a report entry),
 * never a crash, a hang or a lockout. file:// vaults only: the tests write
 * objects into the store directly.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "vault_test.h"
#include "compress/compress.h"
#include "core/base64.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/parse.h"
#include "repo/repo.h"
#include "repo/vault_internal.h"
#include "store/store.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

extern void (*astra__backup_test_swap)(const char *abs);

static char *work, *url;

static void setup(void)
{
	work = fst_tmpdir("hostile");
	url = malloc(4200);
	snprintf(url, 4200, "file://%s/vault", work);
}

static void teardown(void)
{
	astra__backup_test_swap = NULL;
	astra_log_set_handler(NULL, 0, NULL);
	fst_rmrf(work);
	free(work);
	free(url);
}

TestSuite(repo_hostile, .init = setup, .fini = teardown, .timeout = 120);

static char *path_in(const char *name)
{
	char *p = malloc(4400);
	snprintf(p, 4400, "%s/%s", work, name);
	return p;
}

static astra_vault *new_vault(void)
{
	astra_vault *v = NULL;
	astra_vault_options o = test_vault_options("correct horse", 2);
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	return v;
}

static int open_vault(astra_vault **v)
{
	astra_vault_options o = test_vault_options("correct horse", 2);
	return astra_vault_open(v, url, &o);
}

static astra__store *open_store(void)
{
	astra__store *s = NULL;
	cr_assert_astra_ok(astra__store_open(&s, url, NULL));
	return s;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Warnings and errors the library logs, in one buffer. */
static char logged[65536];

static void log_to_buffer(int level, const char *message, void *payload)
{
	(void)level;
	(void)payload;
	size_t n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%s\n", message);
}

static void capture_log(void)
{
	logged[0] = 0;
	astra_log_set_handler(log_to_buffer, ASTRA_LOG_WARN, NULL);
}

static void backup_small_tree(astra_vault *v, char id[33])
{
	char *src = path_in("src");
	mkdir(src, 0755);
	char *f = path_in("src/a.bin");
	fst_write_random(f, 300000, 1);
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, src, NULL, &res));
	if (id)
		memcpy(id, res.id, 33);
	free(src);
	free(f);
}

static int collect_key(const astra__obj_info *info, void *payload)
{
	astra__json *arr = payload;
	return astra__json_push(arr, astra__json_new_string(info->key));
}

/* The key of the first object under prefix (by name). */
static void first_key(const char *prefix, char *out, size_t n)
{
	astra__store *st = open_store();
	astra__json *keys = astra__json_new_array();
	cr_assert_geq(astra__store_list(st, prefix, collect_key, keys), 0);
	cr_assert_gt(astra__json_size(keys), 0, "nothing under %s", prefix);
	const char *best = NULL;
	for (size_t i = 0; i < astra__json_size(keys); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		if (!best || strcmp(k, best) < 0)
			best = k;
	}
	snprintf(out, n, "%s", best);
	astra__json_free(keys);
	astra__store_free(st);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The check report's entry for `object`, or NULL. */
static const astra__json *damaged_entry(
        const astra__json *rep, const char *object)
{
	const astra__json *d = astra__json_get(rep, "damaged");
	for (size_t i = 0; i < astra__json_size(d); i++) {
		const astra__json *e = astra__json_at(d, i);
		if (!strcmp(astra__json_str(e, "object"), object))
			return e;
	}
	return NULL;
}

static int check_read_data(astra_vault *v, astra__json **rep)
{
	astra_check_options o;
	astra_check_options_init(&o, ASTRA_CHECK_OPTIONS_VERSION);
	o.flags = ASTRA_CHECK_F_READ_DATA;
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra_vault_check(v, &o, &b);
	*rep = NULL;
	if (b.ptr)
		astra__json_parse(rep, b.ptr, b.size, "report");
	astra_buf_dispose(&b);
	return rc;
}

/* ---- packs ---- */

Test(repo_hostile, pack_trailer_ff_ff_ff_ff_is_named_by_check_without_a_crash)
{
	astra_vault *v = new_vault();
	backup_small_tree(v, NULL);
	char key[200];
	first_key("data/", key, sizeof(key));
	astra__store *st = open_store();
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(st, key, 0, 0, &b));
	size_t size = b.size;
	memset(b.ptr + b.size - 4, 0xff, 4);
	cr_assert_astra_ok(astra__store_put(st, key, b.ptr, b.size, NULL));
	astra_buf_dispose(&b);
	astra__store_free(st);

	astra__json *rep = NULL;
	cr_assert_astra_fail(check_read_data(v, &rep), ASTRA_ECORRUPT);
	cr_assert_not_null(rep);
	char obj[256], want[128];
	snprintf(obj, sizeof(obj), "pack %s", key);
	const astra__json *e = damaged_entry(rep, obj);
	cr_assert_not_null(e, "no report entry for %s", obj);
	snprintf(want, sizeof(want),
	        "header length 4294967295 exceeds the pack's %zu bytes", size);
	cr_assert(strstr(astra__json_str(e, "error"), want), "%s",
	        astra__json_str(e, "error"));
	cr_assert(strstr(astra__json_str(e, "error"), key));
	astra__json_free(rep);
	astra_vault_free(v);
}

Test(repo_hostile, pack_header_entry_past_the_header_is_named_by_check)
{
	astra_vault *v = new_vault();
	backup_small_tree(v, NULL);
	char key[200];
	first_key("data/", key, sizeof(key));
	const char *hex = strrchr(key, '/') + 1;
	astra__store *st = open_store();
	astra_buf b = ASTRA_BUF_INIT, h = ASTRA_BUF_INIT,
	          sealed = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(st, key, 0, 0, &b));
	uint32_t hl = le32((uint8_t *)b.ptr + b.size - 4);
	size_t hoff = b.size - 4 - hl;
	char aad[100];
	snprintf(aad, sizeof(aad), "pack %s", hex);
	/* a validly sealed header (the test has the key) whose first entry
	 * claims a blob far past the end of the pack */
	cr_assert_astra_ok(astra__repo_open_sealed(
	        v->r, aad, b.ptr + hoff, hl, &h, "header"));
	cr_assert_geq(h.size, (size_t)ASTRA_PACK_HDR_ENTRY);
	put_le32((uint8_t *)h.ptr + 38, 0xfffffff0u);
	cr_assert_astra_ok(astra__repo_seal(v->r, aad, h.ptr, h.size, &sealed));
	b.size = hoff;
	cr_assert_astra_ok(astra__buf_put(&b, sealed.ptr, sealed.size));
	uint8_t t[4];
	put_le32(t, (uint32_t)sealed.size);
	cr_assert_astra_ok(astra__buf_put(&b, t, 4));
	cr_assert_astra_ok(astra__store_put(st, key, b.ptr, b.size, NULL));
	astra__store_free(st);

	astra__json *rep = NULL;
	cr_assert_astra_fail(check_read_data(v, &rep), ASTRA_ECORRUPT);
	char obj[256];
	snprintf(obj, sizeof(obj), "pack %s", key);
	const astra__json *e = damaged_entry(rep, obj);
	cr_assert_not_null(e, "no report entry for %s", obj);
	cr_assert(strstr(astra__json_str(e, "error"), "header entry 0"), "%s",
	        astra__json_str(e, "error"));
	cr_assert(strstr(astra__json_str(e, "error"), "past the start"));
	astra__json_free(rep);
	astra_buf_dispose(&b);
	astra_buf_dispose(&h);
	astra_buf_dispose(&sealed);
	astra_vault_free(v);
}

/* ---- index files ---- */

/* Seals `body` as index file `key` with a body length field of `claim`. */
static void put_index(astra_vault *v, const char *key, const void *body,
        size_t n, uint64_t claim)
{
	astra_buf plain = ASTRA_BUF_INIT, sealed = ASTRA_BUF_INIT;
	uint8_t len[8];
	put_le32(len, (uint32_t)claim);
	put_le32(len + 4, (uint32_t)(claim >> 32));
	cr_assert_astra_ok(astra__buf_put(&plain, len, 8));
	size_t cap = n + 1024;
	cr_assert_astra_ok(astra__buf_grow(&plain, cap));
	size_t zn = 0;
	cr_assert_astra_ok(astra__zstd_compress(
	        plain.ptr + plain.size, cap, body, n, 3, &zn));
	plain.size += zn;
	cr_assert_astra_ok(
	        astra__repo_seal(v->r, key, plain.ptr, plain.size, &sealed));
	astra__store *st = open_store();
	cr_assert_astra_ok(
	        astra__store_put(st, key, sealed.ptr, sealed.size, NULL));
	astra__store_free(st);
	astra_buf_dispose(&plain);
	astra_buf_dispose(&sealed);
}

Test(repo_hostile, index_counts_larger_than_the_body_are_refused_by_name)
{
	/* counts in the body: the pack table, then the entries */
	uint8_t body[64];
	memset(body, 0, sizeof(body));
	memcpy(body, ASTRA_INDEX_MAGIC, 8);
	put_le32(body + 8, 0xffffffffu);
	astra__index ix = { 0 };
	cr_assert_astra_fail(
	        astra__index_decode(&ix, body, 16, "index/x1"), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "index/x1"));
	cr_assert(strstr(astra_error_last()->message,
	                  "4294967295 packs (137438953440 bytes) exceed its "
	                  "16-byte body"),
	        "%s", astra_error_last()->message);
	put_le32(body + 8, 1);
	put_le32(body + 44, 0x7fffffffu);
	cr_assert_astra_fail(
	        astra__index_decode(&ix, body, 48, "index/x2"), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message,
	                  "2147483647 entries of 50 bytes do not fit the 0 "
	                  "bytes left"),
	        "%s", astra_error_last()->message);
	astra__index_free(&ix);

	/* the body length in front of the compressed body */
	astra_vault *v = new_vault();
	backup_small_tree(v, NULL);
	const char *bad = "index/"
	                  "00000000000000000000000000000000000000000000000000"
	                  "00000000000000";
	put_index(v, bad, body, 48, 1ULL << 34);
	astra__store *st = open_store();
	astra_buf sealed = ASTRA_BUF_INIT, out = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__store_get(st, bad, 0, 0, &sealed));
	astra__store_free(st);
	cr_assert_astra_fail(astra__index_file_open(v->r, bad,
	                             (uint8_t *)sealed.ptr, sealed.size, &out),
	        ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, bad));
	cr_assert(strstr(astra_error_last()->message,
	                  "body length 17179869184 exceeds what its"),
	        "%s", astra_error_last()->message);
	cr_assert_eq(out.size, 0);
	astra_buf_dispose(&sealed);
	astra_buf_dispose(&out);
	astra_vault_free(v);
}

/* (RLIMIT_AS: sanitizer runtimes reserve terabytes of shadow memory and
 * abort on an allocation they cannot serve, so this runs in the plain
 * builds, as crypto_scrypt's ENOMEM test does.) */
#ifndef SANITIZED
Test(repo_hostile, index_body_length_beyond_its_body_does_not_lock_out)
{
	/* under a 4 GiB address-space limit, an index file claiming a 16 GiB
	 * body (within the old 2^34 cap) must be skipped as damaged, not
	 * make every load of the index fail for want of memory */
	astra_vault *v = new_vault();
	char id[33];
	backup_small_tree(v, id);
	uint8_t body[16];
	memcpy(body, ASTRA_INDEX_MAGIC, 8);
	memset(body + 8, 0, 8);
	put_index(v,
	        "index/ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	        "ffffffff",
	        body, sizeof(body), 1ULL << 34);
	astra_vault_free(v);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 4ULL << 30, 4ULL << 30 };
		setrlimit(RLIMIT_AS, &rl);
		astra_vault *cv = NULL;
		int rc = open_vault(&cv);
		astra__json *rep = NULL;
		if (!rc)
			rc = check_read_data(cv, &rep);
		fprintf(stderr, "check: %d %s\n", rc,
		        astra_error_last()->message);
		_exit(rc == 0 ? 0 : 1);
	}
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	        "the vault cannot be checked under a 4 GiB limit (status %d)",
	        st);
}
#endif

/* ---- key slots ---- */

/* Writes keys/<sid> with the given scrypt parameters and junk key. */
static void put_slot(const char *sid, const char *text)
{
	char key[100];
	snprintf(key, sizeof(key), "keys/%s", sid);
	astra__store *st = open_store();
	cr_assert_astra_ok(astra__store_put(st, key, text, strlen(text), NULL));
	astra__store_free(st);
}

static void put_scrypt_slot(const char *sid, int log2n, int r, int p)
{
	uint8_t junk[92];
	memset(junk, 0x41, sizeof(junk));
	astra_buf w = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__base64_encode(&w, junk, sizeof(junk)));
	char text[512];
	snprintf(text, sizeof(text),
	        "{\"kdf\": \"scrypt\", \"log2n\": %d, \"r\": %d, \"p\": %d, "
	        "\"salt\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", "
	        "\"wrapped_key\": \"%s\"}",
	        log2n, r, p, w.ptr);
	put_slot(sid, text);
	astra_buf_dispose(&w);
}

Test(repo_hostile, poisoned_slot_at_the_top_of_the_old_range_does_not_lock_out)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	/* log2n 30, r 64: 8 TiB per lane (accepted before); several, so
	 * that at least one is listed before the valid slot */
	put_scrypt_slot("00000000000000000000000000000000", 30, 64, 1);
	put_scrypt_slot("11111111111111111111111111111111", 30, 8, 1);
	put_scrypt_slot("77777777777777777777777777777777", 30, 64, 64);
	put_scrypt_slot("ffffffffffffffffffffffffffffffff", 22, 64, 64);
	capture_log();
	double t0 = now_s();
	cr_assert_astra_ok(open_vault(&v));
	double took = now_s() - t0;
	cr_assert_lt(took, 5.0, "opening took %.1f s", took);
	cr_assert(strstr(logged, "skipping key slot "
	                         "keys/00000000000000000000000000000000"),
	        "%s", logged);
	cr_assert(strstr(logged, "out of range") ||
	                  strstr(logged, "MiB per lane"),
	        "%s", logged);
	astra_vault_free(v);

	/* with a wrong password, the error counts the skipped slots */
	astra_vault_options o = test_vault_options("wrong", 2);
	cr_assert_astra_fail(astra_vault_open(&v, url, &o), ASTRA_EAUTH);
	cr_assert(strstr(astra_error_last()->message, "wrong password or key"));
	cr_assert(strstr(astra_error_last()->message,
	                  "1 key slot(s) tried; 4 skipped"),
	        "%s", astra_error_last()->message);
	cr_assert(strstr(astra_error_last()->message,
	                  "4 with scrypt parameters out of range"),
	        "%s", astra_error_last()->message);
}

Test(repo_hostile, costly_slot_in_range_is_tried_after_the_cheap_valid_one)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	/* N = 2^20, r = 8, p = 2: 1 GiB per lane, within the reader's
	 * bounds, seconds of work; six of them, listed before or after the
	 * valid slot (store order), and none may be derived before the
	 * valid one, which costs N = 2^10 */
	const char *sids[] = { "00000000000000000000000000000000",
		"3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c",
		"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
		"9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e",
		"c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4",
		"ffffffffffffffffffffffffffffffff" };
	for (size_t i = 0; i < sizeof(sids) / sizeof(*sids); i++)
		put_scrypt_slot(sids[i], 20, 8, 2);
	double t0 = now_s();
	cr_assert_astra_ok(open_vault(&v));
	double took = now_s() - t0;
	cr_assert_lt(took, 1.5, "opening took %.1f s", took);
	astra_vault_free(v);
}

/* (RLIMIT_AS: sanitizer runtimes reserve terabytes of shadow memory and
 * abort on an allocation they cannot serve, so this runs in the plain
 * builds, as crypto_scrypt's ENOMEM test does.) */
#ifndef SANITIZED
Test(repo_hostile, slot_whose_memory_cannot_be_had_is_skipped_not_fatal)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	/* in range (1 GiB per lane), but more than this process may have */
	put_scrypt_slot("00000000000000000000000000000000", 20, 8, 1);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 768ULL << 20, 768ULL << 20 };
		setrlimit(RLIMIT_AS, &rl);
		astra_vault_options o = test_vault_options("wrong", 2);
		astra_vault *cv = NULL;
		int rc = astra_vault_open(&cv, url, &o);
		const char *m = astra_error_last()->message;
		fprintf(stderr, "open: %d %s\n", rc, m);
		_exit(rc == ASTRA_EAUTH && strstr(m, "1 out of memory") ? 0
		                                                        : 1);
	}
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	        "ENOMEM in one slot was not skipped (status %d)", st);
	/* the right password opens with the cheap slot */
	cr_assert_astra_ok(open_vault(&v));
	astra_vault_free(v);
}
#endif

Test(repo_hostile, kdf_log2n_below_the_minimum_is_refused_when_writing)
{
	astra_vault *v = NULL;
	astra_vault_options o = test_vault_options("correct horse", 2);
	o.kdf_log2n = 1; /* N = 2 */
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message,
	                  "kdf_log2n 1 is out of range (10 to 20"),
	        "%s", astra_error_last()->message);
	o.kdf_log2n = 9;
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EINVALID);
	/* a slot no reader would open is not written either */
	o.kdf_log2n = 20;
	o.kdf_p = 64;
	cr_assert_astra_fail(astra_vault_init(&v, url, &o), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "more than a reader"),
	        "%s", astra_error_last()->message);
	o.kdf_log2n = 10;
	o.kdf_p = 0;
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	astra_vault_free(v);
}

Test(repo_hostile, malformed_slots_are_skipped_and_all_malformed_is_said)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	put_slot("00000000000000000000000000000000", "{\"kdf\": \"scrypt\", ");
	put_slot("11111111111111111111111111111111",
	        "{\"kdf\": \"scrypt\", \"log2n\": 10.5, \"r\": 8, \"p\": 1, "
	        "\"salt\": \"AAAA\", \"wrapped_key\": \"AAAA\"}");
	put_slot("22222222222222222222222222222222", "[1, 2, 3]");
	put_slot("33333333333333333333333333333333",
	        "{\"kdf\": \"hkdf-sha256\", \"salt\": \"AAAA\", "
	        "\"wrapped_key\": \"!!!\"}");
	capture_log();
	cr_assert_astra_ok(open_vault(&v));
	astra_vault_free(v);
	cr_assert(strstr(logged, "skipping key slot "
	                         "keys/00000000000000000000000000000000"),
	        "%s", logged);
	cr_assert(strstr(logged, "keys/33333333333333333333333333333333 is "
	                         "malformed: wrapped_key"),
	        "%s", logged);

	/* the valid slot gone: every remaining slot is malformed */
	astra__store *st = open_store();
	astra__json *keys = astra__json_new_array();
	cr_assert_geq(astra__store_list(st, "keys/", collect_key, keys), 0);
	for (size_t i = 0; i < astra__json_size(keys); i++) {
		const char *k =
		        astra__json_string_value(astra__json_at(keys, i));
		if (!strstr(k, "0000000") && !strstr(k, "1111111") &&
		        !strstr(k, "2222222") && !strstr(k, "3333333"))
			cr_assert_astra_ok(astra__store_del(st, k));
	}
	astra__json_free(keys);
	astra__store_free(st);
	cr_assert_astra_fail(open_vault(&v), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message,
	                  "all 4 key slot(s) are malformed"),
	        "%s", astra_error_last()->message);
}

Test(repo_hostile, oversized_slot_is_refused_unread)
{
	astra_vault *v = new_vault();
	astra_vault_free(v);
	/* 8 MiB of JSON whitespace around a valid-looking slot */
	size_t n = 8u << 20;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	const char *tail = "{\"kdf\": \"hkdf-sha256\", \"salt\": \"AAAA\"}";
	memcpy(big + n - strlen(tail), tail, strlen(tail));
	big[n] = 0;
	put_slot("00000000000000000000000000000000", big);
	free(big);
	capture_log();
	cr_assert_astra_ok(open_vault(&v));
	astra_vault_free(v);
	cr_assert(strstr(logged, "keys/00000000000000000000000000000000 is "
	                         "malformed: 8388608 bytes, more than a key "
	                         "slot's 65536"),
	        "%s", logged);
}

/* ---- backup of a tree that changes under it ---- */

static char swap_target[4400], swap_to[4400];
static int swap_kind; /* 1: symlink to swap_to, 2: FIFO */
static int swaps;

static void swap_entry(const char *abs)
{
	if (strcmp(abs, swap_target) != 0 || swaps)
		return;
	swaps++;
	char aside[4500];
	snprintf(aside, sizeof(aside), "%s.aside", abs);
	cr_assert_eq(rename(abs, aside), 0);
	if (swap_kind == 1)
		cr_assert_eq(symlink(swap_to, abs), 0);
	else if (swap_kind == 2)
		cr_assert_eq(mkfifo(abs, 0644), 0);
	else
		cr_assert_eq(rename(swap_to, abs), 0);
}

/* Backs up src with `name` swapped between its lstat and its open. */
static int backup_with_swap(astra_vault *v, const char *name, int kind,
        const char *to, astra_data_backup_result *res)
{
	char *src = path_in("src");
	snprintf(swap_target, sizeof(swap_target), "%s/%s", src, name);
	snprintf(swap_to, sizeof(swap_to), "%s", to ? to : "");
	swap_kind = kind;
	swaps = 0;
	memset(res, 0, sizeof(*res));
	res->version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	astra_data_backup_options bo;
	astra_data_backup_options_init(&bo, ASTRA_DATA_BACKUP_OPTIONS_VERSION);
	bo.flags = ASTRA_BACKUP_F_NO_SCAN;
	astra__backup_test_swap = swap_entry;
	int rc = astra_vault_backup_path(v, src, &bo, res);
	astra__backup_test_swap = NULL;
	free(src);
	return rc;
}

/* Whether any file under dir holds `needle`. */
static int tree_contains(const char *dir, const char *needle)
{
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "grep -rqs -- '%s' '%s'", needle, dir);
	return system(cmd) == 0;
}

static void make_source(void)
{
	char *src = path_in("src");
	char *sub = path_in("src/sub");
	char *out = path_in("outside");
	mkdir(src, 0755);
	mkdir(sub, 0755);
	mkdir(out, 0700);
	char p[4500];
	snprintf(p, sizeof(p), "%s/victim", src);
	FILE *f = fopen(p, "w");
	fputs("ordinary content\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/other", src);
	f = fopen(p, "w");
	fputs("other content\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/in-sub", sub);
	f = fopen(p, "w");
	fputs("sub content\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/secret", out);
	f = fopen(p, "w");
	fputs("OUTSIDE-SECRET-CONTENT\n", f);
	fclose(f);
	chmod(p, 0600);
	free(src);
	free(sub);
	free(out);
}

static void restore_to(astra_vault *v, const char *id, const char *dst)
{
	astra_data_restore_result rr;
	memset(&rr, 0, sizeof(rr));
	rr.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, id, dst, NULL, &rr, NULL));
}

Test(repo_hostile, file_swapped_for_a_symlink_after_lstat_is_not_followed)
{
	make_source();
	astra_vault *v = new_vault();
	char *secret = path_in("outside/secret");
	astra_data_backup_result res;
	int rc = backup_with_swap(v, "victim", 1, secret, &res);
	cr_assert_eq(swaps, 1, "the hook did not run");
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	cr_assert_eq(res.errors, 1);
	cr_assert(strstr(astra_error_last()->message, "victim"), "%s",
	        astra_error_last()->message);
	cr_assert(strstr(astra_error_last()->message,
	                  "changed during the backup"),
	        "%s", astra_error_last()->message);
	char *dst = path_in("dst");
	restore_to(v, res.id, dst);
	cr_assert(!tree_contains(dst, "OUTSIDE-SECRET"),
	        "the outside file was captured");
	char *other = path_in("dst/other");
	cr_assert_eq(access(other, F_OK), 0, "the rest is backed up");
	astra_vault_free(v);
	free(secret);
	free(dst);
	free(other);
}

Test(repo_hostile, fifo_swapped_in_for_a_file_does_not_hang_the_backup,
        .timeout = 30)
{
	make_source();
	astra_vault *v = new_vault();
	astra_data_backup_result res;
	double t0 = now_s();
	int rc = backup_with_swap(v, "victim", 2, NULL, &res);
	cr_assert_lt(now_s() - t0, 20.0);
	cr_assert_eq(swaps, 1, "the hook did not run");
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	cr_assert_eq(res.errors, 1);
	cr_assert(strstr(astra_error_last()->message, "victim"), "%s",
	        astra_error_last()->message);
	cr_assert(strstr(astra_error_last()->message, "FIFO"), "%s",
	        astra_error_last()->message);
	astra_vault_free(v);
}

Test(repo_hostile, directory_swapped_for_a_symlink_after_lstat_is_not_followed)
{
	make_source();
	astra_vault *v = new_vault();
	char *out = path_in("outside");
	astra_data_backup_result res;
	int rc = backup_with_swap(v, "sub", 1, out, &res);
	cr_assert_eq(swaps, 1, "the hook did not run");
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	cr_assert_eq(res.errors, 1);
	cr_assert(strstr(astra_error_last()->message, "sub"), "%s",
	        astra_error_last()->message);
	char *dst = path_in("dst");
	restore_to(v, res.id, dst);
	cr_assert(!tree_contains(dst, "OUTSIDE-SECRET"),
	        "the outside directory was captured");
	astra_vault_free(v);
	free(out);
	free(dst);
}

Test(repo_hostile, file_replaced_by_another_file_is_read_on_the_second_try)
{
	/* a rename over the file between its lstat and its open (an editor
	 * saving it): the new file is read on the second try, not reported */
	make_source();
	astra_vault *v = new_vault();
	char *repl = path_in("replacement");
	FILE *f = fopen(repl, "w");
	fputs("replacement content\n", f);
	fclose(f);
	astra_data_backup_result res;
	cr_assert_astra_ok(backup_with_swap(v, "victim", 3, repl, &res));
	cr_assert_eq(swaps, 1, "the hook did not run");
	cr_assert_eq(res.errors, 0);
	char *dst = path_in("dst");
	restore_to(v, res.id, dst);
	char *back = path_in("dst/victim");
	cr_assert(tree_contains(back, "replacement content"));
	astra_vault_free(v);
	free(repl);
	free(dst);
	free(back);
}
