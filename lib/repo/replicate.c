/*
 * Replication: copy into a second store what it lacks of this vault, so
 * that it becomes a replica that opens with the same keys (docs/format.md,
 * "Replication"). Objects are copied class by class in the order of the
 * writing protocol (config, key slots, key epochs, packs, index files,
 * snapshot records, app-backup records), so a replica is consistent at every
 * moment: nothing in it refers to an object it does not hold yet. Nothing
 * is ever deleted from the replica except key slots the vault no longer
 * has (an old password must not open the replica).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra/vault.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/map.h"
#include "core/op.h"
#include "core/options.h"
#include "core/pool.h"
#include "core/vec.h"
#include "fmt/json.h"
#include "repo/data.h"
#include "repo/parse.h"
#include "repo/repo.h"
#include "repo/vault_internal.h"
#include "store/store.h"

/* At most this many rounds: a round copies what appeared on the source
 * while the previous one ran (a backup or a gc that wrote new packs). */
#define REPL_MAX_ROUNDS 4

static const struct {
	const char *prefix;
	const char *name;
} repl_classes[] = {
	{ "config", "config" },
	{ "keys/", "key_slots" },
	{ "epochs/", "key_epochs" },
	{ "data/", "packs" },
	{ "index/", "index_files" },
	{ "snapshots/", "snapshots" },
	{ "appbackups/", "app_backups" },
};
#define REPL_NCLASSES (sizeof(repl_classes) / sizeof(repl_classes[0]))

typedef struct {
	char *key;
	uint64_t size;
} repl_obj;

typedef ASTRA_VEC(repl_obj) repl_objs;

typedef struct {
	astra__repo *r;
	astra__store *dst;
	astra__op *op;
	int dry_run;
	pthread_mutex_t mu;
	int err; /* first failure of a copy task */
	int err_class;
	char err_msg[1024];
	uint64_t copied[REPL_NCLASSES];
	uint64_t present;
	uint64_t bytes;
	uint64_t slots_removed;
	int rounds;
	const char *dst_url; /* for messages: no credentials */
	astra__json *damaged; /* [{"object", "error"}]: not copied */
	astra__map damaged_keys; /* the same keys: not tried again */
} repl_run;

typedef struct {
	repl_run *g;
	size_t cls;
	char *key;
	uint64_t size;
} repl_task;

static int collect_cb(const astra__obj_info *info, void *payload)
{
	repl_objs *v = payload;
	repl_obj o = { NULL, info->size };
	if (!(o.key = astra__strdup(info->key)))
		return astra__err_oom();
	if (astra_vec_push(v, o)) {
		free(o.key);
		return astra__err_oom();
	}
	return 0;
}

static void objs_free(repl_objs *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i].key);
	astra_vec_free(v);
}

/* The objects of one class on a store (only "config" itself for the
 * config class). */
static int list_class(astra__store *s, size_t cls, repl_objs *out)
{
	if (!s) /* a dry run towards a store that does not exist yet */
		return 0;
	int rc =
	        astra__store_list(s, repl_classes[cls].prefix, collect_cb, out);
	if (rc || strcmp(repl_classes[cls].prefix, "config"))
		return rc;
	size_t w = 0;
	for (size_t i = 0; i < out->n; i++) {
		if (!strcmp(out->v[i].key, "config"))
			out->v[w++] = out->v[i];
		else
			free(out->v[i].key);
	}
	out->n = w;
	return 0;
}

static void task_fail(repl_run *g)
{
	const astra_error *e = astra_error_last();
	pthread_mutex_lock(&g->mu);
	if (!g->err) {
		g->err = e->code ? e->code : ASTRA_EIO;
		g->err_class = e->klass;
		snprintf(g->err_msg, sizeof(g->err_msg), "%s",
		        e->message ? e->message : "copy failed");
	}
	pthread_mutex_unlock(&g->mu);
}

/* The vault's object is what it claims to be before it is copied: a
 * record, epoch object or index file authenticates under the vault's keys
 * (and an index file decompresses), a pack's sealed header authenticates
 * and its entries fit. A primary object that fails is not copied. */
static int verify_obj(
        repl_run *g, size_t cls, const char *key, const astra_buf *data)
{
	const char *pre = repl_classes[cls].prefix;
	astra_buf plain = ASTRA_BUF_INIT;
	int rc = 0;
	if (!strcmp(pre, "index/")) {
		rc = astra__index_file_open(g->r, key,
		        (const uint8_t *)data->ptr, data->size, &plain);
	} else if (!strcmp(pre, "snapshots/") || !strcmp(pre, "appbackups/") ||
	           !strcmp(pre, "epochs/")) {
		rc = astra__repo_open_sealed(
		        g->r, key, data->ptr, data->size, &plain, key);
	} else if (!strcmp(pre, "data/")) {
		const char *hex = strrchr(key, '/');
		astra__idx_entry *e = NULL;
		size_t n = 0;
		rc = astra__pack_parse_header(g->r, hex ? hex + 1 : key,
		        data->ptr, data->size, &e, &n);
		free(e);
	}
	astra_buf_dispose(&plain);
	return rc;
}

static void task_skip(repl_run *g, const char *key)
{
	const astra_error *e = astra_error_last();
	astra__log_warn("replicate: %s is damaged in the vault and was not "
	                "copied: %s",
	        key, e->message);
	pthread_mutex_lock(&g->mu);
	astra__json *u = astra__json_new_object();
	if (u && !astra__json_set_str(u, "object", key) &&
	        !astra__json_set_str(u, "error", e->message) &&
	        !astra__json_push(g->damaged, u))
		u = NULL;
	astra__json_free(u);
	astra__map_set(&g->damaged_keys, key, NULL, NULL);
	g->op->p.items_done++;
	pthread_mutex_unlock(&g->mu);
	astra_error_clear();
}

static void copy_task(void *arg)
{
	repl_task *t = arg;
	repl_run *g = t->g;
	astra_buf data = ASTRA_BUF_INIT;
	astra__put_opts po;
	memset(&po, 0, sizeof(po));
	po.flags = ASTRA_PUT_IF_ABSENT;
	int rc = 0;
	pthread_mutex_lock(&g->mu);
	int stop = g->err != 0;
	pthread_mutex_unlock(&g->mu);
	if (stop)
		goto done;
	if (g->r->lock_days) {
		/* the replica keeps each object as long as the vault does */
		astra__obj_info info;
		memset(&info, 0, sizeof(info));
		rc = astra__store_head(g->r->store, t->key, &info);
		if (rc == ASTRA_ENOTFOUND)
			goto gone;
		if (rc)
			goto fail;
		po.retain_until = info.retain_until;
		po.lock_mode =
		        info.lock_mode ? info.lock_mode : g->r->lock_mode;
	}
	rc = astra__store_get(g->r->store, t->key, 0, 0, &data);
	if (rc == ASTRA_ENOTFOUND)
		goto gone; /* deleted by a gc meanwhile: the next round sees */
	if (rc)
		goto fail;
	if (verify_obj(g, t->cls, t->key, &data)) {
		task_skip(g, t->key);
		goto done;
	}
	rc = astra__store_put(g->dst, t->key, data.ptr, data.size, &po);
	if (rc == ASTRA_EEXISTS) {
		/* another replicator was faster: same vault, same object */
		rc = 0;
	} else if (rc) {
		goto fail;
	}
	pthread_mutex_lock(&g->mu);
	g->copied[t->cls]++;
	g->bytes += data.size;
	g->op->p.items_done++;
	g->op->p.bytes_done += t->size;
	g->op->p.bytes_stored += data.size;
	pthread_mutex_unlock(&g->mu);
	goto done;
gone:
	astra__log(ASTRA_LOG_INFO,
	        "replicate: %s vanished from the vault "
	        "while copying (a gc); skipped",
	        t->key);
	pthread_mutex_lock(&g->mu);
	g->op->p.items_done++;
	pthread_mutex_unlock(&g->mu);
	goto done;
fail:
	astra__err_prefix(rc, "replicating %s to %s", t->key, g->dst->url);
	task_fail(g);
done:
	astra_buf_dispose(&data);
	free(t->key);
	free(t);
}

/* A replica must be this vault's: same config object, byte for byte. */
static int check_target(repl_run *g, int *fresh)
{
	astra_buf a = ASTRA_BUF_INIT, b = ASTRA_BUF_INIT;
	if (!g->dst) {
		*fresh = 1;
		return 0;
	}
	int rc = astra__store_get(g->dst, "config", 0, 0, &b);
	*fresh = rc == ASTRA_ENOTFOUND;
	if (*fresh) {
		rc = 0;
		goto done;
	}
	if (rc)
		goto done;
	if ((rc = astra__store_get(g->r->store, "config", 0, 0, &a)))
		goto done;
	if (a.size != b.size || memcmp(a.ptr, b.ptr, a.size))
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_REPO,
		        "%s holds another vault (its config differs from "
		        "vault %s's): a replica must be empty or a replica of "
		        "this vault",
		        g->dst->url, g->r->vault_id);
done:
	astra_buf_dispose(&a);
	astra_buf_dispose(&b);
	return rc;
}

static int key_set(const repl_objs *v, astra__map *m)
{
	for (size_t i = 0; i < v->n; i++)
		if (astra__map_set(m, v->v[i].key, &v->v[i], NULL))
			return astra__err_oom();
	return 0;
}

/* Copies the missing objects of one class; *queued counts them. */
static int copy_class(
        repl_run *g, astra__pool *pool, size_t cls, uint64_t *queued)
{
	repl_objs src = ASTRA_VEC_INIT, dst = ASTRA_VEC_INIT;
	astra__map have = ASTRA_MAP_INIT;
	int rc;
	*queued = 0;
	if ((rc = list_class(g->r->store, cls, &src)) ||
	        (rc = list_class(g->dst, cls, &dst)) ||
	        (rc = key_set(&dst, &have)))
		goto done;
	for (size_t i = 0; i < src.n && !rc; i++) {
		repl_obj *d = astra__map_get(&have, src.v[i].key);
		if (d) {
			if (d->size != src.v[i].size &&
			        strcmp(repl_classes[cls].prefix, "keys/")) {
				rc = astra__err(ASTRA_ECORRUPT,
				        ASTRA_ERROR_REPO,
				        "%s: %s has %llu bytes in the replica "
				        "and %llu in the vault: the replica "
				        "is damaged or not this vault's "
				        "(check it with `vault check`)",
				        g->dst->url, src.v[i].key,
				        (unsigned long long)d->size,
				        (unsigned long long)src.v[i].size);
				break;
			}
			g->present++;
			continue;
		}
		pthread_mutex_lock(&g->mu);
		int bad = astra__map_has(&g->damaged_keys, src.v[i].key);
		pthread_mutex_unlock(&g->mu);
		if (bad)
			continue; /* reported once, not tried again */
		(*queued)++;
		g->op->p.items_total++;
		g->op->p.bytes_total += src.v[i].size;
		if (g->dry_run) {
			g->copied[cls]++;
			g->bytes += src.v[i].size;
			continue;
		}
		repl_task *t = astra__calloc(1, sizeof(*t));
		if (!t) {
			rc = astra__err_oom();
			break;
		}
		t->g = g;
		t->cls = cls;
		t->key = astra__strdup(src.v[i].key);
		t->size = src.v[i].size;
		if (!t->key) {
			free(t);
			rc = astra__err_oom();
			break;
		}
		if ((rc = astra__pool_submit(pool, copy_task, t))) {
			free(t->key);
			free(t);
			break;
		}
		pthread_mutex_lock(&g->mu);
		int failed = g->err;
		rc = failed ? 0 : astra__op_report(g->op, 0);
		pthread_mutex_unlock(&g->mu);
		if (failed)
			break;
	}
	astra__pool_wait(pool);
	if (!rc && g->err)
		rc = astra__err(g->err, g->err_class, "%s", g->err_msg);
	/* key slots the vault no longer has (a password change) leave the
	 * replica too, once every slot of the vault is there */
	if (!rc && !g->dry_run && !strcmp(repl_classes[cls].prefix, "keys/") &&
	        src.n) {
		astra__map want = ASTRA_MAP_INIT;
		for (size_t i = 0; i < src.n && !rc; i++)
			if (astra__map_set(&want, src.v[i].key, NULL, NULL))
				rc = astra__err_oom();
		for (size_t i = 0; i < dst.n && !rc; i++) {
			if (astra__map_has(&want, dst.v[i].key))
				continue;
			rc = astra__store_del(g->dst, dst.v[i].key);
			if (rc == ASTRA_EPOLICY) {
				astra__log(ASTRA_LOG_WARN,
				        "replicate: key slot %s of %s is "
				        "locked and stays until its retention "
				        "ends",
				        dst.v[i].key, g->dst->url);
				rc = 0;
			} else if (!rc) {
				g->slots_removed++;
			}
		}
		astra__map_free(&want);
	}
done:
	astra__map_free(&have);
	objs_free(&src);
	objs_free(&dst);
	return rc;
}

/* Copies class by class until a round finds no new packs or index files. */
static int run_rounds(repl_run *g, astra__pool *pool)
{
	int rc = 0;
	for (int round = 0; round < REPL_MAX_ROUNDS && !rc; round++) {
		uint64_t data_new = 0;
		g->rounds = round + 1;
		for (size_t c = 0; c < REPL_NCLASSES && !rc; c++) {
			uint64_t q = 0;
			rc = copy_class(g, pool, c, &q);
			if (c == 3 || c == 4)
				data_new += q;
			/* between classes: a cancel stops here, with the
			 * replica consistent */
			if (!rc)
				rc = astra__op_report(g->op, 1);
		}
		if (g->dry_run || !data_new)
			break;
	}
	return rc;
}

astra_status astra_replicate_options_init(
        astra_replicate_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_replicate_options, REPLICATE, o, version,
	        sizeof(defaults));
}

static astra__json *repl_report(const repl_run *g)
{
	astra__json *rep = astra__json_new_object();
	astra__json *cp = astra__json_new_object();
	if (!rep || !cp) {
		astra__json_free(rep);
		astra__json_free(cp);
		return NULL;
	}
	for (size_t c = 0; c < REPL_NCLASSES; c++)
		astra__json_set_int(
		        cp, repl_classes[c].name, (int64_t)g->copied[c]);
	astra__json_set_str(rep, "target", g->dst_url);
	astra__json_set_str(rep, "vault_id", g->r->vault_id);
	astra__json_set_bool(rep, "dry_run", g->dry_run);
	astra__json_set(rep, g->dry_run ? "would_copy" : "copied", cp);
	astra__json_set_int(rep, "bytes", (int64_t)g->bytes);
	astra__json_set_int(rep, "present", (int64_t)g->present);
	astra__json_set_int(
	        rep, "key_slots_removed", (int64_t)g->slots_removed);
	astra__json_set_int(rep, "rounds", g->rounds);
	astra__json *d = astra__json_dup(g->damaged);
	if (d)
		astra__json_set(rep, "damaged", d);
	return rep;
}

astra_status astra_vault_replicate(astra_vault *v, const char *target_url,
        const astra_replicate_options *o, astra_buf *report)
{
	ASTRA_ASSERT_ARG(v);
	ASTRA_ASSERT_ARG(target_url);
	int rc;
	if (o && (rc = astra__check_version(o->version,
	                  ASTRA_REPLICATE_OPTIONS_VERSION,
	                  "astra_replicate_options")))
		return rc;
	if (o && (o->flags & ~ASTRA_REPLICATE_F_DRY_RUN))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "astra_replicate_options: unknown flags 0x%x",
		        o->flags & ~ASTRA_REPLICATE_F_DRY_RUN);
	astra__op op;
	astra__op_init(&op, o ? o->progress_cb : NULL, o ? o->payload : NULL,
	        o ? o->cancel : NULL);
	op.p.stage = ASTRA_STAGE_REPLICATING;
	repl_run g;
	memset(&g, 0, sizeof(g));
	g.r = v->r;
	g.op = &op;
	g.dry_run = o && (o->flags & ASTRA_REPLICATE_F_DRY_RUN);
	pthread_mutex_init(&g.mu, NULL);
	if (!(g.damaged = astra__json_new_array())) {
		pthread_mutex_destroy(&g.mu);
		return ASTRA_ENOMEM;
	}
	astra__pool *pool = NULL;
	astra__json *rep = NULL;
	astra__store_opts so;
	memset(&so, 0, sizeof(so));
	so.create = !g.dry_run;
	rc = astra__store_open(&g.dst, target_url, &so);
	if (rc == ASTRA_ENOTFOUND && g.dry_run) {
		/* nothing there yet: everything would be copied */
		astra_error_clear();
		rc = 0;
		g.dst = NULL;
		g.dst_url = target_url;
	} else if (rc) {
		goto done;
	} else {
		g.dst_url = g.dst->url;
	}
	if (g.dst && !strcmp(g.dst->url, v->r->store->url)) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "the replica %s is the vault itself", g.dst->url);
		goto done;
	}
	int fresh = 0;
	if ((rc = check_target(&g, &fresh)))
		goto done;
	if (v->r->lock_days && g.dst &&
	        !(g.dst->caps & ASTRA_STORE_CAP_OBJECT_LOCK)) {
		rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_REPO,
		        "vault %s is immutable but %s has no object lock: its "
		        "replica must be immutable too",
		        v->r->vault_id, g.dst_url);
		goto done;
	}
	unsigned threads = o && o->parallel ? o->parallel : 0;
	if (!threads) {
		unsigned dd = g.dst ? g.dst->io_depth : 0;
		unsigned d =
		        v->r->store->io_depth > dd ? v->r->store->io_depth : dd;
		threads = d > 4 ? d : 4;
	}
	if (threads > 64)
		threads = 64;
	if ((rc = astra__pool_new(&pool, threads, 0)))
		goto done;
	astra__log(ASTRA_LOG_INFO,
	        "replicate: vault %s to %s%s (%u copies "
	        "in flight)",
	        v->r->vault_id, g.dst_url, fresh ? " (new replica)" : "",
	        threads);
	rc = run_rounds(&g, pool);
	if (!rc && astra__json_size(g.damaged))
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "%zu object(s) of vault %s are damaged and were not "
		        "copied (the report's \"damaged\"; run `vault check`)",
		        astra__json_size(g.damaged), v->r->vault_id);
	if (rc) {
		astra__saved_err e;
		astra__err_save(&e);
		astra__pool_free(pool);
		pool = NULL;
		astra__err_restore(&e);
	}
	if (report && (rep = repl_report(&g))) {
		astra__saved_err e;
		astra__err_save(&e);
		int r2 = astra__json_print_buf(report, rep, 1);
		if (r2 && !rc)
			rc = r2;
		else if (rc)
			astra__err_restore(&e);
	}
done:
	astra__pool_free(pool);
	astra__json_free(rep);
	astra__store_free(g.dst);
	astra__json_free(g.damaged);
	astra__map_free(&g.damaged_keys);
	pthread_mutex_destroy(&g.mu);
	return rc;
}
