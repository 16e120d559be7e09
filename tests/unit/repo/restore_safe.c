/*
 * Data restore safety (lib/repo/restore.c): a restore creates, follows and
 * changes nothing outside its target, never clobbers unless asked, and
 * reports everything it refuses. The hostile snapshots are forged: tree
 * blobs written as JSON text and a snapshot record, sealed with the
 * vault's keys through the internal writer, so they restore like any
 * other snapshot.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "vault_test.h"
#include "core/base64.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/data.h"
#include "repo/repo.h"
#include "repo/tree.h"
#include "repo/vault_internal.h"

static char *work;
static astra_vault *v;
static astra__writer *w;

static void setup(void)
{
	work = fst_tmpdir("restore-safe");
	char url[4400];
	snprintf(url, sizeof(url), "file://%s/vault", work);
	astra_vault_options o = test_vault_options("correct horse", 2);
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
}

static void teardown(void)
{
	astra_vault_free(v);
	fst_rmrf(work);
	free(work);
}

TestSuite(repo_restore_safe, .init = setup, .fini = teardown, .timeout = 120);

/* ---- forging snapshots ---- */

/* A path under the test's directory (a static buffer of 8). */
static const char *at(const char *rel)
{
	static char bufs[8][4400];
	static int n;
	char *b = bufs[n++ % 8];
	snprintf(b, 4400, "%s/%s", work, rel);
	return b;
}

static void forge_begin(void)
{
	cr_assert_astra_ok(astra__writer_new(&w, v->r));
}

static void put_blob(int type, const char *data, size_t n, char *hex)
{
	astra__id id;
	int is_new = 0;
	cr_assert_astra_ok(
	        astra__writer_add(w, type, data, n, &id, 0, &is_new));
	astra__id_hex(&id, hex);
}

/* Stores a tree blob {"nodes":[...]} with the nodes given as JSON text;
 * returns its id (malloc'd). */
static char *tree(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tree(const char *fmt, ...)
{
	char nodes[16384], text[16500];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(nodes, sizeof(nodes), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "{\"nodes\":[%s]}", nodes);
	astra__json *check = NULL;
	cr_assert_astra_ok(
	        astra__json_parse(&check, text, strlen(text), "forged tree"));
	astra__json_free(check);
	char *hex = malloc(ASTRA_ID_HEX);
	put_blob(ASTRA_BLOB_TREE, text, strlen(text), hex);
	return hex;
}

/* A regular file node's members after its name: type, mode, size and
 * extents of `content` (malloc'd). */
static char *file_body(const char *content, int mode)
{
	char hex[ASTRA_ID_HEX];
	size_t n = strlen(content);
	put_blob(ASTRA_BLOB_DATA, content, n, hex);
	char *out = malloc(512);
	snprintf(out, 512,
	        "\"type\":\"file\",\"mode\":%d,\"size\":%zu,\"extents\":"
	        "[{\"offset\":0,\"chunks\":[[\"%s\",%zu]]}]",
	        mode, n, hex, n);
	return out;
}

/* base64 of n bytes (malloc'd) */
static char *b64(const void *data, size_t n)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__base64_encode(&b, data, n));
	return astra__buf_detach(&b);
}

/* Flushes the blobs and saves a snapshot record for root tree `root`;
 * returns the snapshot id (malloc'd). */
static char *forge_end(char *root)
{
	cr_assert_astra_ok(astra__writer_flush(w));
	astra__writer_free(w);
	w = NULL;
	char text[1024];
	snprintf(text, sizeof(text),
	        "{\"time\":\"2026-12-01T00:00:00Z\",\"host\":\"test\","
	        "\"source\":\"/forged\",\"kind\":\"data\",\"tree\":\"%s\","
	        "\"stats\":{\"files\":0,\"dirs\":0,\"bytes\":0}}",
	        root);
	astra__json *rec = NULL;
	cr_assert_astra_ok(
	        astra__json_parse(&rec, text, strlen(text), "record"));
	char id[33];
	cr_assert_astra_ok(astra__snapshot_save(v->r, rec, id));
	astra__json_free(rec);
	free(root);
	return strdup(id);
}

/* ---- restoring and checking ---- */

static int restore(const char *id, const char *dst, unsigned flags,
        int no_openat2, astra__json **report)
{
	astra__restore_params p;
	memset(&p, 0, sizeof(p));
	p.flags = flags;
	p.no_openat2 = no_openat2;
	astra__restore_out o;
	memset(&o, 0, sizeof(o));
	int rc = astra__data_restore(v->r, id, dst, &p, &o);
	if (report)
		*report = o.report;
	else
		astra__json_free(o.report);
	return rc;
}

/* Report entries whose path equals `path` (NULL: any) and whose error
 * contains `what`. */
static int reported(const astra__json *rep, const char *path, const char *what)
{
	int n = 0;
	for (size_t i = 0; i < astra__json_size(rep); i++) {
		const astra__json *e = astra__json_at(rep, i);
		const char *p = astra__json_str(e, "path");
		const char *err = astra__json_str(e, "error");
		if (p && err && (!path || !strcmp(p, path)) &&
		        strstr(err, what))
			n++;
	}
	return n;
}

static void dump(const astra__json *rep)
{
	for (size_t i = 0; i < astra__json_size(rep); i++) {
		const astra__json *e = astra__json_at(rep, i);
		cr_log_info("report: %s: %s", astra__json_str(e, "path"),
		        astra__json_str(e, "error"));
	}
}

static int exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static size_t entries(const char *dir)
{
	char cmd[4600];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *f = popen(cmd, "r");
	cr_assert(f);
	size_t n = 0;
	cr_assert_eq(fscanf(f, "%zu", &n), 1);
	pclose(f);
	return n;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* work/out: a directory outside every target, mode 0700, holding the file
 * "victim" (0644, "outside\n"). */
static void make_outside(struct stat *dir_sb, struct stat *victim_sb)
{
	cr_assert_eq(mkdir(at("out"), 0700), 0);
	cr_assert_eq(chmod(at("out"), 0700), 0);
	fst_write(at("out/victim"), "outside\n", 8);
	cr_assert_eq(chmod(at("out/victim"), 0644), 0);
	cr_assert_eq(lstat(at("out"), dir_sb), 0);
	cr_assert_eq(lstat(at("out/victim"), victim_sb), 0);
}

/* The outside directory and its file are exactly as make_outside left
 * them. */
static void outside_untouched(const struct stat *dir0, const struct stat *v0)
{
	struct stat d, f;
	cr_assert_eq(lstat(at("out"), &d), 0);
	cr_assert(S_ISDIR(d.st_mode), "work/out is no longer a directory");
	cr_assert_eq(d.st_mode & 07777, dir0->st_mode & 07777,
	        "outside directory mode changed: %o", d.st_mode & 07777);
	cr_assert_eq(d.st_uid, dir0->st_uid);
	cr_assert_eq(entries(at("out")), 1, "something was created outside");
	cr_assert_eq(lstat(at("out/victim"), &f), 0);
	cr_assert_eq(f.st_ino, v0->st_ino);
	cr_assert_eq(f.st_nlink, 1, "outside file got a hard link");
	cr_assert_eq(f.st_mode & 07777, 0644);
	cr_assert_str_eq(slurp(at("out/victim")), "outside\n");
}

/* ---- the cases ---- */

Test(repo_restore_safe, unsafe_names_are_refused_and_reported)
{
	forge_begin();
	char *content = file_body("pwned\n", 0644);
	char *inner = tree("{\"name\":\"astra-pwn-1\",%s}", content);
	char *empty = tree("%s", "");
	char *nul = b64("ok\0/../astra-pwn-2", 18);
	char *slash = b64("../astra-pwn-3", 14);
	char *root = tree("{\"name\":\"\",%s},"
	                  "{\"name\":\".\",%s},"
	                  "{\"name\":\"..\",\"type\":\"dir\",\"mode\":511,"
	                  "\"subtree\":\"%s\"},"
	                  "{\"name\":\"a\",\"type\":\"dir\",\"mode\":493,"
	                  "\"subtree\":\"%s\"},"
	                  "{\"name\":\"a/b\",%s},"
	                  "{\"name_b64\":\"%s\",%s},"
	                  "{\"name_b64\":\"%s\",%s},"
	                  "{\"name\":\"ok\",%s}",
	        content, content, inner, empty, content, nul, content, slash,
	        content, content);
	free(inner);
	free(empty);
	char *id = forge_end(root);
	astra__json *rep = NULL;
	int rc = restore(id, at("dst"), 0, 0, &rep);
	dump(rep);
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	/* restored: "a" and "ok"; nothing else, inside or out */
	cr_assert_str_eq(slurp(at("dst/ok")), "pwned\n");
	cr_assert(exists(at("dst/a")));
	cr_assert_eq(entries(at("dst")), 2);
	cr_assert_eq(entries(at("dst/a")), 0, "\"a/b\" was created");
	cr_assert(!exists(at("astra-pwn-1")));
	cr_assert(!exists(at("astra-pwn-2")));
	cr_assert(!exists(at("astra-pwn-3")));
	cr_assert(!exists(at("../astra-pwn-1")));
	cr_assert(!exists(at("../astra-pwn-3")));
	cr_assert_eq(entries(work), 2, "something was created next to dst");
	/* each one reported, the NUL name too, with its bytes shown */
	cr_assert_eq(reported(rep, NULL, "name: "), 6);
	cr_assert_eq(reported(rep, "..", "unsafe name"), 1);
	cr_assert_eq(reported(rep, "a\\x2fb", "unsafe name"), 1);
	cr_assert_eq(reported(rep, ".", "unsafe name"), 2); /* "" and "." */
	cr_assert_eq(reported(rep, "ok\\x00\\x2f..\\x2fastra-pwn-2",
	                     "contains a NUL byte"),
	        1);
	cr_assert_eq(reported(rep, "..\\x2fastra-pwn-3", "unsafe name"), 1);
	astra__json_free(rep);
	free(id);
	free(nul);
	free(slash);
	free(content);
}

Test(repo_restore_safe, symlink_then_directory_of_the_same_name)
{
	struct stat d0, v0;
	make_outside(&d0, &v0);
	for (int ow = 0; ow < 2; ow++) {
		forge_begin();
		char *content = file_body("planted\n", 0644);
		char *inner = tree("{\"name\":\"planted\",%s}", content);
		char *root = tree(
		        "{\"name\":\"esc\",\"type\":\"symlink\",\"target\":"
		        "\"%s\"},"
		        "{\"name\":\"esc\",\"type\":\"dir\",\"mode\":511,"
		        "\"mtime\":[1000,0],\"subtree\":\"%s\"}",
		        at("out"), inner);
		free(inner);
		char *id = forge_end(root);
		const char *dst = at(ow ? "dst-ow" : "dst");
		astra__json *rep = NULL;
		int rc = restore(id, dst,
		        ow ? ASTRA_DATA_RESTORE_F_OVERWRITE : 0, 0, &rep);
		dump(rep);
		outside_untouched(&d0, &v0);
		char p[4500];
		snprintf(p, sizeof(p), "%s/esc", dst);
		struct stat sb;
		cr_assert_eq(lstat(p, &sb), 0);
		if (ow) {
			/* the directory replaced the symlink */
			cr_assert_astra_ok(rc);
			cr_assert(S_ISDIR(sb.st_mode));
			cr_assert_eq(sb.st_mode & 0777, 0777);
			snprintf(p, sizeof(p), "%s/esc/planted", dst);
			cr_assert_str_eq(slurp(p), "planted\n");
		} else {
			/* refused: the symlink stays, never followed */
			cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
			cr_assert(S_ISLNK(sb.st_mode));
			cr_assert_eq(
			        reported(rep, "esc", "not a directory"), 1);
		}
		astra__json_free(rep);
		free(content);
		free(id);
	}
}

Test(repo_restore_safe, hard_link_through_a_restored_symlink_is_refused)
{
	struct stat d0, v0;
	make_outside(&d0, &v0);
	for (int no2 = 0; no2 < 2; no2++) {
		forge_begin();
		char *root = tree(
		        "{\"name\":\"esc\",\"type\":\"symlink\",\"target\":"
		        "\"%s\"},"
		        "{\"name\":\"x\",\"type\":\"file\",\"mode\":420,"
		        "\"hardlink\":\"esc/victim\"}",
		        at("out"));
		char *id = forge_end(root);
		const char *dst = at(no2 ? "dst2" : "dst");
		astra__json *rep = NULL;
		int rc = restore(id, dst, 0, no2, &rep);
		dump(rep);
		cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
		outside_untouched(&d0, &v0);
		char p[4500];
		snprintf(p, sizeof(p), "%s/x", dst);
		cr_assert(!exists(p), "the link was made");
		cr_assert_eq(reported(rep, "x", "hardlink: "), 1);
		astra__json_free(rep);
		free(id);
	}
}

Test(repo_restore_safe, symlink_in_the_target_where_a_directory_goes)
{
	struct stat d0, v0;
	make_outside(&d0, &v0);
	for (int run = 0; run < 3; run++) {
		/* 0: no overwrite; 1: overwrite; 2: overwrite, no openat2 */
		char dst[64];
		snprintf(dst, sizeof(dst), "dst%d", run);
		cr_assert_eq(mkdir(at(dst), 0755), 0);
		char link[128];
		snprintf(link, sizeof(link), "%s/d", dst);
		cr_assert_eq(symlink(at("out"), at(link)), 0);
		forge_begin();
		char *content = file_body("inside\n", 0600);
		char *inner = tree("{\"name\":\"f\",\"nlink\":2,%s}", content);
		char *root =
		        tree("{\"name\":\"d\",\"type\":\"dir\",\"mode\":511,"
		             "\"mtime\":[1000,0],\"subtree\":\"%s\"},"
		             "{\"name\":\"g\",\"type\":\"file\","
		             "\"hardlink\":\"d/f\"}",
		                inner);
		free(inner);
		char *id = forge_end(root);
		astra__json *rep = NULL;
		int rc = restore(id, at(dst),
		        run ? ASTRA_DATA_RESTORE_F_OVERWRITE : 0, run == 2,
		        &rep);
		dump(rep);
		outside_untouched(&d0, &v0);
		struct stat sb, g;
		cr_assert_eq(lstat(at(link), &sb), 0);
		if (!run) {
			cr_assert_astra_fail(rc, ASTRA_EEXISTS);
			cr_assert(strstr(
			        astra_error_last()->message, "--overwrite"));
			cr_assert(S_ISLNK(sb.st_mode));
		} else {
			cr_assert_astra_ok(rc);
			cr_assert(S_ISDIR(sb.st_mode));
			cr_assert_eq(sb.st_mode & 0777, 0777);
			cr_assert_eq(sb.st_mtime, 1000);
			snprintf(link, sizeof(link), "%s/d/f", dst);
			cr_assert_eq(lstat(at(link), &sb), 0);
			snprintf(link, sizeof(link), "%s/g", dst);
			cr_assert_eq(lstat(at(link), &g), 0);
			cr_assert_eq(sb.st_ino, g.st_ino);
			cr_assert_eq(sb.st_nlink, 2);
		}
		astra__json_free(rep);
		free(content);
		free(id);
	}
}

Test(repo_restore_safe, setuid_only_with_the_owner)
{
	if (geteuid() != 0) {
		cr_skip_test(
		        "restoring owners needs root (uid %d)", (int)geteuid());
		return;
	}
	forge_begin();
	/* a valid version 2 capability set: cap_net_bind_service, effective */
	uint32_t cap[5] = { 0x02000001u, 1u << 10, 0, 0, 0 };
	char *capv = b64(cap, sizeof(cap));
	char *tool = file_body("#!/bin/sh\n", 04755);
	char *root = tree("{\"name\":\"sticky\",\"type\":\"dir\",\"mode\":1023,"
	                  "\"uid\":1234,\"gid\":1234},"
	                  "{\"name\":\"tool\",\"uid\":1234,\"gid\":1234,"
	                  "\"xattrs\":{\"security.capability\":\"%s\"},%s}",
	        capv, tool);
	char *id = forge_end(root);
	struct stat sb;
	char val[64];
	/* without the owner: no setuid, no sticky bit, no capability, and
	 * that is not an error */
	cr_assert_astra_ok(
	        restore(id, at("dst"), ASTRA_DATA_RESTORE_F_NO_OWNER, 0, NULL));
	cr_assert_eq(lstat(at("dst/tool"), &sb), 0);
	cr_assert_eq(sb.st_uid, 0);
	cr_assert_eq(sb.st_mode & 07777, 0755, "mode %o", sb.st_mode & 07777);
	cr_assert_eq(getxattr(at("dst/tool"), "security.capability", val,
	                     sizeof(val)),
	        -1);
	cr_assert_eq(lstat(at("dst/sticky"), &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0777, "mode %o", sb.st_mode & 07777);
	/* with it (as root): all kept */
	cr_assert_astra_ok(restore(id, at("dst2"), 0, 0, NULL));
	cr_assert_eq(lstat(at("dst2/tool"), &sb), 0);
	cr_assert_eq(sb.st_uid, 1234);
	cr_assert_eq(sb.st_mode & 07777, 04755, "mode %o", sb.st_mode & 07777);
	cr_assert_gt(getxattr(at("dst2/tool"), "security.capability", val,
	                     sizeof(val)),
	        0);
	cr_assert_eq(lstat(at("dst2/sticky"), &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 01777);
	free(capv);
	free(tool);
	free(id);
}

Test(repo_restore_safe, device_nodes_only_when_asked)
{
	forge_begin();
	/* /dev/null's numbers, world-writable */
	char rdev[32];
	snprintf(rdev, sizeof(rdev), "%llx", (unsigned long long)makedev(1, 3));
	char *root =
	        tree("{\"name\":\"fifo\",\"type\":\"fifo\",\"mode\":416},"
	             "{\"name\":\"null\",\"type\":\"chardev\",\"mode\":438,"
	             "\"rdev\":\"%s\"},"
	             "{\"name\":\"sda\",\"type\":\"blockdev\",\"mode\":438,"
	             "\"rdev\":\"%llx\"}",
	                rdev, (unsigned long long)makedev(8, 0));
	char *id = forge_end(root);
	astra__json *rep = NULL;
	int rc = restore(id, at("dst"), 0, 0, &rep);
	dump(rep);
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	cr_assert(!exists(at("dst/null")));
	cr_assert(!exists(at("dst/sda")));
	cr_assert_eq(
	        reported(rep, "null", "skipped: device node, use --devices"),
	        1);
	cr_assert_eq(
	        reported(rep, "sda", "skipped: device node, use --devices"), 1);
	cr_assert_eq(astra__json_size(rep), 2);
	struct stat sb;
	/* a FIFO grants nothing: restored either way */
	cr_assert_eq(lstat(at("dst/fifo"), &sb), 0);
	cr_assert(S_ISFIFO(sb.st_mode));
	cr_assert_eq(sb.st_mode & 07777, 0640);
	astra__json_free(rep);
	if (geteuid() != 0) {
		cr_skip_test("creating device nodes needs root");
		return;
	}
	cr_assert_astra_ok(
	        restore(id, at("dst2"), ASTRA_DATA_RESTORE_F_DEVICES, 0, NULL));
	cr_assert_eq(lstat(at("dst2/null"), &sb), 0);
	cr_assert(S_ISCHR(sb.st_mode));
	cr_assert_eq(sb.st_rdev, makedev(1, 3));
	cr_assert_eq(sb.st_mode & 07777, 0666);
	cr_assert_eq(lstat(at("dst2/sda"), &sb), 0);
	cr_assert(S_ISBLK(sb.st_mode));
	cr_assert_eq(lstat(at("dst2/fifo"), &sb), 0);
	cr_assert(S_ISFIFO(sb.st_mode));
	free(id);
}

Test(repo_restore_safe, existing_content_needs_overwrite)
{
	struct stat d0, v0;
	make_outside(&d0, &v0);
	forge_begin();
	char *fnew = file_body("new f\n", 0644);
	char *hnew = file_body("new h\n", 0644);
	char *root =
	        tree("{\"name\":\"f\",%s},{\"name\":\"h\",%s}", fnew, hnew);
	char *id = forge_end(root);
	cr_assert_eq(mkdir(at("dst"), 0755), 0);
	fst_write(at("dst/f"), "old f\n", 6);
	fst_write(at("dst/keep"), "mine\n", 5);
	/* a hard link to a file outside, where the snapshot has "h" */
	cr_assert_eq(link(at("out/victim"), at("dst/h")), 0);
	cr_assert_astra_fail(restore(id, at("dst"), 0, 0, NULL), ASTRA_EEXISTS);
	const char *msg = astra_error_last()->message;
	cr_assert(strstr(msg, at("dst")) && strstr(msg, "--overwrite") &&
	                  strstr(msg, "not empty"),
	        "message: %s", msg);
	cr_assert_str_eq(slurp(at("dst/f")), "old f\n");
	cr_assert_str_eq(slurp(at("dst/keep")), "mine\n");
	cr_assert_str_eq(slurp(at("out/victim")), "outside\n");
	/* with overwrite: replaced, the outside file not written through */
	cr_assert_astra_ok(restore(
	        id, at("dst"), ASTRA_DATA_RESTORE_F_OVERWRITE, 0, NULL));
	cr_assert_str_eq(slurp(at("dst/f")), "new f\n");
	cr_assert_str_eq(slurp(at("dst/h")), "new h\n");
	cr_assert_str_eq(slurp(at("dst/keep")), "mine\n");
	outside_untouched(&d0, &v0);
	/* an empty lost+found alone does not count */
	cr_assert_eq(mkdir(at("dst2"), 0755), 0);
	cr_assert_eq(mkdir(at("dst2/lost+found"), 0700), 0);
	cr_assert_astra_ok(restore(id, at("dst2"), 0, 0, NULL));
	cr_assert_str_eq(slurp(at("dst2/f")), "new f\n");
	/* a file as the target */
	fst_write(at("file"), "x", 1);
	cr_assert_astra_fail(
	        restore(id, at("file"), 0, 0, NULL), ASTRA_EEXISTS);
	free(fnew);
	free(hnew);
	free(id);
}

Test(repo_restore_safe, hard_links_with_dots_in_names)
{
	for (int no2 = 0; no2 < 2; no2++) {
		forge_begin();
		char *content = file_body("linked\n", 0640);
		char *inner = tree("{\"name\":\"f\",\"nlink\":3,%s}", content);
		char *root =
		        tree("{\"name\":\"g\",\"type\":\"file\",\"hardlink\":"
		             "\"x..y/f\"},"
		             "{\"name\":\"h\",\"type\":\"file\",\"hardlink\":"
		             "\"x..y/../x..y/f\"},"
		             "{\"name\":\"i\",\"type\":\"file\",\"hardlink\":"
		             "\"/x..y/f\"},"
		             "{\"name\":\"x..y\",\"type\":\"dir\",\"mode\":493,"
		             "\"subtree\":\"%s\"}",
		                inner);
		free(inner);
		char *id = forge_end(root);
		const char *dst = at(no2 ? "dst2" : "dst");
		astra__json *rep = NULL;
		int rc = restore(id, dst, 0, no2, &rep);
		dump(rep);
		cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
		char p[4500], q[4500];
		struct stat a, b;
		snprintf(p, sizeof(p), "%s/x..y/f", dst);
		snprintf(q, sizeof(q), "%s/g", dst);
		cr_assert_eq(lstat(p, &a), 0);
		cr_assert_eq(
		        lstat(q, &b), 0, "the link under x..y was dropped");
		cr_assert_eq(a.st_ino, b.st_ino);
		cr_assert_str_eq(slurp(q), "linked\n");
		snprintf(q, sizeof(q), "%s/h", dst);
		cr_assert(!exists(q));
		cr_assert_eq(reported(rep, "h", "\"..\" component"), 1);
		snprintf(q, sizeof(q), "%s/i", dst);
		cr_assert(!exists(q));
		cr_assert_eq(reported(rep, "i", "not a plain path"), 1);
		cr_assert_eq(astra__json_size(rep), 2);
		astra__json_free(rep);
		free(content);
		free(id);
	}
}

Test(repo_restore_safe, subpath_restore_keeps_its_links)
{
	forge_begin();
	char *content = file_body("deep\n", 0644);
	char *sub = tree("{\"name\":\"f\",\"nlink\":2,%s},"
	                 "{\"name\":\"g\",\"type\":\"file\",\"hardlink\":"
	                 "\"top/mid/f\"},"
	                 "{\"name\":\"h\",\"type\":\"file\",\"hardlink\":"
	                 "\"top/other\"}",
	        content);
	char *mid = tree("{\"name\":\"mid\",\"type\":\"dir\",\"mode\":493,"
	                 "\"subtree\":\"%s\"},"
	                 "{\"name\":\"other\",\"nlink\":2,%s}",
	        sub, content);
	char *root = tree("{\"name\":\"top\",\"type\":\"dir\",\"mode\":493,"
	                  "\"subtree\":\"%s\"}",
	        mid);
	free(sub);
	free(mid);
	char *id = forge_end(root);
	astra__restore_params p;
	memset(&p, 0, sizeof(p));
	p.subpath = "top/mid";
	astra__restore_out o;
	memset(&o, 0, sizeof(o));
	int rc = astra__data_restore(v->r, id, at("dst"), &p, &o);
	dump(o.report);
	/* h's source is outside the restored subtree: reported */
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	cr_assert_eq(reported(o.report, "mid/h", "not a file this restore"), 1);
	cr_assert_eq(astra__json_size(o.report), 1);
	struct stat a, b;
	cr_assert_eq(lstat(at("dst/mid/f"), &a), 0);
	cr_assert_eq(lstat(at("dst/mid/g"), &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert(!exists(at("dst/mid/h")));
	astra__json_free(o.report);
	free(content);
	free(id);
}

Test(repo_restore_safe, symlinked_target_and_directory_in_the_way)
{
	struct stat d0, v0;
	make_outside(&d0, &v0);
	forge_begin();
	char *body = file_body("file\n", 0644);
	char *root = tree("{\"name\":\"victim\",%s}", body);
	char *id = forge_end(root);
	/* a target that is a symlink is refused, even with overwrite */
	cr_assert_eq(symlink(at("out"), at("link")), 0);
	cr_assert_astra_fail(restore(id, at("link"),
	                             ASTRA_DATA_RESTORE_F_OVERWRITE, 0, NULL),
	        ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "symlink"));
	outside_untouched(&d0, &v0);
	/* with overwrite, a directory in the way of a file stays: reported */
	cr_assert_eq(mkdir(at("dst"), 0755), 0);
	cr_assert_eq(mkdir(at("dst/victim"), 0755), 0);
	fst_write(at("dst/victim/keep"), "kept\n", 5);
	astra__json *rep = NULL;
	int rc =
	        restore(id, at("dst"), ASTRA_DATA_RESTORE_F_OVERWRITE, 0, &rep);
	dump(rep);
	cr_assert_astra_fail(rc, ASTRA_EPARTIAL);
	cr_assert_eq(reported(rep, "victim", "a directory is in the way"), 1);
	cr_assert_str_eq(slurp(at("dst/victim/keep")), "kept\n");
	astra__json_free(rep);
	free(body);
	free(id);
}
