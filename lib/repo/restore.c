/*
 * The data mover's restore side: walks a snapshot tree, creates
 * directories, links and special files on the calling thread, and writes
 * file chunks in parallel (every chunk verified). Metadata is applied after
 * content: files when their last chunk lands, directories last and deepest
 * first. Damage is reported per item; the rest is restored.
 *
 * Nothing below the target is reached through a path string. The target
 * is opened once; every item is created relative to the descriptor of its
 * parent directory (held while the walk is inside it) with *at() calls
 * that never follow a symlink, and files are created with O_EXCL. The
 * passes after the walk (hard links, directory metadata) re-open
 * directories beneath the target without following any symlink: openat2
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or one openat(O_NOFOLLOW) per
 * component where the kernel has no openat2. A hard link's source must be
 * a regular file this restore created (same inode), reached the same way.
 *
 * This file holds the walk of the snapshot tree and the verb; the chunk
 * runs and parallel writing are in restore_write.c, the target's
 * descriptors in restore_target.c, metadata and hard links in
 * restore_meta.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/map.h"
#include "core/pool.h"
#include "core/vec.h"
#include "repo/data.h"
#include "repo/tree.h"

#include "repo/restore_internal.h"

static char *child_rel(const char *rel, const char *name)
{
	return *rel ? astra__aprintf("%s/%s", rel, name) : astra__strdup(name);
}

/* The node's name as it is in the snapshot, escaped for the report. */
static char *shown_name(const astra__json *node)
{
	const char *s = astra__json_str(node, "name");
	if (s)
		return astra__rs_escaped(s, strlen(s), 1);
	const char *b = astra__json_str(node, "name_b64");
	astra_buf raw = ASTRA_BUF_INIT;
	char *out;
	if (!b)
		out = astra__strdup("(no name)");
	else if (astra__base64_decode(&raw, b, strlen(b)) != 0)
		out = astra__aprintf("(name_b64 \"%.64s\")", b);
	else
		out = astra__rs_escaped(raw.ptr ? raw.ptr : "", raw.size, 1);
	astra_buf_dispose(&raw);
	return out;
}

static int restore_file(rs *s, int dirfd, const char *name, const char *rel,
        const astra__json *node)
{
	/* each file stays open until its last chunk lands: bound them */
	pthread_mutex_lock(&s->mu);
	int wait = s->inflight_files >= MAX_INFLIGHT_FILES;
	pthread_mutex_unlock(&s->mu);
	if (wait) {
		astra__rs_flush_run(s);
		pthread_mutex_lock(&s->mu);
		while (s->inflight_files >= MAX_INFLIGHT_FILES / 2)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
	}
	int fd = -1;
	if (astra__rs_create_file_at(s, dirfd, name, rel, &fd) != 0)
		return -1;
	int64_t size = astra__json_int(node, "size", 0);
	if (size < 0 || ftruncate(fd, (off_t)size) != 0) {
		astra__err_os("cannot size %s/%s", s->target, rel);
		close(fd);
		return -1;
	}
	if (astra__json_int(node, "nlink", 1) > 1 &&
	        astra__rs_note_made(s, fd, rel)) {
		close(fd);
		return ASTRA_ENOMEM;
	}
	rfile *f = astra__calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return ASTRA_ENOMEM;
	}
	f->r = s;
	f->fd = fd;
	f->rel = astra__strdup(rel);
	f->node = astra__json_dup(node);
	f->remaining = 1; /* held by this function until all are queued */
	pthread_mutex_lock(&s->mu);
	s->inflight_files++;
	pthread_mutex_unlock(&s->mu);
	if (!f->rel || !f->node) {
		f->failed = 1;
		astra__rs_file_done(s, f);
		return ASTRA_ENOMEM;
	}
	s->files++;
	const astra__json *exs = astra__json_get(node, "extents");
	int rc = 0;
	for (size_t i = 0; i < astra__json_size(exs) && !rc; i++) {
		const astra__json *ex = astra__json_at(exs, i);
		int64_t off = astra__json_int(ex, "offset", -1);
		const astra__json *chunks = astra__json_get(ex, "chunks");
		if (off < 0) {
			rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
			        "extent without offset");
			break;
		}
		for (size_t k = 0; k < astra__json_size(chunks); k++) {
			const astra__json *pair = astra__json_at(chunks, k);
			double len = astra__json_number_value(
			        astra__json_at(pair, 1));
			astra__id id;
			if (len < 0 || len > UINT32_MAX ||
			        astra__id_parse(&id,
			                astra__json_string_value(
			                        astra__json_at(pair, 0)))) {
				rc = astra__err(ASTRA_ECORRUPT,
				        ASTRA_ERROR_REPO,
				        "bad chunk reference");
				break;
			}
			astra__idx_entry e;
			if (astra__repo_lookup(s->repo, &id, &e) != 0 ||
			        e.pack == ASTRA_PACK_NONE) {
				char hex[ASTRA_ID_HEX];
				astra__id_hex(&id, hex);
				astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
				        "blob %s is missing from the vault "
				        "index",
				        hex);
				astra__rs_report(s, rel, "content");
				pthread_mutex_lock(&s->mu);
				f->failed = 1;
				pthread_mutex_unlock(&s->mu);
				off += (int64_t)len;
				continue;
			}
			if ((rc = astra__rs_add_chunk(
			             s, f, (uint64_t)off, (uint32_t)len, &e)))
				break;
			off += (int64_t)len;
			s->op.p.bytes_done += (uint64_t)len;
			if ((rc = astra__op_report(&s->op, 0)))
				break;
		}
	}
	pthread_mutex_lock(&s->mu);
	if (rc)
		f->failed = 1;
	int last = --f->remaining == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		astra__rs_file_done(s, f);
	return rc == ASTRA_ECANCELLED || rc == ASTRA_ENOMEM ? rc : 0;
}

static int symlink_at(
        rs *s, const char *target, int dirfd, const char *name, const char *rel)
{
	for (int again = 0;; again = 1) {
		if (symlinkat(target, dirfd, name) == 0)
			return 0;
		if (errno != EEXIST || again)
			return astra__err_os(
			        "cannot create symlink %s/%s", s->target, rel);
		int rc = astra__rs_clear_at(s, dirfd, name, rel);
		if (rc)
			return rc;
	}
}

static int mknod_at(rs *s, int dirfd, const char *name, const char *rel,
        mode_t type, dev_t dev)
{
	for (int again = 0;; again = 1) {
		/* the permissions come with the rest of the metadata */
		if (mknodat(dirfd, name, type | 0600, dev) == 0)
			return 0;
		if (errno != EEXIST || again)
			return astra__err_os(
			        "cannot create %s/%s", s->target, rel);
		int rc = astra__rs_clear_at(s, dirfd, name, rel);
		if (rc)
			return rc;
	}
}

static int restore_tree(
        rs *s, const astra__json *tree, int dirfd, const char *rel, int depth);

/* Restores one node into the directory open as dirfd (at rel). */
static int restore_node(
        rs *s, const astra__json *node, int dirfd, const char *rel, int depth)
{
	char *name = astra__tree_get_name(node, "name");
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
	        !strcmp(name, "..")) {
		/* refused and reported: a name must be one path component */
		char why[600];
		snprintf(why, sizeof(why), "%s",
		        name ? "it is not a single path component"
		             : astra_error_last()->message);
		char *shown = shown_name(node);
		char *where = shown ? child_rel(rel, shown) : NULL;
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "unsafe name \"%s\" in snapshot refused: %s",
		        shown ? shown : "?", why);
		astra__rs_report(s, where ? where : rel, "name");
		free(where);
		free(shown);
		free(name);
		s->op.p.items_done++;
		return 0;
	}
	char *crel = child_rel(rel, name);
	if (!crel) {
		free(name);
		return ASTRA_ENOMEM;
	}
	int rc = 0;
	const char *type = astra__json_str(node, "type");
	if (!type)
		type = "unknown";
	s->op.p.items_done++;
	if (!strcmp(type, "dir")) {
		astra__json *sub = NULL;
		astra__id id;
		const char *st = astra__json_str(node, "subtree");
		int cfd = -1;
		if (astra__rs_open_dir_at(s, dirfd, name, crel, &cfd) != 0) {
			astra__rs_report(s, crel, "mkdir");
		} else {
			if (!st) {
				/* a directory recorded without content */
				s->dirs_n++;
			} else if (astra__id_parse(&id, st) ||
			           astra__tree_load(s->repo, &id, &sub)) {
				astra__rs_report(s, crel, "directory listing");
			} else {
				s->dirs_n++;
				rc = restore_tree(s, sub, cfd, crel, depth + 1);
			}
			close(cfd);
			astra__json_free(sub);
			pending_meta m = { crel, astra__json_dup(node) };
			if (m.node && astra_vec_push(&s->dirs, m) == 0)
				crel = NULL;
			else
				astra__json_free(m.node);
		}
	} else if (!strcmp(type, "file")) {
		const char *hl = astra__json_str(node, "hardlink");
		if (hl) {
			pending_meta m = { crel, astra__json_dup(node) };
			if (m.node && astra_vec_push(&s->links, m) == 0)
				crel = NULL;
			else
				astra__json_free(m.node);
		} else {
			int r = restore_file(s, dirfd, name, crel, node);
			if (r < 0 && r != -1)
				rc = r;
			else if (r == -1)
				astra__rs_report(s, crel, "create");
		}
	} else if (!strcmp(type, "symlink")) {
		char *target = astra__tree_get_name(node, "target");
		if (!target || symlink_at(s, target, dirfd, name, crel) != 0)
			astra__rs_report(s, crel, "symlink");
		else
			astra__rs_apply_meta(s, -1, dirfd, name, crel, node, 1);
		free(target);
	} else if (!strcmp(type, "fifo") || !strcmp(type, "chardev") ||
	           !strcmp(type, "blockdev")) {
		int fifo = !strcmp(type, "fifo");
		dev_t dev = 0;
		const char *rdev = astra__json_str(node, "rdev");
		if (rdev)
			dev = (dev_t)strtoull(rdev, NULL, 16);
		mode_t t = fifo                       ? S_IFIFO
		           : !strcmp(type, "chardev") ? S_IFCHR
		                                      : S_IFBLK;
		if (!fifo && !(s->flags & ASTRA_DATA_RESTORE_F_DEVICES))
			astra__rs_report_text(
			        s, crel, "skipped: device node, use --devices");
		else if (mknod_at(s, dirfd, name, crel, t, dev) != 0)
			astra__rs_report(s, crel, type);
		else
			astra__rs_apply_meta(s, -1, dirfd, name, crel, node, 0);
	} else if (!strcmp(type, "socket")) {
		/* sockets are not restorable; their listing is kept */
	} else {
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "unknown node type \"%s\"", type);
		astra__rs_report(s, crel, "type");
	}
	free(name);
	free(crel);
	if (!rc)
		rc = astra__op_report(&s->op, 0);
	return rc;
}

static int restore_tree(
        rs *s, const astra__json *tree, int dirfd, const char *rel, int depth)
{
	if (depth > 4096)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "snapshot tree is nested too deeply");
	const astra__json *nodes = astra__json_get(tree, "nodes");
	if (s->flags & ASTRA_DATA_RESTORE_F_DELETE_EXTRAS) {
		int rc = astra__rs_prune_at(s, dirfd, rel, nodes);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < astra__json_size(nodes); i++) {
		int rc = restore_node(
		        s, astra__json_at(nodes, i), dirfd, rel, depth);
		if (rc)
			return rc;
		if (atomic_load(&s->fatal))
			return astra__err(s->fatal_code, ASTRA_ERROR_REPO, "%s",
			        s->fatal_msg);
	}
	return 0;
}

/* Finds the node at subpath; *tree_out owns the tree holding it.
 * *prefix receives the parent's path in the snapshot ("" or "a/b/"). */
static int find_subpath(astra__repo *r, astra__json *root, const char *sub,
        astra__json **tree_out, const astra__json **node_out, char **prefix)
{
	astra__json *cur = root;
	char *copy = astra__strdup(sub);
	astra_buf pre = ASTRA_BUF_INIT;
	if (!copy)
		return ASTRA_ENOMEM;
	char *save = NULL;
	const astra__json *node = NULL;
	const char *last = NULL;
	int rc = 0;
	for (char *part = strtok_r(copy, "/", &save); part;
	        part = strtok_r(NULL, "/", &save)) {
		if (node) {
			const char *st = astra__json_str(node, "subtree");
			astra__id id;
			astra__json *next = NULL;
			if (!st || astra__id_parse(&id, st) ||
			        astra__tree_load(r, &id, &next)) {
				rc = astra__err(ASTRA_ENOTFOUND,
				        ASTRA_ERROR_REPO,
				        "%s is not a directory in the snapshot",
				        sub);
				break;
			}
			if (cur != root)
				astra__json_free(cur);
			cur = next;
			if ((rc = astra__buf_printf(&pre, "%s/", last)))
				break;
		}
		node = astra__tree_find(cur, part);
		last = part;
		if (!node) {
			rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_REPO,
			        "path %s is not in the snapshot", sub);
			break;
		}
	}
	free(copy);
	if (!rc && !node)
		rc = astra__err(
		        ASTRA_EINVALID, ASTRA_ERROR_REPO, "empty subpath");
	if (!rc) {
		*prefix = astra__strndup(pre.ptr ? pre.ptr : "", pre.size);
		if (!*prefix)
			rc = ASTRA_ENOMEM;
	}
	astra_buf_dispose(&pre);
	if (rc) {
		if (cur != root)
			astra__json_free(cur);
		return rc;
	}
	*tree_out = cur == root ? NULL : cur;
	*node_out = node;
	return 0;
}

int astra__data_restore(astra__repo *r, const char *id, const char *target,
        const astra__restore_params *p, astra__restore_out *out)
{
	rs s;
	memset(&s, 0, sizeof(s));
	s.rootfd = -1;
	uint64_t t0 = astra__mono_ns();
	astra__json *rec = NULL, *root = NULL, *subtree = NULL;
	const astra__json *subnode = NULL;
	char full[33];
	int rc;
	/* also what other writers added since the index was loaded: the
	 * snapshot may be newer than this handle */
	if ((rc = astra__repo_refresh_index(r)))
		return rc;
	if ((rc = astra__snapshot_load(r, id, &rec, full)))
		return rc;
	astra__id rid;
	if ((rc = astra__id_parse(&rid, astra__json_str(rec, "tree"))) ||
	        (rc = astra__tree_load(r, &rid, &root))) {
		astra__err_prefix(rc, "snapshot %s", full);
		astra__json_free(rec);
		return rc;
	}
	if (p->subpath && *p->subpath) {
		if ((rc = find_subpath(r, root, p->subpath, &subtree, &subnode,
		             &s.snap_prefix)))
			goto cleanup;
	} else if (!(s.snap_prefix = astra__strdup(""))) {
		rc = ASTRA_ENOMEM;
		goto cleanup;
	}
	if ((rc = astra__rs_open_target(target, p->flags, &s.rootfd)))
		goto cleanup;
	s.repo = r;
	s.target = target;
	s.flags = p->flags;
	s.no_openat2 = p->no_openat2;
	s.is_root = geteuid() == 0;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	astra__op_init(&s.op, p->progress_cb, p->payload, p->cancel);
	s.op.p.stage = ASTRA_STAGE_RESTORING;
	const astra__json *st = astra__json_get(rec, "stats");
	s.op.p.bytes_total = (uint64_t)astra__json_int(st, "bytes", 0);
	s.report = astra__json_new_array();
	if (!s.report) {
		rc = ASTRA_ENOMEM;
		goto cleanup;
	}
	/* a remote store answers each chunk's ranged read after a round
	 * trip: keep io_depth of them in flight */
	unsigned workers = r->threads + 1 + r->store->io_depth;
	if ((rc = astra__pool_new(&s.pool, workers, (size_t)workers * 2)))
		goto cleanup;

	if (subnode)
		rc = restore_node(&s, subnode, s.rootfd, "", 0);
	else
		rc = restore_tree(&s, root, s.rootfd, "", 0);
	astra__rs_flush_run(&s);
	astra__pool_wait(s.pool);
	if (!rc && atomic_load(&s.fatal))
		rc = astra__err(
		        s.fatal_code, ASTRA_ERROR_REPO, "%s", s.fatal_msg);

	/* hard links, then directory metadata deepest first */
	for (size_t i = 0; i < s.links.n; i++) {
		pending_meta *m = &s.links.v[i];
		if (!rc && astra__rs_make_link(&s, m) == ASTRA_ENOMEM)
			rc = ASTRA_ENOMEM;
	}
	for (size_t i = s.dirs.n; !rc && i-- > 0;) {
		pending_meta *m = &s.dirs.v[i];
		int fd = astra__rs_open_beneath(&s, m->rel);
		if (fd < 0) {
			astra__rs_report(&s, m->rel, "metadata");
			continue;
		}
		astra__rs_apply_meta(&s, fd, -1, NULL, m->rel, m->node, 0);
		close(fd);
	}
	if (!rc && astra__json_size(s.report))
		rc = astra__err(ASTRA_EPARTIAL, ASTRA_ERROR_REPO,
		        "restored snapshot %s except %zu item(s) (first: %s: "
		        "%s)",
		        full, astra__json_size(s.report),
		        astra__json_str(astra__json_at(s.report, 0), "path"),
		        astra__json_str(astra__json_at(s.report, 0), "error"));
	if (rc != ASTRA_EPARTIAL && rc != 0)
		astra__err_prefix(rc, "restore of %s", full);
	else {
		s.op.p.bytes_done = s.bytes;
		astra__op_report(&s.op, 1);
	}
cleanup:
	if (s.pool)
		astra__pool_free(s.pool);
	for (size_t i = 0; i < s.links.n; i++) {
		free(s.links.v[i].rel);
		astra__json_free(s.links.v[i].node);
	}
	for (size_t i = 0; i < s.dirs.n; i++) {
		free(s.dirs.v[i].rel);
		astra__json_free(s.dirs.v[i].node);
	}
	astra_vec_free(&s.links);
	astra_vec_free(&s.dirs);
	size_t pos = 0;
	void *val;
	while (astra__map_next(&s.made, &pos, NULL, &val))
		free(val);
	astra__map_free(&s.made);
	if (s.rootfd >= 0)
		close(s.rootfd);
	if (out) {
		out->files = s.files;
		out->dirs = s.dirs_n;
		out->bytes = s.bytes;
		out->errors = astra__json_size(s.report);
		out->duration_s = (double)(astra__mono_ns() - t0) / 1e9;
		out->report = s.report;
		s.report = NULL;
	}
	free(s.snap_prefix);
	astra__json_free(s.report);
	astra__json_free(rec);
	astra__json_free(root);
	astra__json_free(subtree);
	if (s.repo) {
		pthread_mutex_destroy(&s.mu);
		pthread_cond_destroy(&s.cv);
	}
	return rc;
}
