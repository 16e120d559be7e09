/*
 * ASTRA_DATA_RESTORE_F_DELETE_EXTRAS (lib/repo/restore*.c): a restore into
 * a changed copy of a tree makes it equal the snapshot again (content and
 * metadata, hard links, holes, xattrs); what the snapshot does not hold is
 * deleted, symlinks among it are removed and never followed.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astra/vault.h"
#include "astra_test.h"
#include "vault_test.h"
#include "fstree.h"

static char *work;
static astra_vault *v;

static void setup(void)
{
	work = fst_tmpdir("restore-extras");
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

TestSuite(repo_restore_extras, .init = setup, .fini = teardown, .timeout = 120);

static const char *at(const char *rel)
{
	static char bufs[8][4400];
	static int n;
	char *b = bufs[n++ % 8];
	snprintf(b, 4400, "%s/%s", work, rel);
	return b;
}

static int restore(const char *id, const char *dst, unsigned flags)
{
	astra_data_restore_options o;
	astra_data_restore_options_init(&o, ASTRA_DATA_RESTORE_OPTIONS_VERSION);
	o.flags = flags;
	astra_data_restore_result rr;
	memset(&rr, 0, sizeof(rr));
	rr.version = ASTRA_DATA_RESTORE_RESULT_VERSION;
	return astra_vault_restore_path(v, id, dst, &o, &rr, NULL);
}

/* Changes a restored copy of the rich tree: new files and a new subtree
 * (with a symlink to a directory outside), a file replaced by a directory,
 * a directory replaced by a file, content rewritten, a file deleted. */
static void mess_up(const char *dst)
{
	char p[4400];
	snprintf(p, sizeof(p), "%s/extra.txt", dst);
	fst_write(p, "newer\n", 6);
	snprintf(p, sizeof(p), "%s/newdir/deeper", dst);
	char cmd[9000];
	snprintf(cmd, sizeof(cmd),
	        "set -e; cd '%s'; mkdir -p newdir/deeper; echo x > "
	        "newdir/deeper/f; ln -s '%s' newdir/out; ln -s '%s' "
	        "newdir/deeper/outfile; for f in $(find . -type f ! -path "
	        "'./newdir/*' | head -3); do echo changed > \"$f\"; done; "
	        "f=$(find . -type f ! -path './newdir/*' | sort | tail -1); "
	        "rm -f \"$f\"; mkdir \"$f\"; echo in-the-way > \"$f/x\"; "
	        "d=$(find . -mindepth 1 -type d ! -path './newdir*' | sort "
	        "| head -1); echo keep-me-not > \"$d/stray\"",
	        dst, at("out"), at("out/victim"));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(repo_restore_extras, tree_equals_the_snapshot_again)
{
	cr_assert_eq(mkdir(at("out"), 0700), 0);
	fst_write(at("out/victim"), "outside\n", 8);
	cr_assert_eq(mkdir(at("src"), 0755), 0);
	fst_make_rich_tree(at("src"));
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, at("src"), NULL, &res));
	cr_assert_astra_ok(restore(res.id, at("dst"), 0));
	cr_assert_eq(fst_compare(at("src"), at("dst")), 0);
	mess_up(at("dst"));
	/* overwrite alone keeps what the snapshot does not hold */
	int rc = restore(res.id, at("dst"), ASTRA_DATA_RESTORE_F_OVERWRITE);
	cr_assert(rc == 0 || rc == ASTRA_EPARTIAL);
	struct stat sb;
	cr_assert_eq(lstat(at("dst/extra.txt"), &sb), 0);
	cr_assert_eq(lstat(at("dst/newdir/deeper/f"), &sb), 0);
	/* delete extras: equal again, nothing outside touched */
	cr_assert_astra_ok(
	        restore(res.id, at("dst"), ASTRA_DATA_RESTORE_F_DELETE_EXTRAS));
	cr_assert_eq(fst_compare(at("src"), at("dst")), 0);
	cr_assert_neq(lstat(at("dst/extra.txt"), &sb), 0);
	cr_assert_neq(lstat(at("dst/newdir"), &sb), 0);
	cr_assert_eq(lstat(at("out/victim"), &sb), 0);
	cr_assert_eq(sb.st_size, 8, "the file outside was changed");
	cr_assert_eq(lstat(at("out"), &sb), 0);
	cr_assert(S_ISDIR(sb.st_mode));
}

Test(repo_restore_extras, lost_found_kept_only_at_the_top_when_not_empty)
{
	cr_assert_eq(mkdir(at("src"), 0755), 0);
	fst_write(at("src/a"), "a\n", 2);
	astra_data_backup_result res;
	memset(&res, 0, sizeof(res));
	res.version = ASTRA_DATA_BACKUP_RESULT_VERSION;
	cr_assert_astra_ok(astra_vault_backup_path(v, at("src"), NULL, &res));
	cr_assert_eq(mkdir(at("dst"), 0755), 0);
	cr_assert_eq(mkdir(at("dst/lost+found"), 0700), 0);
	fst_write(at("dst/lost+found/#12"), "orphan\n", 7);
	cr_assert_eq(mkdir(at("dst/sub"), 0755), 0);
	cr_assert_eq(mkdir(at("dst/sub/lost+found"), 0700), 0);
	fst_write(at("dst/b"), "b\n", 2);
	cr_assert_astra_ok(
	        restore(res.id, at("dst"), ASTRA_DATA_RESTORE_F_DELETE_EXTRAS));
	struct stat sb;
	cr_assert_eq(lstat(at("dst/a"), &sb), 0);
	cr_assert_neq(lstat(at("dst/b"), &sb), 0);
	cr_assert_neq(lstat(at("dst/sub"), &sb), 0);
	cr_assert_eq(lstat(at("dst/lost+found/#12"), &sb), 0);
	/* empty: removed like any extra */
	cr_assert_eq(unlink(at("dst/lost+found/#12")), 0);
	cr_assert_astra_ok(
	        restore(res.id, at("dst"), ASTRA_DATA_RESTORE_F_DELETE_EXTRAS));
	cr_assert_neq(lstat(at("dst/lost+found"), &sb), 0);
}
