/*
 * Re-backups: an unchanged entry reuses the parent snapshot's node, an
 * unchanged directory the parent's tree (lib/repo/backup.c, reuse_node and
 * finish_dir). Each change must still be seen: after it, the incremental
 * snapshot's root tree must be the very tree (same id, so the same bytes)
 * a backup without a parent writes, where every node is built from the
 * file system, and it must restore exactly.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "vault_test.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "fstree.h"
#include "repo/data.h"
#include "repo/tree.h"
#include "repo/vault_internal.h"

static char *work;
static astra_vault *v;

static void setup(void)
{
	work = fst_tmpdir("rebackup");
	char url[4400];
	snprintf(url, sizeof(url), "file://%s/vault", work);
	astra_vault_options o = test_vault_options("correct horse", 3);
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
}

static void teardown(void)
{
	astra_vault_free(v);
	fst_rmrf(work);
	free(work);
}

TestSuite(repo_rebackup, .init = setup, .fini = teardown, .timeout = 120);

static void pathf(char *out, const char *rel)
{
	snprintf(out, 4400, "%s/%s", work, rel);
}

/* Backs src up; root receives the snapshot's root tree id. */
static void backup(unsigned flags, astra__backup_out *out, char root[65])
{
	char src[4400];
	pathf(src, "src");
	astra__backup_params p;
	memset(&p, 0, sizeof(p));
	p.source = "src";
	p.flags = flags;
	memset(out, 0, sizeof(*out));
	cr_assert_astra_ok(astra__data_backup(v->r, src, &p, out));
	cr_assert_eq(out->errors, 0);
	astra__json *rec = NULL;
	cr_assert_astra_ok(astra__snapshot_load(v->r, out->id, &rec, NULL));
	const char *t = astra__json_str(rec, "tree");
	cr_assert(t && strlen(t) == 64);
	memcpy(root, t, 65);
	astra__json_free(rec);
}

/* Restores snapshot id into a fresh directory and compares it with src. */
static void restores_exactly(const char *id)
{
	static int n;
	char src[4400], dst[4400];
	pathf(src, "src");
	snprintf(dst, sizeof(dst), "%s/dst%d", work, n++);
	astra_data_restore_result rr;
	memset(&rr, 0, sizeof(rr));
	rr.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	cr_assert_astra_ok(
	        astra_vault_restore_path(v, id, dst, NULL, &rr, NULL));
	cr_assert_eq(fst_compare(src, dst), 0, "restored tree differs");
}

/* The source: the rich tree (hard links, symlinks, a sparse file, a fifo,
 * an xattr, a non-UTF-8 name) and a deeper one of many small files. */
static void make_source(void)
{
	char p[4400];
	pathf(p, "src");
	cr_assert_eq(mkdir(p, 0755), 0);
	fst_make_rich_tree(p);
	for (int a = 0; a < 3; a++) {
		snprintf(p, sizeof(p), "%s/src/deep%d", work, a);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/src/deep%d/b", work, a);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/src/deep%d/b/c", work, a);
		mkdir(p, 0755);
		for (int f = 0; f < 40; f++) {
			snprintf(p, sizeof(p), "%s/src/deep%d/b/c/f%02d", work,
			        a, f);
			fst_write_random(p, 1000 + (size_t)f * 97,
			        (uint64_t)(a * 100 + f));
		}
	}
}

/* Backs up incrementally and without a parent: both must give the same
 * root tree, different from `before` when something changed. */
static void same_as_full(const char *what, const char *before, int changed,
        char root[65], astra__backup_out *inc)
{
	astra__backup_out full;
	char froot[65];
	backup(0, inc, root);
	backup(ASTRA_DATA_BACKUP_F_NO_PARENT, &full, froot);
	cr_assert_str_eq(root, froot,
	        "%s: the incremental tree differs from a full backup's", what);
	if (changed)
		cr_assert_str_neq(root, before, "%s: change not seen", what);
	else
		cr_assert_str_eq(root, before, "%s: tree changed", what);
	cr_assert_eq(inc->files, full.files, "%s", what);
	cr_assert_eq(inc->dirs, full.dirs, "%s", what);
	cr_assert_eq(inc->bytes_total, full.bytes_total, "%s", what);
	restores_exactly(inc->id);
}

Test(repo_rebackup, unchanged_rebackup_reuses_nodes_and_trees)
{
	make_source();
	astra__backup_out r1, r2;
	char t1[65], t2[65];
	backup(0, &r1, t1);
	cr_assert_eq(r1.nodes_reused, 0);
	cr_assert_eq(r1.trees_reused, 0);
	same_as_full("unchanged", t1, 0, t2, &r2);
	cr_assert_eq(r2.files, r1.files);
	/* (the second name of the hard-linked file is not counted) */
	cr_assert_eq(r2.unchanged, r1.files - 1, "%llu of %llu unchanged",
	        (unsigned long long)r2.unchanged, (unsigned long long)r1.files);
	cr_assert_eq(r2.bytes_read, 0);
	cr_assert_eq(r2.bytes_new, 0);
	/* every directory's tree reused, and every node but the
	 * directories and the two hard-linked files taken as it was: 120
	 * deep files; in the rich tree 6 files, 2 symlinks, a fifo */
	cr_assert_eq(r2.trees_reused, r2.dirs, "%llu of %llu trees reused",
	        (unsigned long long)r2.trees_reused,
	        (unsigned long long)r2.dirs);
	cr_assert_eq(r2.nodes_reused, 120 + 6 + 2 + 1, "%llu nodes reused",
	        (unsigned long long)r2.nodes_reused);
}

static void set_time(const char *rel, time_t sec, long nsec)
{
	char p[4400];
	pathf(p, rel);
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

Test(repo_rebackup, every_change_is_seen_and_restored_exactly)
{
	make_source();
	astra__backup_out r;
	char prev[65], cur[65], p[4400], q[4400];
	backup(0, &r, prev);
	struct stat sb;

	/* chmod: only the ctime and mode change */
	pathf(p, "src/deep1/b/c/f07");
	cr_assert_eq(chmod(p, 0600), 0);
	same_as_full("chmod", prev, 1, cur, &r);
	/* (a new ctime: read again, as a content change could hide
	 * behind a restored mtime) */
	cr_assert_eq(stat(p, &sb), 0);
	cr_assert_eq(r.unchanged, r.files - 2);
	cr_assert_eq(r.bytes_read, (uint64_t)sb.st_size);
	memcpy(prev, cur, 65);

	/* touch: a new mtime */
	set_time("src/deep2/b/c/f11", 1234567890, 5);
	same_as_full("touch", prev, 1, cur, &r);
	memcpy(prev, cur, 65);

	/* an extended attribute set (changes only the ctime) */
	pathf(p, "src/deep0/b/c/f03");
	if (setxattr(p, "user.astra.rebackup", "x", 1, 0) == 0) {
		same_as_full("setxattr", prev, 1, cur, &r);
		memcpy(prev, cur, 65);
		/* and one changed in value only */
		cr_assert_eq(setxattr(p, "user.astra.rebackup", "y", 1, 0), 0);
		same_as_full("xattr value", prev, 1, cur, &r);
		memcpy(prev, cur, 65);
	} else {
		cr_assert_fail("this file system has no user xattrs");
	}

	/* a file added, then one deleted, deep down */
	pathf(p, "src/deep1/b/c/new");
	fst_write(p, "new\n", 4);
	same_as_full("add", prev, 1, cur, &r);
	memcpy(prev, cur, 65);
	pathf(p, "src/deep1/b/c/f20");
	cr_assert_eq(unlink(p), 0);
	same_as_full("delete", prev, 1, cur, &r);
	memcpy(prev, cur, 65);

	/* replaced by a file of the same size and mtime: another inode */
	pathf(p, "src/deep2/b/c/f30");
	pathf(q, "src/deep2/b/c/f30.tmp");
	cr_assert_eq(stat(p, &sb), 0);
	fst_write_random(q, (size_t)sb.st_size, 4242);
	cr_assert_eq(rename(q, p), 0);
	set_time("src/deep2/b/c/f30", sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	set_time("src/deep2/b/c", 1600000000, 0); /* dir mtime too */
	same_as_full("replace", prev, 1, cur, &r);
	cr_assert_eq(r.bytes_read, (uint64_t)sb.st_size, "only f30 is read");
	memcpy(prev, cur, 65);

	/* rewritten in place, same size, mtime put back: the ctime tells */
	pathf(p, "src/deep0/b/c/f05");
	cr_assert_eq(stat(p, &sb), 0);
	fst_write_random(p, (size_t)sb.st_size, 777);
	set_time("src/deep0/b/c/f05", sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	same_as_full("rewrite", prev, 1, cur, &r);
	cr_assert_eq(r.bytes_read, (uint64_t)sb.st_size, "only f05 is read");
	memcpy(prev, cur, 65);

	/* a symlink pointing elsewhere (same length) */
	pathf(p, "src/link-rel");
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(symlink("dir/random.biN", p), 0);
	same_as_full("symlink", prev, 1, cur, &r);
	memcpy(prev, cur, 65);

	/* a second hard link to a file that had one */
	pathf(p, "src/exec.sh");
	pathf(q, "src/deep0/exec-link.sh");
	cr_assert_eq(link(p, q), 0);
	same_as_full("hard link", prev, 1, cur, &r);
	memcpy(prev, cur, 65);

	/* and nothing more: the same tree again, every tree reused */
	same_as_full("unchanged", prev, 0, cur, &r);
	cr_assert_eq(r.trees_reused, r.dirs);
	cr_assert_eq(r.bytes_read, 0);
}

Test(repo_rebackup, a_chunk_missing_from_the_vault_makes_the_file_read_again)
{
	/* a parent whose node names a chunk the vault does not have (as
	 * after a damaged index): the node cannot be reused as it is */
	make_source();
	astra__backup_out r1, r2;
	char t1[65], t2[65];
	backup(0, &r1, t1);
	astra__id root;
	cr_assert_eq(astra__id_parse(&root, t1), 0);
	astra__json *tree = NULL;
	cr_assert_astra_ok(astra__tree_load(v->r, &root, &tree));
	const astra__json *n = astra__tree_find(tree, "exec.sh");
	cr_assert(n);
	/* forge a parent snapshot with its one chunk's id changed */
	astra__json *ex = astra__json_first(astra__json_get(n, "extents"));
	cr_assert_eq(astra__json_size(astra__json_get(ex, "chunks")), 1);
	astra__json *chunks = astra__json_new_array();
	astra__json *np = astra__json_new_array();
	astra__json_push(
	        np, astra__json_new_string("00000000000000000000000000000000"
	                                   "00000000000000000000000000000000"));
	astra__json_push(np, astra__json_new_number(18));
	astra__json_push(chunks, np);
	cr_assert_astra_ok(astra__json_set(ex, "chunks", chunks));
	astra__writer *w = NULL;
	cr_assert_astra_ok(astra__writer_new(&w, v->r));
	astra_buf text = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__json_print_buf(&text, tree, 0));
	astra__id forged;
	cr_assert_astra_ok(astra__writer_add(
	        w, ASTRA_BLOB_TREE, text.ptr, text.size, &forged, 0, NULL));
	astra_buf_dispose(&text);
	cr_assert_astra_ok(astra__writer_flush(w));
	astra__writer_free(w);
	astra__json_free(tree);
	astra__json *rec = astra__json_new_object();
	char hex[ASTRA_ID_HEX];
	astra__id_hex(&forged, hex);
	astra__json_set_str(rec, "time", "2030-01-01T00:00:00Z");
	astra__json_set_str(rec, "time_ns", "1893456000000000000");
	astra__json_set_str(rec, "host", "forged");
	astra__json_set_str(rec, "source", "src");
	astra__json_set_str(rec, "tree", hex);
	astra__json_set_str(rec, "kind", "data");
	char fid[33];
	cr_assert_astra_ok(astra__snapshot_save(v->r, rec, fid));
	astra__json_free(rec);

	char src[4400];
	pathf(src, "src");
	astra__backup_params p;
	memset(&p, 0, sizeof(p));
	p.source = "src";
	p.parent = fid;
	memset(&r2, 0, sizeof(r2));
	cr_assert_astra_ok(astra__data_backup(v->r, src, &p, &r2));
	cr_assert_eq(r2.bytes_read, 18, "exec.sh is read again");
	cr_assert_eq(r2.unchanged, r2.files - 2, "%llu of %llu unchanged",
	        (unsigned long long)r2.unchanged, (unsigned long long)r2.files);
	astra__json *rec2 = NULL;
	cr_assert_astra_ok(astra__snapshot_load(v->r, r2.id, &rec2, NULL));
	memcpy(t2, astra__json_str(rec2, "tree"), 65);
	astra__json_free(rec2);
	cr_assert_str_eq(t2, t1, "the tree is the first backup's again");
	restores_exactly(r2.id);
}
