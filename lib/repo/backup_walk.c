/*
 * The data mover's backup side, walking: directories by descriptor, each
 * entry's node, the reuse of the parent snapshot's unchanged nodes and
 * subtrees (read ahead by workers), and the tree of a single file or block
 * device. See backup.c for the whole.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/tree.h"
#include "repo/backup_internal.h"

/* at most this many walked directories wait to be finished */
#define MAX_PENDING_DIRS 256

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A parent-snapshot subtree read, decrypted and parsed by a worker ahead
 * of the walk, which meanwhile handles the entries before it. */
typedef struct {
	bk *b;
	astra__id id;
	astra__json *tree; /* the result, taken by the walk */
	int rc;
	int done; /* guarded by bk->mu */
	char msg[512];
} prefetch;

/* subtrees read ahead of the walk, per directory */
#define PREFETCH_AHEAD 8

static void prefetch_worker(void *arg)
{
	prefetch *pf = arg;
	bk *b = pf->b;
	int rc = ASTRA_ECANCELLED;
	if (!atomic_load(&b->failed)) {
		rc = astra__tree_load(b->r, &pf->id, &pf->tree);
		if (rc)
			snprintf(pf->msg, sizeof(pf->msg), "%s",
			        astra_error_last()->message);
	}
	pthread_mutex_lock(&b->mu);
	pf->rc = rc;
	pf->done = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* The parent's subtree of a directory entry, or NULL (none, or it cannot
 * be read: then the directory is read as new). */
static astra__json *prefetched_tree(bk *b, prefetch *pf, const char *rel)
{
	pthread_mutex_lock(&b->mu);
	while (!pf->done)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	astra__json *t = pf->tree;
	pf->tree = NULL;
	if (pf->rc && pf->rc != ASTRA_ECANCELLED)
		astra__log_warn(
		        "parent tree of %s unreadable: %s", rel, pf->msg);
	return t;
}

static void prefetch_free(bk *b, prefetch *pf)
{
	if (!pf)
		return;
	pthread_mutex_lock(&b->mu);
	while (!pf->done)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	astra__json_free(pf->tree);
	free(pf);
}

/* Starts reading the parent's subtree of names[i] if it is a directory
 * there; *out stays NULL otherwise. */
static int prefetch_start(bk *b, pdir *pd, const char *name, prefetch **out)
{
	*out = NULL;
	const astra__json *pn = astra__map_get(&pd->pnodes, name);
	const char *pst = pn ? astra__json_str(pn, "subtree") : NULL;
	if (!pst)
		return 0;
	prefetch *pf = astra__calloc(1, sizeof(*pf));
	if (!pf)
		return ASTRA_ENOMEM;
	pf->b = b;
	if (astra__id_parse(&pf->id, pst) != 0) {
		free(pf);
		return 0;
	}
	int rc = astra__pool_submit(b->pool, prefetch_worker, pf);
	if (rc) {
		free(pf);
		return rc;
	}
	*out = pf;
	return 0;
}

static int backup_entry(bk *b, int dfd, const char *abs, const char *rel,
        const char *name, pdir *pd, prefetch *pf, int depth, struct stat *sbp,
        int stat_errno);

/*
 * The fast path of an unchanged entry: when the parent snapshot's node is
 * exactly what backup_entry would build (astra__tree_same_node: same
 * metadata, and for a file the same inode, size and times, so the same
 * content, as unchanged_content decides), that node is reused as it is,
 * without building, comparing and freeing a new one, and without reading
 * extended attributes (an unchanged ctime means unchanged xattrs: see
 * tree.h). Directories and hard-linked files take the slow path. Returns
 * 1 when the entry was taken, 0 when backup_entry must handle it.
 */
static int reuse_node(bk *b, pdir *pd, int dfd, const char *abs,
        const char *name, const struct stat *sb)
{
	if (!pd->ptree || S_ISDIR(sb->st_mode) || sb->st_nlink != 1)
		return 0;
	const astra__json *pnode = astra__map_get(&pd->pnodes, name);
	if (!pnode)
		return 0;
	char target[PATH_MAX + 1];
	ssize_t tn = 0;
	if (S_ISLNK(sb->st_mode)) {
		tn = dfd >= 0 ? readlinkat(dfd, name, target, PATH_MAX)
		              : readlink(abs, target, PATH_MAX);
		if (tn < 0)
			return 0; /* backup_entry reports it */
	}
	const astra__json *ex = NULL;
	if (!astra__tree_same_node(pnode, name, sb, target, (size_t)tn, &ex))
		return 0;
	if (S_ISREG(sb->st_mode) && astra__bk_reference_chunks(b, ex))
		return 0; /* a chunk is gone: read the file again */
	dent e = { NULL, pnode };
	if (astra_vec_push(&pd->ents, e))
		return ASTRA_ENOMEM;
	if (S_ISREG(sb->st_mode)) {
		b->files++;
		b->bytes_total += (uint64_t)sb->st_size;
		b->unchanged++;
		b->op.p.bytes_done += (uint64_t)sb->st_size;
	}
	b->nodes_reused++;
	b->op.p.items_done++;
	return 1;
}

/* Directories deeper than this are not kept open while their entries are
 * walked (one descriptor per level). */
#define MAX_OPEN_DEPTH 64

/* Walks a directory: its entries are read and chunked now; its tree is
 * written by astra__bk_drain() once its chunks are stored. Takes ownership of
 * ptree when own_ptree is set, even on failure. */
int astra__bk_backup_dir(bk *b, int pdfd, const char *name, struct stat *dsb,
        const char *abs, const char *rel, astra__json *ptree, int own_ptree,
        const char *psub, astra__json *dst, int depth)
{
	/* a descriptor read with getdents64, not a DIR: fdopendir would
	 * add an fstat and two fcntl calls per directory to ours */
	int d = -1;
	if (!dsb) {
		/* the source itself: given by the caller, may be a link */
		d = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			astra__err_os("cannot open directory %s", rel);
	} else {
		d = astra__bk_open_entry(
		        pdfd, name, abs, dsb, O_DIRECTORY, rel);
		if (d >= 0 && dst)
			(void)astra__tree_set_stat(dst, dsb);
	}
	if (d < 0) {
		if (own_ptree)
			astra__json_free(ptree);
		b->dir_unreadable = 1;
		return astra_error_last()->code;
	}
	size_t mark = b->pend.n;
	pdir *pd = astra__calloc(1, sizeof(*pd));
	ASTRA_VEC(char *) names = ASTRA_VEC_INIT;
	int rc = 0;
	if (pd) {
		pd->ptree = ptree;
		pd->own_ptree = own_ptree;
		pd->dst = dst;
		pd->psub = psub ? astra__strdup(psub) : NULL;
		if (psub && !pd->psub)
			rc = ASTRA_ENOMEM;
	} else {
		if (own_ptree)
			astra__json_free(ptree);
		rc = ASTRA_ENOMEM;
	}
	enum { DENTS = 32768 };
	char *dents = rc ? NULL : astra__malloc(DENTS);
	if (!rc && !dents)
		rc = ASTRA_ENOMEM;
	while (!rc) {
		ssize_t got = getdents64(d, dents, DENTS);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			/* what was listed is kept; the directory is reported */
			astra__err_os("cannot read directory");
			rc = astra__bk_item_error(b, rel, "directory");
			break;
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; off < got && !rc;) {
			const struct dirent64 *e =
			        (const struct dirent64 *)(dents + off);
			off += e->d_reclen;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *n = astra__strdup(e->d_name);
			if (!n || astra_vec_push(&names, n)) {
				free(n);
				rc = ASTRA_ENOMEM;
			}
		}
	}
	free(dents);
	/* kept open for fstatat and readlinkat on its entries, which spares
	 * the kernel looking up the whole path of each */
	int dfd = -1;
	if (depth < MAX_OPEN_DEPTH && !rc)
		dfd = d;
	else {
		close(d);
		d = -1;
	}
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_names);
	/* the parent's nodes by name, and its subtrees read ahead */
	for (astra__json *n = pd && pd->ptree
	                              ? astra__json_first(astra__json_get(
	                                        pd->ptree, "nodes"))
	                              : NULL;
	        n && !rc; n = astra__json_next(n)) {
		const char *plain = astra__json_str(n, "name");
		char *nm = plain ? NULL : astra__tree_get_name(n, "name");
		if (plain || nm)
			rc = astra__map_set(
			        &pd->pnodes, plain ? plain : nm, n, NULL);
		free(nm);
	}
	prefetch **pfs = NULL;
	if (!rc && names.n && pd && pd->ptree) {
		pfs = astra__calloc(names.n, sizeof(*pfs));
		if (!pfs)
			rc = ASTRA_ENOMEM;
	}
	size_t started = 0, ahead = 0; /* subtrees read ahead of i */
	if (!rc)
		rc = astra__bk_check(b);
	for (size_t i = 0; i < names.n && !rc; i++) {
		while (pfs && !rc && started < names.n &&
		        ahead < PREFETCH_AHEAD) {
			rc = prefetch_start(
			        b, pd, names.v[started], &pfs[started]);
			ahead += pfs[started] != NULL;
			started++;
		}
		if (pfs && pfs[i])
			ahead--;
		if (rc)
			break;
		if ((i & 255) == 255 && (rc = astra__bk_check(b)))
			break;
		const char *nm = names.v[i];
		char *cabs = NULL, *crel = NULL;
		struct stat sb;
		int st;
		if (dfd >= 0) {
			st = fstatat(dfd, nm, &sb, AT_SYMLINK_NOFOLLOW);
		} else {
			if (!(cabs = astra__aprintf("%s/%s", abs, nm))) {
				rc = ASTRA_ENOMEM;
				break;
			}
			st = lstat(cabs, &sb);
		}
		int serr = st ? errno : 0;
		if (!st && (rc = reuse_node(b, pd, dfd, cabs, nm, &sb))) {
			free(cabs);
			rc = rc > 0 ? 0 : rc;
			continue;
		}
		if (!cabs)
			cabs = astra__aprintf("%s/%s", abs, nm);
		crel = *rel ? astra__aprintf("%s/%s", rel, nm)
		            : astra__strdup(nm);
		if (!cabs || !crel)
			rc = ASTRA_ENOMEM;
		else
			rc = backup_entry(b, dfd, cabs, crel, nm, pd,
			        pfs ? pfs[i] : NULL, depth, &sb, serr);
		free(cabs);
		free(crel);
	}
	if (d >= 0)
		close(d);
	for (size_t i = 0; pfs && i < started; i++)
		prefetch_free(b, pfs[i]);
	free(pfs);
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	astra_vec_free(&names);
	if (!rc && astra_vec_push(&b->pend, pd))
		rc = ASTRA_ENOMEM;
	if (rc) {
		/* this directory and what was walked below it go */
		astra__bk_discard_from(b, mark);
		if (pd) {
			astra__bk_wait_dir(b, pd);
			astra__bk_free_pdir(pd);
		}
		return rc;
	}
	return astra__bk_drain(b, MAX_PENDING_DIRS);
}

/* An entry the fast path (reuse_node) did not take; sbp is its lstat, or
 * stat_errno why it failed. */
static int backup_entry(bk *b, int dfd, const char *abs, const char *rel,
        const char *name, pdir *pd, prefetch *pf, int depth, struct stat *sbp,
        int stat_errno)
{
	const astra__json *ptree = pd->ptree;
	int rc;
	if (stat_errno) {
		if (stat_errno == ENOENT)
			return 0; /* removed meanwhile */
		errno = stat_errno;
		astra__err_os("cannot stat");
		return astra__bk_item_error(b, rel, "stat");
	}
	struct stat sb = *sbp;
	astra__json *node = astra__json_new_object();
	if (!node)
		return ASTRA_ENOMEM;
	if ((rc = astra__tree_set_name(node, "name", name, strlen(name))) ||
	        (rc = astra__tree_set_stat(node, &sb)) ||
	        (rc = astra__bk_add_xattrs(node, abs))) {
		astra__json_free(node);
		return rc;
	}
	const astra__json *pnode =
	        ptree ? astra__map_get(&pd->pnodes, name) : NULL;

	if (S_ISDIR(sb.st_mode)) {
		const char *pst =
		        pnode ? astra__json_str(pnode, "subtree") : NULL;
		astra__json *psub =
		        pf && pst ? prefetched_tree(b, pf, rel) : NULL;
		b->dir_unreadable = 0;
		rc = astra__bk_backup_dir(b, dfd, name, &sb, abs, rel, psub, 1,
		        pst, node, depth + 1);
		if (rc && b->dir_unreadable) {
			/* unreadable directory: keep its metadata only */
			b->dir_unreadable = 0;
			rc = astra__bk_item_error(b, rel, "directory");
		}
	} else if (S_ISLNK(sb.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(abs, target, PATH_MAX);
		if (n < 0) {
			astra__err_os("cannot read link");
			rc = astra__bk_item_error(b, rel, "readlink");
			astra__json_free(node);
			return rc;
		}
		rc = astra__tree_set_name(node, "target", target, (size_t)n);
	} else if (S_ISREG(sb.st_mode)) {
		b->files++;
		b->bytes_total += (uint64_t)sb.st_size;
		char key[64];
		snprintf(key, sizeof(key), "%llx:%llx",
		        (unsigned long long)sb.st_dev,
		        (unsigned long long)sb.st_ino);
		const char *first = sb.st_nlink > 1
		                            ? astra__map_get(&b->hardlinks, key)
		                            : NULL;
		const astra__json *same =
		        astra__bk_unchanged_content(b, pnode, &sb);
		if (first) {
			rc = astra__json_set_str(node, "hardlink", first);
		} else if (same) {
			b->unchanged++;
			b->op.p.bytes_done += (uint64_t)sb.st_size;
			rc = astra__json_set(
			        node, "extents", astra__json_dup(same));
		} else {
			struct stat listed = sb;
			int fd = astra__bk_open_entry(
			        dfd, name, abs, &sb, O_NOATIME, rel);
			if (fd < 0) {
				rc = astra__bk_item_error(b, rel, "open");
				astra__json_free(node);
				b->files--;
				b->bytes_total -= (uint64_t)listed.st_size;
				return rc;
			}
			if (sb.st_ino != listed.st_ino ||
			        sb.st_dev != listed.st_dev) {
				/* opened on the second try: what was read */
				b->bytes_total += (uint64_t)sb.st_size -
				                  (uint64_t)listed.st_size;
				snprintf(key, sizeof(key), "%llx:%llx",
				        (unsigned long long)sb.st_dev,
				        (unsigned long long)sb.st_ino);
				rc = astra__tree_set_stat(node, &sb);
				if (rc) {
					close(fd);
					astra__json_free(node);
					return rc;
				}
			}
			file_job *job = astra__calloc(1, sizeof(*job));
			if (!job || astra_vec_push(&pd->jobs, job)) {
				free(job);
				close(fd);
				astra__json_free(node);
				return ASTRA_ENOMEM;
			}
			job->node = node;
			job->dir = pd;
			rc = astra__bk_chunk_file(b, job, fd, &sb, rel);
			close(fd);
			if (rc == ASTRA_EIO || rc == ASTRA_EAUTH) {
				/* unreadable mid-way: report, leave it out */
				job->skip = 1;
				b->files--;
				b->op.p.items_done++;
				return astra__bk_item_error(b, rel, "read");
			}
		}
		if (!rc && sb.st_nlink > 1 && !first) {
			char *p = astra__strdup(rel);
			rc = p ? astra__map_set(&b->hardlinks, key, p, NULL)
			       : ASTRA_ENOMEM;
		}
	}
	b->op.p.items_done++;
	dent ent = { node, NULL };
	if (!rc && astra_vec_push(&pd->ents, ent))
		rc = ASTRA_ENOMEM;
	if (rc)
		astra__json_free(node);
	return rc;
}

/* A tree with one node for a single file or block device. */
int astra__bk_backup_single(bk *b, const char *abs, astra__id *root)
{
	struct stat sb;
	if (stat(abs, &sb) != 0)
		return astra__err_os("cannot stat %s", abs);
	const char *base = strrchr(abs, '/');
	base = base && base[1] ? base + 1 : abs;
	astra__json *tree = astra__json_new_object();
	astra__json *nodes = astra__json_new_array();
	astra__json *node = astra__json_new_object();
	file_job *job = astra__calloc(1, sizeof(*job));
	pdir one = { 0 };
	int rc = (!tree || !nodes || !node || !job) ? ASTRA_ENOMEM : 0;
	int fd = -1;
	if (!rc)
		rc = astra__tree_set_name(node, "name", base, strlen(base));
	if (!rc)
		rc = astra__tree_set_stat(node, &sb);
	if (!rc)
		rc = astra__bk_add_xattrs(node, abs);
	uint64_t size = 0;
	if (!rc) {
		/* the source was stat'ed (a link to it is followed): never
		 * block on something swapped in since, nor read another */
		fd = open(abs, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		struct stat now;
		if (fd < 0)
			rc = astra__err_os("cannot open %s", abs);
		else if (fstat(fd, &now) != 0)
			rc = astra__err_os("cannot fstat %s", abs);
		else if ((now.st_mode & S_IFMT) != (sb.st_mode & S_IFMT) ||
		         now.st_dev != sb.st_dev || now.st_ino != sb.st_ino)
			rc = astra__err(ASTRA_ECONFLICT, ASTRA_ERROR_REPO,
			        "%s changed between its stat and its open "
			        "(a %s, now a %s)",
			        abs, astra__bk_kind_of(sb.st_mode),
			        astra__bk_kind_of(now.st_mode));
	}
	if (!rc)
		rc = astra__bk_file_size_of(fd, &sb, &size);
	if (!rc && S_ISBLK(sb.st_mode)) {
		/* a block device is restored as an image file */
		astra__json_set_str(node, "type", "file");
		astra__json_set_str(node, "source_type", "blockdev");
		astra__json_set_int(node, "size", (int64_t)size);
	}
	if (!rc) {
		b->files = 1;
		b->bytes_total = size;
		job->node = node;
		job->dir = &one;
		rc = astra__bk_chunk_file(b, job, fd, &sb, base);
	}
	if (fd >= 0)
		close(fd);
	if (job) {
		astra__bk_wait_dir(b, &one);
		if (!rc && atomic_load(&b->failed))
			rc = astra__bk_check(b);
		if (!rc)
			rc = astra__bk_finish_job(job);
		astra__bk_free_job(job);
	}
	if (!rc) {
		rc = astra__json_push(nodes, node);
		node = NULL;
	}
	if (!rc) {
		rc = astra__json_set(tree, "nodes", nodes);
		nodes = NULL;
	}
	if (!rc) {
		astra_buf text = ASTRA_BUF_INIT;
		rc = astra__json_print_buf(&text, tree, 0);
		if (!rc)
			rc = astra__writer_add(b->w, ASTRA_BLOB_TREE, text.ptr,
			        text.size, root, 0, NULL);
		astra_buf_dispose(&text);
	}
	astra__json_free(node);
	astra__json_free(nodes);
	astra__json_free(tree);
	return rc;
}
