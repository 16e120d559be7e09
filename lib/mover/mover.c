/*
 * In-cluster data mover Jobs, all in the control namespace (never a
 * tenant's): a volume is backed up by a Job whose pod mounts (read-only) a
 * PVC made in the control namespace from a VolumeSnapshot there, bound to
 * a pre-provisioned VolumeSnapshotContent (Retain) with the source
 * snapshot's handle; it is restored by a Job that fills a PVC made in the
 * control namespace, whose PV is then handed over to the tenant's PVC
 * (claimRef, with the reclaim policy Retain while no claim holds it). The
 * pod runs astractl from an image (`data backup|restore ... --result-file
 * /dev/termination-log`); the vault secret and AWS credentials reach it
 * through a Secret owned by the Job only (the Job is created suspended,
 * then the Secret, then the Job is resumed). Results come back through the
 * termination message of the Job's own pod (owner uid). Every object
 * carries the run's id; a run holds a Lease renewed every 10 s, and a run
 * that begins sweeps the objects of runs whose Lease the API server has
 * not seen renewed for LEASE_DEAD_S (docs/backups.md, "Data mover
 * strategies"; docs/security.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mover/mover.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "repo/catalog.h"

#define MOVER_LABEL "backups.astra.dev/mover"
/* on a PV the mover made to read a live volume: the tenant PV it exposes
 * (its volume is never deleted with it) */
#define EXPOSES_ANNOTATION "backups.astra.dev/exposes"
/* the mover pod's writable scratch directory (TMPDIR, HOME) */
#define SCRATCH_DIR "/astra-scratch"
#define RUN_LABEL "backups.astra.dev/mover-run"
/* the control namespace of the run, on every object (cluster-scoped ones
 * too): a sweep touches only its own control namespace's objects, so two
 * protectors with different control namespaces never sweep each other's
 * volumes in flight */
#define CTL_LABEL "backups.astra.dev/mover-control-namespace"
/* a PV being handed over: its reclaim policy before (it is Retain until
 * the tenant's PVC is bound to it) */
#define POLICY_ANNOTATION "backups.astra.dev/mover-reclaim-policy"
#define SECRET_DIR "/astra-secret"
#define DEFAULT_CONTROL_NS "astra-system"
#define SNAP_GROUP "snapshot.storage.k8s.io"
/* a run renews its Lease every LEASE_RENEW_S; the objects of a run whose
 * Lease was last written LEASE_DEAD_S ago (API server time) are swept */
#define LEASE_RENEW_S 10
#define LEASE_DEAD_S 45
/* ttlSecondsAfterFinished of the Jobs */
#define JOB_TTL_S 300

astra_status astra_mover_options_init(
        astra_mover_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_mover_options, MOVER, o, version,
	        offsetof(astra_mover_options, control_namespace),
	        sizeof(defaults));
}

struct astra__mover {
	astra__kube *k;
	astra__repo *r;
	char *url; /* the vault's URL */
	char *image, *pull_policy;
	unsigned parallelism, timeout_s;
	int host_network;
	unsigned run_as_user; /* 0: root with few capabilities */
	astra__json *node_selector, *tolerations;
	astra_buf secret; /* the vault secret (wiped) */
	astra_cancel *cancel;
	char prefix[24]; /* "astra-mv-<8 hex>": the run's Lease */
	char run_id[12]; /* the 8 hex digits (RUN_LABEL) */
	char *ctl_ns; /* the control namespace */
	/* the run: Lease, sweep and heartbeat, on the first Job */
	pthread_mutex_t start_mu;
	int started, start_rc;
	astra__saved_err start_err;
	pthread_t hb;
	int hb_running, hb_stop, leased;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned running, seq;
	int abort; /* a Job failed: stop the others */
	int wrote; /* Jobs wrote into the vault: reload its index */
};

/* Environment passed to the pods (through the Secret): what the vault's
 * store needs to be opened from another process (AWS_* for s3://). */
static const char *const *job_env(const astra__mover *m)
{
	return astra__repo_url_job_env(m->url);
}

static int read_secret_file(const char *path, astra_buf *out)
{
	int rc =
	        astra__file_read(out, path, (size_t)1 << 20, ASTRA_FILE_SECRET);
	if (!rc)
		return 0;
	astra__saved_err e;
	astra__err_save(&e);
	return astra__err(ASTRA_EIO, ASTRA_ERROR_OS,
	        "mover: cannot read the vault password file %s: %s", path,
	        e.message);
}

int astra__mover_new(astra__mover **out, astra__kube *k, astra__repo *r,
        const astra_mover_options *o, const char *ctl_ns, astra_cancel *cancel)
{
	*out = NULL;
	if (!o)
		return 0;
	int rc = astra__check_version(
	        o->version, ASTRA_MOVER_OPTIONS_VERSION, "astra_mover_options");
	if (rc)
		return rc;
	if (o->strategy == ASTRA_MOVER_HOSTPATH)
		return 0;
	if (o->strategy != ASTRA_MOVER_JOB)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover strategy %u is unknown (ASTRA_MOVER_HOSTPATH or "
		        "ASTRA_MOVER_JOB)",
		        o->strategy);
	if (!o->image || !*o->image)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover Jobs need an image with astractl");
	if (o->image_pull_policy && strcmp(o->image_pull_policy, "Always") &&
	        strcmp(o->image_pull_policy, "IfNotPresent") &&
	        strcmp(o->image_pull_policy, "Never"))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover image pull policy \"%s\" is not Always, "
		        "IfNotPresent or Never",
		        o->image_pull_policy);
	if (!o->vault_password == !o->vault_password_file)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover Jobs need the vault's secret: a password or a "
		        "password file (one of the two)");
	if (o->parallelism > 256)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover parallelism %u is above 256", o->parallelism);
	const char *ctl = o->version >= 2 && o->control_namespace
	                          ? o->control_namespace
	                  : ctl_ns && *ctl_ns ? ctl_ns
	                                      : DEFAULT_CONTROL_NS;
	size_t cl = strlen(ctl);
	int ctl_ok = cl >= 1 && cl <= 63 && ctl[0] != '-' && ctl[cl - 1] != '-';
	for (size_t i = 0; ctl_ok && i < cl; i++)
		ctl_ok = (ctl[i] >= 'a' && ctl[i] <= 'z') ||
		         (ctl[i] >= '0' && ctl[i] <= '9') || ctl[i] == '-';
	if (!ctl_ok)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover control namespace \"%.80s\" is not a namespace "
		        "name (1 to 63 of a-z, 0-9 and -, not starting or "
		        "ending with -)",
		        ctl);
	astra__mover *m = astra__calloc(1, sizeof(*m));
	ASTRA_CHECK_ALLOC(m);
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->start_mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->k = k;
	m->ctl_ns = astra__strdup(ctl);
	m->r = r;
	m->cancel = cancel;
	m->parallelism = o->parallelism ? o->parallelism : 4;
	m->timeout_s = o->timeout_s ? o->timeout_s : 3600;
	m->host_network = o->host_network;
	m->run_as_user = o->version >= 2 ? o->run_as_user : 0;
	m->url = astra__strdup(o->vault_url  ? o->vault_url
	                       : r->open_url ? r->open_url
	                                     : astra__repo_url(r));
	m->image = astra__strdup(o->image);
	m->pull_policy = astra__strdup(
	        o->image_pull_policy ? o->image_pull_policy : "IfNotPresent");
	if (!m->url || !m->image || !m->pull_policy || !m->ctl_ns)
		rc = ASTRA_ENOMEM;
	if (!rc && o->node_selector_json) {
		rc = astra__json_parse(&m->node_selector, o->node_selector_json,
		        strlen(o->node_selector_json), "mover node selector");
		if (!rc && astra__json_type_of(m->node_selector) !=
		                   ASTRA_JSON_OBJECT)
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "the mover node selector is not a JSON object");
	}
	if (!rc && o->tolerations_json) {
		rc = astra__json_parse(&m->tolerations, o->tolerations_json,
		        strlen(o->tolerations_json), "mover tolerations");
		if (!rc &&
		        astra__json_type_of(m->tolerations) != ASTRA_JSON_ARRAY)
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
			        "the mover tolerations are not a JSON array");
	}
	if (!rc && o->vault_password)
		rc = astra__buf_puts(&m->secret, o->vault_password);
	else if (!rc)
		rc = read_secret_file(o->vault_password_file, &m->secret);
	if (!rc && !m->secret.size)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "mover: the vault secret is empty");
	unsigned char rnd[4];
	if (!rc)
		rc = astra__random(rnd, sizeof(rnd));
	if (rc) {
		astra__mover_free(m);
		return rc;
	}
	char hex[9];
	astra__hex_encode(hex, rnd, sizeof(rnd));
	snprintf(m->run_id, sizeof(m->run_id), "%s", hex);
	snprintf(m->prefix, sizeof(m->prefix), "astra-mv-%s", hex);
	*out = m;
	return 0;
}

static void run_end(astra__mover *m);

void astra__mover_free(astra__mover *m)
{
	if (!m)
		return;
	run_end(m);
	/* the pods wrote packs and index files this process has not seen */
	if (m->wrote)
		m->r->index_loaded = 0;
	if (m->secret.ptr)
		astra__wipe(m->secret.ptr, m->secret.size);
	astra_buf_dispose(&m->secret);
	free(m->url);
	free(m->image);
	free(m->pull_policy);
	free(m->ctl_ns);
	astra__json_free(m->node_selector);
	astra__json_free(m->tolerations);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->start_mu);
	free(m);
}

/* ---- objects ---- */

static astra__json *str_array(const char *const *v, size_t n)
{
	astra__json *a = astra__json_new_array();
	for (size_t i = 0; a && i < n; i++)
		if (astra__json_push(a, astra__json_new_string(v[i]))) {
			astra__json_free(a);
			return NULL;
		}
	return a;
}

static astra__json *metadata(
        const astra__mover *m, const char *name, const char *ns)
{
	astra__json *md = astra__json_new_object();
	astra__json *labels = astra__json_new_object();
	if (!md || !labels) {
		astra__json_free(md);
		astra__json_free(labels);
		return NULL;
	}
	astra__json_set_str(md, "name", name);
	if (ns)
		astra__json_set_str(md, "namespace", ns);
	astra__json_set_str(labels, MOVER_LABEL, "true");
	astra__json_set_str(labels, RUN_LABEL, m->run_id);
	astra__json_set_str(labels, CTL_LABEL, m->ctl_ns);
	astra__json_set(md, "labels", labels);
	return md;
}

static astra__json *new_kind(const astra__mover *m, const char *av,
        const char *kind, const char *name, const char *ns)
{
	astra__json *o = astra__json_new_object();
	if (!o)
		return NULL;
	astra__json_set_str(o, "apiVersion", av);
	astra__json_set_str(o, "kind", kind);
	astra__json_set(o, "metadata", metadata(m, name, ns));
	return o;
}

/* ---- the run: its Lease, the heartbeat, the sweep ---- */

static int release_pv(astra__mover *m, const astra__kube_resource *r,
        const char *pv, astra__op *op);

/* Unix seconds of an RFC 3339 UTC time ("2026-12-07T21:40:00Z", any
 * fraction ignored); -1 when it is not one. */
static int64_t utc_seconds(const char *t)
{
	int y, mo, d, h, mi, se;
	if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi,
	                  &se) != 6)
		return -1;
	y -= mo <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + se;
}

/* When the API server last saw `obj` written (its clock, not ours): the
 * newest managedFields time, else the creation time; -1: unknown. */
static int64_t last_write(const astra__json *obj)
{
	const astra__json *md = astra__json_get(obj, "metadata");
	int64_t t = utc_seconds(astra__json_str(md, "creationTimestamp"));
	const astra__json *mf = astra__json_get(md, "managedFields");
	for (size_t i = 0; i < astra__json_size(mf); i++) {
		int64_t x = utc_seconds(
		        astra__json_str(astra__json_at(mf, i), "time"));
		if (x > t)
			t = x;
	}
	return t;
}

static void micro_time(char *out, size_t n)
{
	char t[32];
	astra__fmt_utc(t, astra__wall_ns() / 1000000000);
	snprintf(out, n, "%.19s.000000Z", t);
}

static int renew(astra__mover *m, const astra__kube_resource *lr)
{
	char now[40], patch[128];
	micro_time(now, sizeof(now));
	int n = snprintf(
	        patch, sizeof(patch), "{\"spec\":{\"renewTime\":\"%s\"}}", now);
	astra__op q;
	astra__op_init(&q, NULL, NULL, NULL);
	astra__kube_write_options wo = { 0 };
	wo.op = &q;
	return astra__kube_patch(m->k, lr, m->ctl_ns, m->prefix,
	        ASTRA_KUBE_PATCH_MERGE, patch, (size_t)n, &wo, NULL);
}

/* Renews the run's Lease every LEASE_RENEW_S until the run ends. */
static void *heartbeat(void *arg)
{
	astra__mover *m = arg;
	astra__kube_resource lr;
	if (astra__kube_find_kind(
	            m->k, "coordination.k8s.io", "v1", "Lease", &lr))
		return NULL;
	int warned = 0;
	pthread_mutex_lock(&m->mu);
	while (!m->hb_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += LEASE_RENEW_S;
		int w = 0;
		while (!m->hb_stop && w != ETIMEDOUT)
			w = pthread_cond_timedwait(&m->cv, &m->mu, &ts);
		if (m->hb_stop)
			break;
		pthread_mutex_unlock(&m->mu);
		if (renew(m, &lr) && !warned++)
			astra__log_warn("mover: cannot renew the run's Lease "
			                "%s/%s: %s",
			        m->ctl_ns, m->prefix,
			        astra_error_last()->message);
		pthread_mutex_lock(&m->mu);
	}
	pthread_mutex_unlock(&m->mu);
	astra__kube_resource_clear(&lr);
	return NULL;
}

/* What the sweep looks at: every kind the mover creates, labelled. */
static const struct {
	const char *group, *version, *kind;
} sweep_kinds[] = {
	{ "batch", "v1", "Job" }, { "", "v1", "Secret" },
	{ "", "v1", "PersistentVolumeClaim" },
	{ SNAP_GROUP, "v1", "VolumeSnapshot" },
	{ SNAP_GROUP, "v1", "VolumeSnapshotContent" },
	{ "", "v1", "PersistentVolume" },
	{ "coordination.k8s.io", "v1", "Lease" }, /* last: the runs' */
};

/* Whether run `id` is over: its Lease is gone or was last written more
 * than LEASE_DEAD_S before `now` (both the API server's clock). Answers
 * are kept in `seen` (run id -> bool). */
static int run_dead(astra__mover *m, const astra__kube_resource *lr,
        const char *id, int64_t now, astra__json *seen)
{
	if (astra__json_get(seen, id))
		return astra__json_bool(seen, id, 0);
	char name[64];
	snprintf(name, sizeof(name), "astra-mv-%.20s", id);
	astra__json *lease = NULL;
	int rc = astra__kube_get(m->k, lr, m->ctl_ns, name, &lease);
	int dead = rc == ASTRA_ENOTFOUND ||
	           (!rc && now - last_write(lease) > LEASE_DEAD_S);
	astra__json_free(lease);
	astra_error_clear();
	astra__json_set_bool(seen, id, dead);
	return dead;
}

/* Deletes what runs that are over left behind in the control namespace
 * (and their VolumeSnapshotContents and PVs); `now`: the API server's
 * time. Failures are warnings. */
static void sweep(astra__mover *m, int64_t now)
{
	astra__kube_resource lr;
	if (astra__kube_find_kind(
	            m->k, "coordination.k8s.io", "v1", "Lease", &lr)) {
		astra_error_clear();
		return;
	}
	astra__json *seen = astra__json_new_object();
	astra__op q;
	astra__op_init(&q, NULL, NULL, NULL);
	astra__kube_write_options wo = { 0 };
	wo.op = &q;
	unsigned swept = 0;
	for (size_t k = 0;
	        seen && k < sizeof(sweep_kinds) / sizeof(*sweep_kinds); k++) {
		astra__kube_resource r;
		if (astra__kube_find_kind(m->k, sweep_kinds[k].group,
		            sweep_kinds[k].version, sweep_kinds[k].kind, &r)) {
			astra_error_clear(); /* e.g. no snapshot CRDs */
			continue;
		}
		astra__kube_list_options lo = { 0 };
		lo.label_selector = MOVER_LABEL "=true";
		lo.op = &q;
		astra__json *items = NULL;
		const char *ns = r.namespaced ? m->ctl_ns : NULL;
		if (astra__kube_list_all(m->k, &r, ns, &lo, &items))
			astra_error_clear();
		for (size_t i = 0; i < astra__json_size(items); i++) {
			const astra__json *o = astra__json_at(items, i);
			const astra__json *md = astra__json_get(o, "metadata");
			const char *name = astra__json_str(md, "name");
			const char *id = astra__json_str(
			        astra__json_get(md, "labels"), RUN_LABEL);
			if (!name || (id && !strcmp(id, m->run_id)))
				continue;
			const char *octl = astra__json_str(
			        astra__json_get(md, "labels"), CTL_LABEL);
			if (!octl || strcmp(octl, m->ctl_ns))
				continue; /* another control namespace's */
			int dead = id ? run_dead(m, &lr, id, now, seen)
			              : now - last_write(o) > LEASE_DEAD_S;
			if (!dead)
				continue;
			int is_pv = !strcmp(
			        sweep_kinds[k].kind, "PersistentVolume");
			const char *phase = astra__json_str(
			        astra__json_get(o, "status"), "phase");
			const char *cns = astra__json_str(
			        astra__json_path(o, "spec.claimRef"),
			        "namespace");
			int rc;
			if (is_pv && phase && !strcmp(phase, "Bound") && cns &&
			        strcmp(cns, m->ctl_ns)) {
				/* handed over and bound: the tenant's now */
				rc = release_pv(m, &r, name, &q);
			} else {
				int exposes =
				        astra__json_str(astra__json_get(md,
				                                "annotations"),
				                EXPOSES_ANNOTATION) != NULL;
				if (is_pv && !exposes) { /* its volume goes with
					                    it */
					static const char del[] =
					        "{\"spec\":{"
					        "\"persistentVolumeReclaimPolicy"
					        "\":\"Delete\"}}";
					astra__kube_patch(m->k, &r, NULL, name,
					        ASTRA_KUBE_PATCH_MERGE, del,
					        sizeof(del) - 1, &wo, NULL);
				}
				wo.propagation =
				        r.namespaced ? "Background" : NULL;
				rc = astra__kube_delete(
				        m->k, &r, ns, name, &wo);
				wo.propagation = NULL;
			}
			if (rc && rc != ASTRA_ENOTFOUND)
				astra__log_warn("mover: cannot sweep %s %s%s%s "
				                "of an ended run: %s",
				        sweep_kinds[k].kind, ns ? ns : "",
				        ns ? "/" : "", name,
				        astra_error_last()->message);
			else
				swept++;
			astra_error_clear();
		}
		astra__json_free(items);
		astra__kube_resource_clear(&r);
	}
	if (swept)
		astra__log_info("mover: swept %u objects of ended runs from "
		                "the control namespace %s",
		        swept, m->ctl_ns);
	astra__json_free(seen);
	astra__kube_resource_clear(&lr);
}

/* The run begins (first Job): the control namespace (made when missing),
 * the run's Lease, the sweep, the heartbeat. */
static int run_begin(astra__mover *m)
{
	astra__op op;
	astra__op_init(&op, NULL, NULL, m->cancel);
	astra__kube_write_options wo = { 0 };
	wo.op = &op;
	astra__kube_resource nsr, lr;
	int rc = astra__kube_find_kind(m->k, "", "v1", "Namespace", &nsr);
	if (rc)
		return rc;
	astra__json *obj = NULL;
	rc = astra__kube_get(m->k, &nsr, NULL, m->ctl_ns, &obj);
	astra__json_free(obj);
	obj = NULL;
	if (rc && rc != ASTRA_ENOTFOUND && rc != ASTRA_ECANCELLED) {
		/* not allowed to read namespaces: the Lease below fails
		 * with its own cause when the namespace is missing */
		astra_error_clear();
		rc = 0;
	}
	if (rc == ASTRA_ENOTFOUND) {
		astra__json *nso = astra__json_new_object();
		astra__json *md = astra__json_new_object();
		rc = nso && md ? 0 : ASTRA_ENOMEM;
		if (!rc) {
			astra__json_set_str(nso, "apiVersion", "v1");
			astra__json_set_str(nso, "kind", "Namespace");
			astra__json_set_str(md, "name", m->ctl_ns);
			astra__json_set(nso, "metadata", md);
			md = NULL;
			rc = astra__kube_create(
			        m->k, &nsr, NULL, nso, &wo, NULL);
			if (rc == ASTRA_EEXISTS)
				rc = 0;
		}
		astra__json_free(nso);
		astra__json_free(md);
	}
	astra__kube_resource_clear(&nsr);
	if (rc)
		return astra__err_prefix(
		        rc, "mover control namespace %s", m->ctl_ns);
	rc = astra__kube_find_kind(
	        m->k, "coordination.k8s.io", "v1", "Lease", &lr);
	if (rc)
		return rc;
	astra__json *lease = new_kind(
	        m, "coordination.k8s.io/v1", "Lease", m->prefix, m->ctl_ns);
	astra__json *spec = astra__json_new_object();
	char now[40];
	micro_time(now, sizeof(now));
	rc = lease && spec ? 0 : ASTRA_ENOMEM;
	if (!rc) {
		astra__json_set_str(spec, "holderIdentity", m->prefix);
		astra__json_set_int(spec, "leaseDurationSeconds", LEASE_DEAD_S);
		astra__json_set_str(spec, "acquireTime", now);
		astra__json_set_str(spec, "renewTime", now);
		astra__json_set(lease, "spec", spec);
		spec = NULL;
		rc = astra__kube_create(m->k, &lr, m->ctl_ns, lease, &wo, &obj);
	}
	astra__json_free(lease);
	astra__json_free(spec);
	astra__kube_resource_clear(&lr);
	if (rc) {
		astra__json_free(obj);
		return astra__err_prefix(
		        rc, "mover Lease %s/%s", m->ctl_ns, m->prefix);
	}
	m->leased = 1;
	int64_t t = last_write(obj);
	astra__json_free(obj);
	if (t > 0)
		sweep(m, t);
	if (pthread_create(&m->hb, NULL, heartbeat, m) == 0)
		m->hb_running = 1;
	else
		astra__log_warn("mover: no heartbeat thread: the run's objects "
		                "may be swept by a run beginning after %d s",
		        LEASE_DEAD_S);
	return 0;
}

static int run_start(astra__mover *m)
{
	pthread_mutex_lock(&m->start_mu);
	if (!m->started) {
		m->started = 1;
		m->start_rc = run_begin(m);
		if (m->start_rc)
			astra__err_save(&m->start_err);
	}
	int rc = m->start_rc;
	if (rc)
		astra__err_restore(&m->start_err);
	pthread_mutex_unlock(&m->start_mu);
	return rc;
}

/* The run ends: the heartbeat stops, the Lease goes. */
static void run_end(astra__mover *m)
{
	if (m->hb_running) {
		pthread_mutex_lock(&m->mu);
		m->hb_stop = 1;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->hb, NULL);
		m->hb_running = 0;
	}
	if (m->leased) {
		astra_error saved = *astra_error_last();
		char smsg[1024];
		snprintf(smsg, sizeof(smsg), "%s", saved.message);
		astra__kube_resource lr;
		if (!astra__kube_find_kind(
		            m->k, "coordination.k8s.io", "v1", "Lease", &lr)) {
			astra__op q;
			astra__op_init(&q, NULL, NULL, NULL);
			astra__kube_write_options wo = { 0 };
			wo.op = &q;
			astra__kube_delete(
			        m->k, &lr, m->ctl_ns, m->prefix, &wo);
			astra__kube_resource_clear(&lr);
		}
		m->leased = 0;
		if (saved.code)
			astra__err(saved.code, saved.klass, "%s", smsg);
		else
			astra_error_clear();
	}
}

static pthread_once_t unnarrowed_once = PTHREAD_ONCE_INIT;

/* Once a process: the Jobs get session credentials limited to the vault. */
static void note_narrowed(void)
{
	astra__log_info("mover: the Jobs get session credentials limited to "
	                "the vault's bucket and prefix (STS AssumeRole with a "
	                "session policy)");
}

/* Once a process: the store's credentials go to the Jobs as they are. */
static void warn_unnarrowed(void)
{
	astra__log_warn("mover: the Jobs get this process's object store "
	                "credentials as they are: their scope could not be "
	                "narrowed to the vault (docs/security.md)");
}

/* The Secret: the vault secret as a file, and as keys the variables of
 * this process the vault's store needs (AWS_* for s3://); owned by the Job
 * `uid` (the garbage collector deletes it with the Job). */
static astra__json *secret_object(
        astra__mover *m, const char *name, const char *ns, const char *uid)
{
	astra__json *s = new_kind(m, "v1", "Secret", name, ns);
	astra__json *data = astra__json_new_object();
	astra__json *owners = astra__json_new_array();
	astra__json *owner = astra__json_new_object();
	astra_buf b = ASTRA_BUF_INIT;
	int rc = s && data && owners && owner ? 0 : ASTRA_ENOMEM;
	if (!rc) {
		astra__json_set_str(owner, "apiVersion", "batch/v1");
		astra__json_set_str(owner, "kind", "Job");
		astra__json_set_str(owner, "name", name);
		astra__json_set_str(owner, "uid", uid);
		astra__json_set_bool(owner, "controller", 1);
		astra__json_set_bool(owner, "blockOwnerDeletion", 1);
		rc = astra__json_push(owners, owner);
		owner = NULL;
	}
	if (!rc) {
		rc = astra__json_set(astra__json_get(s, "metadata"),
		        "ownerReferences", owners);
		owners = NULL;
	}
	if (!rc)
		rc = astra__base64_encode(&b, m->secret.ptr, m->secret.size);
	if (!rc)
		rc = astra__json_set_str(data, "password", b.ptr);
	const char *const *names = job_env(m);
	/* the store's credentials, narrowed to the vault where the store
	 * can (an STS session policy on S3 endpoints that serve STS) */
	astra__json *narrow = names[0] ? astra__json_new_object() : NULL;
	if (narrow) {
		unsigned secs = m->timeout_s + 600;
		int nrc = astra__repo_job_creds(m->r, secs, narrow);
		if (nrc) {
			astra__log_debug("mover: credentials not narrowed: %s",
			        astra_error_last()->message);
			astra_error_clear();
			astra__json_free(narrow);
			narrow = NULL;
		}
	}
	for (size_t i = 0; !rc && names[i]; i++) {
		const char *v =
		        narrow ? astra__json_str(narrow, names[i]) : NULL;
		int secret = !strcmp(names[i], "AWS_ACCESS_KEY_ID") ||
		             !strcmp(names[i], "AWS_SECRET_ACCESS_KEY") ||
		             !strcmp(names[i], "AWS_SESSION_TOKEN");
		if (!v && !(narrow && secret))
			v = getenv(names[i]);
		if (!v || !*v)
			continue;
		b.size = 0;
		rc = astra__base64_encode(&b, v, strlen(v));
		if (!rc)
			rc = astra__json_set_str(data, names[i], b.ptr);
		if (secret && !narrow)
			pthread_once(&unnarrowed_once, warn_unnarrowed);
	}
	if (narrow) {
		static pthread_once_t narrowed_once = PTHREAD_ONCE_INIT;
		pthread_once(&narrowed_once, note_narrowed);
	}
	astra__json_free(narrow);
	if (b.ptr)
		astra__wipe(b.ptr, b.size);
	astra_buf_dispose(&b);
	if (!rc) {
		astra__json_set_str(s, "type", "Opaque");
		rc = astra__json_set(s, "data", data);
		data = NULL;
	}
	astra__json_free(data);
	astra__json_free(owners);
	astra__json_free(owner);
	if (rc) {
		astra__json_free(s);
		return NULL;
	}
	return s;
}

/* A PVC of the control namespace: from VolumeSnapshot `vs` there (a
 * backup), or empty (a restore; `am`: the tenant PVC's access modes,
 * `mode` its volumeMode). */
static astra__json *temp_pvc(const astra__mover *m, const char *name,
        const char *ns, const char *vs, const char *sc, const char *size,
        const astra__json *am, const char *mode)
{
	astra__json *p = new_kind(m, "v1", "PersistentVolumeClaim", name, ns);
	astra__json *spec = astra__json_new_object();
	astra__json *req = astra__json_new_object();
	astra__json *res = astra__json_new_object();
	astra__json *ds = astra__json_new_object();
	const char *rwo[] = { "ReadWriteOnce" };
	if (!p || !spec || !req || !res || !ds) {
		astra__json_free(p);
		astra__json_free(spec);
		astra__json_free(req);
		astra__json_free(res);
		astra__json_free(ds);
		return NULL;
	}
	astra__json_set(spec, "accessModes",
	        am ? astra__json_dup(am) : str_array(rwo, 1));
	if (sc)
		astra__json_set_str(spec, "storageClassName", sc);
	if (mode)
		astra__json_set_str(spec, "volumeMode", mode);
	astra__json_set_str(req, "storage", size);
	astra__json_set(res, "requests", req);
	astra__json_set(spec, "resources", res);
	if (vs) {
		astra__json_set_str(ds, "apiGroup", SNAP_GROUP);
		astra__json_set_str(ds, "kind", "VolumeSnapshot");
		astra__json_set_str(ds, "name", vs);
		astra__json_set(spec, "dataSource", ds);
	} else {
		astra__json_free(ds);
	}
	astra__json_set(p, "spec", spec);
	return p;
}

static astra__json *volume(const char *name)
{
	astra__json *v = astra__json_new_object();
	if (v)
		astra__json_set_str(v, "name", name);
	return v;
}

static astra__json *mount(const char *name, const char *path, int ro)
{
	astra__json *v = volume(name);
	if (v) {
		astra__json_set_str(v, "mountPath", path);
		astra__json_set_bool(v, "readOnly", ro);
	}
	return v;
}

static astra__json *parse_fmt(const char *fmt, ...) ASTRA_PRINTF(1, 2);
static astra__json *parse_fmt(const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	astra__json *j = NULL;
	if (astra__json_parse(&j, text, strlen(text), "mover object"))
		return NULL;
	return j;
}

/* The pod's and the container's securityContext: seccomp RuntimeDefault,
 * no privilege escalation, a read-only root file system, every capability
 * dropped. As run_as_user (non-root, also the fsGroup) nothing is added;
 * as root a backup keeps DAC_READ_SEARCH (reads every file) and a restore
 * CHOWN, FOWNER and DAC_OVERRIDE (writes every file with its owner). */
static void security(
        const astra__mover *m, astra__json *pspec, astra__json *c, int restore)
{
	if (m->run_as_user)
		astra__json_set(pspec, "securityContext",
		        parse_fmt("{\"runAsNonRoot\":true,\"runAsUser\":%u,"
		                  "\"runAsGroup\":%u,\"fsGroup\":%u,"
		                  "\"seccompProfile\":{\"type\":"
		                  "\"RuntimeDefault\"}}",
		                m->run_as_user, m->run_as_user,
		                m->run_as_user));
	else
		astra__json_set(pspec, "securityContext",
		        parse_fmt("{\"runAsUser\":0,\"seccompProfile\":{"
		                  "\"type\":\"RuntimeDefault\"}}"));
	const char *add = m->run_as_user ? ""
	                  : restore ? "\"CHOWN\",\"FOWNER\",\"DAC_OVERRIDE\""
	                            : "\"DAC_READ_SEARCH\"";
	astra__json_set(c, "securityContext",
	        parse_fmt("{\"allowPrivilegeEscalation\":false,"
	                  "\"readOnlyRootFilesystem\":true,\"privileged\":"
	                  "false,\"capabilities\":{\"drop\":[\"ALL\"],"
	                  "\"add\":[%s]}}",
	                add));
}

/* The Job (created suspended): one pod, never restarted, mounting `claim`
 * at /data (read-only unless `restore`). */
static astra__json *job_object(astra__mover *m, const char *name,
        const char *ns, const char *claim, int restore, const char *const *args,
        size_t nargs)
{
	int ro = !restore;
	astra__json *job = new_kind(m, "batch/v1", "Job", name, ns);
	astra__json *spec = astra__json_new_object();
	astra__json *tpl = astra__json_new_object();
	astra__json *pspec = astra__json_new_object();
	astra__json *c = astra__json_new_object();
	astra__json *cs = astra__json_new_array();
	astra__json *vols = astra__json_new_array();
	astra__json *mounts = astra__json_new_array();
	astra__json *env = astra__json_new_array();
	if (!job || !spec || !tpl || !pspec || !c || !cs || !vols || !mounts ||
	        !env) {
		astra__json_free(job);
		astra__json_free(spec);
		astra__json_free(tpl);
		astra__json_free(pspec);
		astra__json_free(c);
		astra__json_free(cs);
		astra__json_free(vols);
		astra__json_free(mounts);
		astra__json_free(env);
		return NULL;
	}
	/* the container */
	astra__json_set_str(c, "name", "mover");
	astra__json_set_str(c, "image", m->image);
	astra__json_set_str(c, "imagePullPolicy", m->pull_policy);
	astra__json_set(c, "args", str_array(args, nargs));
	astra__json_set_str(
	        c, "terminationMessagePath", "/dev/termination-log");
	astra__json_set_str(c, "terminationMessagePolicy", "File");
	const char *const *names = job_env(m);
	for (size_t i = 0; names[i]; i++) {
		/* every variable the store may need, from the Secret when
		 * it has it (narrowed credentials add a session token the
		 * process itself may not have) */
		astra__json *e = volume(names[i]);
		astra__json *from = astra__json_new_object();
		astra__json *ref = astra__json_new_object();
		if (!e || !from || !ref) {
			astra__json_free(e);
			astra__json_free(from);
			astra__json_free(ref);
			continue;
		}
		astra__json_set_str(ref, "name", name);
		astra__json_set_str(ref, "key", names[i]);
		astra__json_set_bool(ref, "optional", 1);
		astra__json_set(from, "secretKeyRef", ref);
		astra__json_set(e, "valueFrom", from);
		astra__json_push(env, e);
	}
	/* the root file system is read-only: a scratch directory, at a path
	 * of its own (an emptyDir over /tmp would hide whatever the image
	 * keeps below /tmp, such as a mover built in a tree under /tmp) */
	astra__json_push(env, parse_fmt("{\"name\":\"TMPDIR\",\"value\":"
	                                "\"" SCRATCH_DIR "\"}"));
	astra__json_push(env, parse_fmt("{\"name\":\"HOME\",\"value\":"
	                                "\"" SCRATCH_DIR "\"}"));
	astra__json_set(c, "env", env);
	astra__json_push(mounts, mount("data", "/data", ro));
	astra__json_push(mounts, mount("secret", SECRET_DIR, 1));
	astra__json_push(mounts, mount("tmp", SCRATCH_DIR, 0));
	astra__json_push(vols, parse_fmt("{\"name\":\"tmp\",\"emptyDir\":{"
	                                 "\"sizeLimit\":\"256Mi\"}}"));
	/* the pod's volumes */
	astra__json *data = volume("data");
	astra__json *pvc = astra__json_new_object();
	if (data && pvc) {
		astra__json_set_str(pvc, "claimName", claim);
		astra__json_set_bool(pvc, "readOnly", ro);
		astra__json_set(data, "persistentVolumeClaim", pvc);
		pvc = NULL;
	}
	astra__json_free(pvc);
	astra__json_push(vols, data);
	astra__json *sec = volume("secret");
	astra__json *sv = astra__json_new_object();
	if (sec && sv) {
		astra__json_set_str(sv, "secretName", name);
		astra__json_set_int(sv, "defaultMode", 0400);
		astra__json_set(sec, "secret", sv);
		sv = NULL;
	}
	astra__json_free(sv);
	astra__json_push(vols, sec);
	/* a local vault: the node's directory (single-node clusters) */
	char *dir = NULL;
	if (!astra__repo_url_local_dir(m->url, &dir) && dir) {
		astra__json *hv = volume("vault");
		astra__json *hp = astra__json_new_object();
		if (hv && hp) {
			astra__json_set_str(hp, "path", dir);
			astra__json_set_str(hp, "type", "Directory");
			astra__json_set(hv, "hostPath", hp);
			hp = NULL;
		}
		astra__json_free(hp);
		astra__json_push(vols, hv);
		astra__json_push(mounts, mount("vault", dir, 0));
	}
	free(dir);
	astra__json_set(c, "volumeMounts", mounts);
	security(m, pspec, c, restore);
	astra__json_push(cs, c);
	astra__json_set(pspec, "containers", cs);
	astra__json_set(pspec, "volumes", vols);
	astra__json_set_str(pspec, "restartPolicy", "Never");
	astra__json_set_bool(pspec, "automountServiceAccountToken", 0);
	if (m->host_network) {
		astra__json_set_bool(pspec, "hostNetwork", 1);
		astra__json_set_str(
		        pspec, "dnsPolicy", "ClusterFirstWithHostNet");
	}
	if (m->node_selector)
		astra__json_set(pspec, "nodeSelector",
		        astra__json_dup(m->node_selector));
	if (m->tolerations)
		astra__json_set(
		        pspec, "tolerations", astra__json_dup(m->tolerations));
	astra__json_set(tpl, "metadata", metadata(m, name, ns));
	astra__json_del(astra__json_get(tpl, "metadata"), "name");
	astra__json_del(astra__json_get(tpl, "metadata"), "namespace");
	astra__json_set(tpl, "spec", pspec);
	astra__json_set_int(spec, "backoffLimit", 0);
	/* finished and not deleted (this process died): the cluster deletes
	 * it, its pod and its Secret (owned) after JOB_TTL_S */
	astra__json_set_int(spec, "ttlSecondsAfterFinished", JOB_TTL_S);
	/* resumed once its Secret (owned by it) exists */
	astra__json_set_bool(spec, "suspend", 1);
	astra__json_set_int(spec, "activeDeadlineSeconds", m->timeout_s);
	astra__json_set(spec, "template", tpl);
	astra__json_set(job, "spec", spec);
	return job;
}

/* ---- one Job ---- */

typedef struct {
	astra__mover *m;
	char name[64];
	const char *ns;
	const char *what; /* "volume NS/PVC" for messages */
	astra__kube_resource job_r, pod_r, secret_r, pvc_r, pv_r;
	astra__kube_resource vs_r, vsc_r; /* backups */
	int have_r, have_snap;
	int made_secret, made_pvc, made_job, made_vs, made_vsc;
	int made_pv; /* a live volume exposed: our PV object, Retain */
	int keep_pvc; /* restore: the PVC goes in the handover */
	char uid[80]; /* the Job's */
	astra__json *result; /* the parsed termination message */
	char started[40], completed[40];
} run;

static int find_resources(run *j)
{
	astra__kube *k = j->m->k;
	int rc = astra__kube_find_kind(k, "batch", "v1", "Job", &j->job_r);
	if (!rc)
		rc = astra__kube_find_kind(k, "", "v1", "Pod", &j->pod_r);
	if (!rc)
		rc = astra__kube_find_kind(k, "", "v1", "Secret", &j->secret_r);
	if (!rc)
		rc = astra__kube_find_kind(
		        k, "", "v1", "PersistentVolumeClaim", &j->pvc_r);
	if (!rc)
		rc = astra__kube_find_kind(
		        k, "", "v1", "PersistentVolume", &j->pv_r);
	j->have_r = !rc;
	return rc;
}

static void run_clear(run *j)
{
	if (j->have_r) {
		astra__kube_resource_clear(&j->job_r);
		astra__kube_resource_clear(&j->pod_r);
		astra__kube_resource_clear(&j->secret_r);
		astra__kube_resource_clear(&j->pvc_r);
		astra__kube_resource_clear(&j->pv_r);
	}
	if (j->have_snap) {
		astra__kube_resource_clear(&j->vs_r);
		astra__kube_resource_clear(&j->vsc_r);
	}
	astra__json_free(j->result);
}

static int stopped(astra__mover *m)
{
	if (astra_cancel_requested(m->cancel))
		return astra__err(ASTRA_ECANCELLED, ASTRA_ERROR_CALLBACK,
		        "operation cancelled");
	pthread_mutex_lock(&m->mu);
	int a = m->abort;
	pthread_mutex_unlock(&m->mu);
	if (a)
		return astra__err(ASTRA_ECANCELLED, ASTRA_ERROR_KUBE,
		        "stopped: another mover Job failed");
	return 0;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The mover pod's failure details: a waiting reason (image problems) or
 * the terminated container's exit code and message. */
static void pod_state(run *j, astra__json *pod, char *reason, size_t rn,
        char *msg, size_t mn, int *terminated, int *bad_wait)
{
	const astra__json *cs = astra__json_at(
	        astra__json_path(pod, "status.containerStatuses"), 0);
	const astra__json *t = astra__json_path(cs, "state.terminated");
	const astra__json *w = astra__json_path(cs, "state.waiting");
	(void)j;
	if (t) {
		*terminated = 1;
		const char *m = astra__json_str(t, "message");
		snprintf(reason, rn, "exit code %lld",
		        (long long)astra__json_int(t, "exitCode", -1));
		snprintf(msg, mn, "%s", m ? m : "");
	} else if (w) {
		const char *r = astra__json_str(w, "reason");
		static const char *const bad[] = { "ErrImageNeverPull",
			"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
			"CreateContainerConfigError", "CreateContainerError",
			NULL };
		for (size_t i = 0; r && bad[i]; i++)
			if (!strcmp(r, bad[i])) {
				*bad_wait = 1;
				const char *m = astra__json_str(w, "message");
				snprintf(reason, rn, "%s", r);
				snprintf(msg, mn, "%s", m ? m : "");
			}
	}
}

static int get_pod(run *j, astra__op *op, astra__json **pod)
{
	*pod = NULL;
	char sel[128];
	snprintf(sel, sizeof(sel), "batch.kubernetes.io/job-name=%s", j->name);
	astra__kube_list_options lo = { 0 };
	lo.label_selector = sel;
	lo.op = op;
	astra__json *items = NULL;
	int rc = astra__kube_list_all(j->m->k, &j->pod_r, j->ns, &lo, &items);
	/* the Job's own pod: a label alone is anyone's to set */
	for (size_t i = 0; !rc && !*pod && i < astra__json_size(items); i++) {
		const astra__json *p = astra__json_at(items, i);
		const astra__json *owners =
		        astra__json_path(p, "metadata.ownerReferences");
		for (size_t o = 0; o < astra__json_size(owners); o++) {
			const astra__json *ow = astra__json_at(owners, o);
			const char *uid = astra__json_str(ow, "uid");
			const char *kind = astra__json_str(ow, "kind");
			if (uid && kind && !strcmp(kind, "Job") &&
			        !strcmp(uid, j->uid)) {
				*pod = astra__json_dup(p);
				break;
			}
		}
	}
	astra__json_free(items);
	return rc;
}

/* Waits for the Job to complete; reads the result from the pod's
 * termination message. */
static int wait_job(run *j, astra__op *op)
{
	astra__mover *m = j->m;
	uint64_t deadline = astra__mono_ns() +
	                    ((uint64_t)m->timeout_s + 120) * 1000000000ULL;
	char reason[128] = "", msg[4200] = "";
	for (unsigned n = 0;; n++) {
		int rc = stopped(m);
		if (rc)
			return rc;
		astra__json *job = NULL;
		rc = astra__kube_get(m->k, &j->job_r, j->ns, j->name, &job);
		if (rc)
			return rc;
		const astra__json *st = astra__json_get(job, "status");
		const char *s = astra__json_str(st, "startTime");
		const char *c = astra__json_str(st, "completionTime");
		snprintf(j->started, sizeof(j->started), "%s", s ? s : "");
		snprintf(j->completed, sizeof(j->completed), "%s", c ? c : "");
		int done = 0, failed = 0;
		char jreason[128] = "";
		const astra__json *conds = astra__json_get(st, "conditions");
		for (size_t i = 0; i < astra__json_size(conds); i++) {
			const astra__json *cd = astra__json_at(conds, i);
			const char *type = astra__json_str(cd, "type");
			const char *status = astra__json_str(cd, "status");
			if (!type || !status || strcmp(status, "True"))
				continue;
			if (!strcmp(type, "Complete"))
				done = 1;
			else if (!strcmp(type, "Failed")) {
				const char *r = astra__json_str(cd, "reason");
				failed = 1;
				snprintf(jreason, sizeof(jreason), "%s",
				        r ? r : "Failed");
			}
		}
		astra__json_free(job);
		/* the pod: every few rounds while running, always at the end */
		int term = 0, bad_wait = 0;
		astra__json *pod = NULL;
		if (done || failed || n % 3 == 2) {
			if ((rc = get_pod(j, op, &pod)))
				return rc;
			pod_state(j, pod, reason, sizeof(reason), msg,
			        sizeof(msg), &term, &bad_wait);
			astra__json_free(pod);
		}
		if (done) {
			if (!msg[0] ||
			        astra__json_parse(&j->result, msg, strlen(msg),
			                "termination message") != 0 ||
			        !j->result)
				return astra__err(ASTRA_EPARSE,
				        ASTRA_ERROR_KUBE,
				        "mover Job %s/%s completed without a "
				        "result in its termination message",
				        j->ns, j->name);
			return 0;
		}
		if (failed || bad_wait) {
			/* one line: runs of white space become one space */
			char *w = msg;
			for (const char *p = msg; *p; p++)
				if (!strchr(" \t\r\n", *p))
					*w++ = *p;
				else if (w > msg && w[-1] != ' ')
					*w++ = ' ';
			*w = '\0';
			const char *em = msg;
			astra__json *e = NULL;
			if (msg[0] == '{' &&
			        astra__json_parse(&e, msg, strlen(msg), "m") ==
			                0 &&
			        astra__json_str(e, "error"))
				em = astra__json_str(e, "error");
			rc = astra__err(ASTRA_ERROR, ASTRA_ERROR_KUBE,
			        "mover Job %s/%s failed (%s%s%s): %s", j->ns,
			        j->name, failed ? jreason : "pod",
			        reason[0] ? ", " : "", reason,
			        *em ? em : "no termination message");
			astra__json_free(e);
			return rc;
		}
		if (astra__mono_ns() > deadline)
			return astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "mover Job %s/%s did not finish within %u s",
			        j->ns, j->name, m->timeout_s + 120);
		for (int i = 0; i < 5 && !stopped(m); i++)
			nap_ms(200);
		astra_error_clear();
	}
}

/* Deletes what the run created, whatever the state (also after a cancel:
 * these requests do not carry the operation's cancel token), and waits a
 * little for the Job and its pod to be gone. */
static void cleanup(run *j)
{
	astra__mover *m = j->m;
	astra_error saved = *astra_error_last();
	char smsg[1024];
	snprintf(smsg, sizeof(smsg), "%s", saved.message);
	astra__op quiet;
	astra__op_init(&quiet, NULL, NULL, NULL);
	astra__kube_write_options wo = { 0 };
	wo.op = &quiet;
	int job = j->made_job;
	if (j->made_job) {
		wo.propagation = "Foreground";
		int rc = astra__kube_delete(
		        m->k, &j->job_r, j->ns, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover Job %s/%s: %s",
			        j->ns, j->name, astra_error_last()->message);
		wo.propagation = NULL;
		j->made_job = 0;
	}
	if (j->made_secret) { /* also collected with its Job */
		int rc = astra__kube_delete(
		        m->k, &j->secret_r, j->ns, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover Secret %s/%s",
			        j->ns, j->name);
		j->made_secret = 0;
	}
	/* foreground deletion: the Job goes after its pod */
	for (int i = 0; job && i < 300; i++) {
		astra__json *obj = NULL;
		int rc = astra__kube_get(m->k, &j->job_r, j->ns, j->name, &obj);
		astra__json_free(obj);
		if (rc) /* gone (or the cluster's requests are cancelled) */
			break;
		nap_ms(100);
	}
	if (j->made_pvc && !j->keep_pvc) {
		int rc = astra__kube_delete(
		        m->k, &j->pvc_r, j->ns, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover PVC %s/%s", j->ns,
			        j->name);
		j->made_pvc = 0;
	}
	if (j->made_pv) { /* Retain: the tenant's volume stays */
		int rc = astra__kube_delete(m->k, &j->pv_r, NULL, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover PersistentVolume "
			                "%s",
			        j->name);
		j->made_pv = 0;
	}
	if (j->made_vs) {
		int rc =
		        astra__kube_delete(m->k, &j->vs_r, j->ns, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover VolumeSnapshot "
			                "%s/%s",
			        j->ns, j->name);
		j->made_vs = 0;
	}
	if (j->made_vsc) { /* Retain: the snapshot itself stays */
		int rc =
		        astra__kube_delete(m->k, &j->vsc_r, NULL, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover "
			                "VolumeSnapshotContent %s",
			        j->name);
		j->made_vsc = 0;
	}
	if (saved.code)
		astra__err(saved.code, saved.klass, "%s", smsg);
	else
		astra_error_clear();
}

static int create_out(run *j, astra__kube_resource *r, astra__json *obj,
        astra__op *op, int *made, astra__json **out)
{
	if (!obj)
		return ASTRA_ENOMEM;
	astra__kube_write_options wo = { 0 };
	wo.op = op;
	/* also deleted when the request fails: a cancelled request may have
	 * created the object all the same */
	*made = 1;
	int rc = astra__kube_create(
	        j->m->k, r, r->namespaced ? j->ns : NULL, obj, &wo, out);
	astra__json_free(obj);
	if (rc == ASTRA_EEXISTS)
		*made = 0; /* not ours */
	return rc;
}

static int create(run *j, astra__kube_resource *r, astra__json *obj,
        astra__op *op, int *made)
{
	return create_out(j, r, obj, op, made, NULL);
}

/* Takes a slot among the `parallelism` running Jobs. */
static int slot_take(astra__mover *m, unsigned *seq)
{
	pthread_mutex_lock(&m->mu);
	while (m->running >= m->parallelism && !m->abort &&
	        !astra_cancel_requested(m->cancel)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->cv, &m->mu, &ts);
	}
	m->running++;
	*seq = m->seq++;
	pthread_mutex_unlock(&m->mu);
	int rc = stopped(m);
	if (rc) {
		pthread_mutex_lock(&m->mu);
		m->running--;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
	}
	return rc;
}

static void slot_give(astra__mover *m, int stop_others)
{
	pthread_mutex_lock(&m->mu);
	m->running--;
	m->wrote = 1;
	if (stop_others)
		m->abort = 1;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

/* Creates the Job (suspended), its Secret (owned by it), resumes the Job
 * and waits for it; the Job mounts PVC `claim` of the control namespace.
 * The caller cleans up. */
static int run_job(run *j, const char *claim, int restore,
        const char *const *args, size_t nargs, astra__op *op)
{
	astra__mover *m = j->m;
	astra__json *out = NULL;
	int rc = create_out(j, &j->job_r,
	        job_object(m, j->name, j->ns, claim, restore, args, nargs), op,
	        &j->made_job, &out);
	const char *uid =
	        astra__json_str(astra__json_get(out, "metadata"), "uid");
	if (!rc && (!uid || strlen(uid) >= sizeof(j->uid)))
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "mover Job %s/%s: the API server gave it no uid", j->ns,
		        j->name);
	if (!rc)
		snprintf(j->uid, sizeof(j->uid), "%s", uid);
	astra__json_free(out);
	if (!rc)
		rc = create(j, &j->secret_r,
		        secret_object(m, j->name, j->ns, j->uid), op,
		        &j->made_secret);
	if (!rc) {
		static const char resume[] = "{\"spec\":{\"suspend\":false}}";
		astra__kube_write_options wo = { 0 };
		wo.op = op;
		rc = astra__kube_patch(m->k, &j->job_r, j->ns, j->name,
		        ASTRA_KUBE_PATCH_MERGE, resume, sizeof(resume) - 1, &wo,
		        NULL);
	}
	if (!rc)
		rc = wait_job(j, op);
	return rc;
}

/* Waits until VolumeSnapshot ns/name is readyToUse. */
static int vs_wait_ready(run *j, astra__op *op)
{
	for (int i = 0;; i++) {
		int rc = stopped(j->m);
		if (rc)
			return rc;
		astra__json *vs = NULL;
		rc = astra__kube_get(j->m->k, &j->vs_r, j->ns, j->name, &vs);
		if (rc)
			return rc;
		const astra__json *st = astra__json_get(vs, "status");
		int ready = astra__json_bool(st, "readyToUse", 0);
		const char *em = astra__json_str(
		        astra__json_get(st, "error"), "message");
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", em ? em : "");
		astra__json_free(vs);
		if (ready)
			return 0;
		if (msg[0] && i > 50)
			return astra__err(ASTRA_ERROR, ASTRA_ERROR_KUBE,
			        "mover VolumeSnapshot %s/%s: %s", j->ns,
			        j->name, msg);
		if (i >= 600)
			return astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "mover VolumeSnapshot %s/%s was not ready "
			        "within 120 s",
			        j->ns, j->name);
		(void)op;
		nap_ms(200);
	}
}

/* Exposes VolumeSnapshot src_ns/src_vs in the control namespace the way
 * CSI allows: a pre-provisioned VolumeSnapshotContent (Retain) with the
 * same snapshot handle, a VolumeSnapshot bound to it, and a PVC from that
 * (all named j->name). *size: the snapshot's restoreSize when NULL. */
static int expose(run *j, const char *src_ns, const char *src_vs,
        const char *sc, const char *size, astra__op *op)
{
	astra__mover *m = j->m;
	int rc = astra__kube_find_kind(
	        m->k, SNAP_GROUP, "v1", "VolumeSnapshot", &j->vs_r);
	if (!rc) {
		rc = astra__kube_find_kind(m->k, SNAP_GROUP, "v1",
		        "VolumeSnapshotContent", &j->vsc_r);
		if (rc)
			astra__kube_resource_clear(&j->vs_r);
	}
	if (rc)
		return rc;
	j->have_snap = 1;
	astra__json *vs = NULL, *vsc = NULL;
	rc = astra__kube_get(m->k, &j->vs_r, src_ns, src_vs, &vs);
	const char *content = astra__json_str(astra__json_get(vs, "status"),
	        "boundVolumeSnapshotContentName");
	if (!rc && !content)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "VolumeSnapshot %s/%s is not bound to a "
		        "VolumeSnapshotContent",
		        src_ns, src_vs);
	if (!rc)
		rc = astra__kube_get(m->k, &j->vsc_r, NULL, content, &vsc);
	const astra__json *cspec = astra__json_get(vsc, "spec");
	const char *handle = astra__json_str(
	        astra__json_get(vsc, "status"), "snapshotHandle");
	const char *driver = astra__json_str(cspec, "driver");
	const char *klass = astra__json_str(cspec, "volumeSnapshotClassName");
	const char *vmode = astra__json_str(cspec, "sourceVolumeMode");
	if (!rc && (!handle || !driver))
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "VolumeSnapshotContent %s (of VolumeSnapshot %s/%s) "
		        "has no snapshot handle or driver",
		        content, src_ns, src_vs);
	char rs[32] = "";
	long long rsz = astra__json_int(
	        astra__json_get(vsc, "status"), "restoreSize", 0);
	if (!size && rsz > 0) {
		snprintf(rs, sizeof(rs), "%lld", rsz);
		size = rs;
	}
	if (!rc) {
		astra__json *o = new_kind(m, SNAP_GROUP "/v1",
		        "VolumeSnapshotContent", j->name, NULL);
		astra__json *spec = astra__json_new_object();
		if (o && spec) {
			astra__json_set_str(spec, "deletionPolicy", "Retain");
			astra__json_set_str(spec, "driver", driver);
			astra__json_set(spec, "source",
			        parse_fmt("{\"snapshotHandle\":\"\"}"));
			astra__json_set_str(astra__json_get(spec, "source"),
			        "snapshotHandle", handle);
			astra__json *ref = astra__json_new_object();
			astra__json_set_str(ref, "name", j->name);
			astra__json_set_str(ref, "namespace", j->ns);
			astra__json_set(spec, "volumeSnapshotRef", ref);
			if (klass)
				astra__json_set_str(
				        spec, "volumeSnapshotClassName", klass);
			if (vmode)
				astra__json_set_str(
				        spec, "sourceVolumeMode", vmode);
			astra__json_set(o, "spec", spec);
			spec = NULL;
		}
		astra__json_free(spec);
		rc = create(j, &j->vsc_r, o, op, &j->made_vsc);
	}
	if (!rc) {
		astra__json *o = new_kind(
		        m, SNAP_GROUP "/v1", "VolumeSnapshot", j->name, j->ns);
		astra__json *spec = astra__json_new_object();
		if (o && spec) {
			astra__json *src = astra__json_new_object();
			astra__json_set_str(
			        src, "volumeSnapshotContentName", j->name);
			astra__json_set(spec, "source", src);
			if (klass)
				astra__json_set_str(
				        spec, "volumeSnapshotClassName", klass);
			astra__json_set(o, "spec", spec);
			spec = NULL;
		}
		astra__json_free(spec);
		rc = create(j, &j->vs_r, o, op, &j->made_vs);
	}
	if (!rc)
		rc = vs_wait_ready(j, op);
	if (!rc)
		rc = create(j, &j->pvc_r,
		        temp_pvc(m, j->name, j->ns, j->name, sc,
		                size ? size : "1Gi", NULL, NULL),
		        op, &j->made_pvc);
	astra__json_free(vs);
	astra__json_free(vsc);
	return rc;
}

/*
 * A volume no snapshot can take (a local, hostPath or NFS PV, or a CSI
 * driver without snapshots), read live by a Job in the control namespace:
 * a second PersistentVolume object with the same source (same path, node
 * affinity, server or volume handle), reclaim policy Retain and annotated
 * as exposing the tenant's PV (so no sweep ever deletes the volume behind
 * it), pre-bound to a PVC of the control namespace that the Job mounts
 * read-only. The tenant's PVC and PV are not touched.
 */
static int expose_live(
        run *j, const char *src_ns, const char *src_pvc, astra__op *op)
{
	astra__mover *m = j->m;
	astra__json *claim = NULL, *pv = NULL;
	int rc = astra__kube_get(m->k, &j->pvc_r, src_ns, src_pvc, &claim);
	const char *pvn =
	        astra__json_str(astra__json_get(claim, "spec"), "volumeName");
	if (!rc && !pvn)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "PVC %s/%s is not bound", src_ns, src_pvc);
	if (!rc)
		rc = astra__kube_get(m->k, &j->pv_r, NULL, pvn, &pv);
	astra__json *spec =
	        rc ? NULL : astra__json_dup(astra__json_get(pv, "spec"));
	if (!rc && !spec)
		rc = ASTRA_ENOMEM;
	char sc[256] = "";
	const char *psc =
	        spec ? astra__json_str(spec, "storageClassName") : NULL;
	if (psc && strlen(psc) < sizeof(sc))
		snprintf(sc, sizeof(sc), "%s", psc);
	char size[64] = "1Gi";
	const char *cap = astra__json_str(
	        astra__json_path(pv, "spec.capacity"), "storage");
	if (cap && strlen(cap) < sizeof(size))
		snprintf(size, sizeof(size), "%s", cap);
	if (!rc) {
		astra__json *o =
		        new_kind(m, "v1", "PersistentVolume", j->name, NULL);
		astra__json *ann = astra__json_new_object();
		astra__json *ref = astra__json_new_object();
		if (!o || !ann || !ref) {
			astra__json_free(o);
			astra__json_free(ann);
			astra__json_free(ref);
			rc = ASTRA_ENOMEM;
		} else {
			astra__json_set_str(ann, EXPOSES_ANNOTATION, pvn);
			astra__json_set(astra__json_get(o, "metadata"),
			        "annotations", ann);
			astra__json_free(astra__json_take(spec, "claimRef"));
			astra__json_set_str(spec,
			        "persistentVolumeReclaimPolicy", "Retain");
			astra__json_set_str(ref, "apiVersion", "v1");
			astra__json_set_str(
			        ref, "kind", "PersistentVolumeClaim");
			astra__json_set_str(ref, "namespace", j->ns);
			astra__json_set_str(ref, "name", j->name);
			astra__json_set(spec, "claimRef", ref);
			astra__json_set(o, "spec", spec);
			spec = NULL;
			rc = create(j, &j->pv_r, o, op, &j->made_pv);
		}
	}
	if (!rc) {
		astra__json *c = temp_pvc(m, j->name, j->ns, NULL, sc, size,
		        astra__json_path(pv, "spec.accessModes"),
		        astra__json_str(
		                astra__json_get(pv, "spec"), "volumeMode"));
		if (c)
			astra__json_set_str(astra__json_get(c, "spec"),
			        "volumeName", j->name);
		rc = create(j, &j->pvc_r, c, op, &j->made_pvc);
	}
	astra__json_free(spec);
	astra__json_free(claim);
	astra__json_free(pv);
	if (rc)
		astra__err_prefix(rc, "exposing the live volume of PVC %s/%s",
		        src_ns, src_pvc);
	return rc;
}

/* ---- backups ---- */

static const astra__json *find_pvc(
        const astra__json *man, const char *ns, const char *name)
{
	for (size_t i = 0; i < astra__json_size(man); i++) {
		const astra__json *o = astra__json_at(man, i);
		const astra__json *md = astra__json_get(o, "metadata");
		const char *k = astra__json_str(o, "kind");
		const char *n = astra__json_str(md, "name");
		const char *s = astra__json_str(md, "namespace");
		if (k && n && s && !strcmp(k, "PersistentVolumeClaim") &&
		        !strcmp(n, name) && !strcmp(s, ns))
			return o;
	}
	return NULL;
}

typedef struct {
	int klass;
	char message[1024];
} saved_err;

static void save_err(saved_err *e)
{
	const astra_error *l = astra_error_last();
	e->klass = l->klass;
	snprintf(e->message, sizeof(e->message), "%s", l->message);
}

typedef struct {
	astra__mover *m;
	const char *backup;
	const astra__json *svols, *man;
	astra__op *op;
	astra__json **out; /* one entry per volume */
	int *rcs;
	saved_err *errs; /* copies: a worker's messages go with its thread */
	size_t next, n;
	size_t done; /* volumes finished */
	uint64_t bytes; /* their bytes */
	unsigned exited; /* workers */
	saved_err cb_err; /* the progress callback stopped the operation */
	pthread_mutex_t mu;
} bctx;

static int backup_one(bctx *b, size_t i, astra__json *out)
{
	astra__mover *m = b->m;
	const astra__json *v = astra__json_at(b->svols, i);
	const char *ns = astra__json_str(v, "namespace");
	const char *pvc = astra__json_str(v, "pvc");
	const char *vs = astra__json_str(v, "volumeSnapshot");
	const char *size = astra__json_str(v, "restoreSize");
	const astra__json *spec = astra__json_get(
	        find_pvc(b->man, ns ? ns : "", pvc ? pvc : ""), "spec");
	const char *sc = astra__json_str(spec, "storageClassName");
	if (!size)
		size = astra__json_str(
		        astra__json_path(spec, "resources.requests"),
		        "storage");
	char what[600];
	snprintf(what, sizeof(what), "volume %s/%s", ns ? ns : "?",
	        pvc ? pvc : "?");
	/* a volume no snapshot can take: the Job mounts the live PVC
	 * (read-only) while the app is quiesced */
	const char *cons = astra__json_str(v, "consistency");
	int live = cons && !strcmp(cons, ASTRA_MOVER_LIVE);
	if (!ns || !pvc || (!vs && !live))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "%s: the snapshot has no VolumeSnapshot for it", what);
	unsigned seq;
	int rc = run_start(m);
	if (!rc)
		rc = slot_take(m, &seq);
	if (rc)
		return astra__err_prefix(rc, "%s", what);
	run j;
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.ns = m->ctl_ns;
	j.what = what;
	snprintf(j.name, sizeof(j.name), "%s-%u", m->prefix, seq);
	/* requests of this thread: the operation's cancel, no progress */
	astra__op lop;
	astra__op_init(&lop, NULL, NULL, b->op ? b->op->cancel : m->cancel);
	char tag_app[300], tag_pvc[600], source[600];
	snprintf(tag_app, sizeof(tag_app), "backup=%s", b->backup);
	snprintf(tag_pvc, sizeof(tag_pvc), "pvc=%s/%s", ns, pvc);
	snprintf(source, sizeof(source), "pvc:%s/%s", ns, pvc);
	const char *args[] = { "--vault", m->url, "--password-file",
		SECRET_DIR "/password", "--no-progress", "data", "backup",
		"/data", "--tag", tag_app, "--tag", tag_pvc, "--source", source,
		"--result-file", "/dev/termination-log" };
	rc = find_resources(&j);
	if (!rc)
		rc = live ? expose_live(&j, ns, pvc, &lop)
		          : expose(&j, ns, vs, sc, size, &lop);
	if (!rc)
		rc = run_job(&j, j.name, 0, args, sizeof(args) / sizeof(*args),
		        &lop);
	cleanup(&j);
	if (rc)
		astra__err_prefix(rc, "%s", what);
	slot_give(m, rc != 0);
	const char *id = astra__json_str(j.result, "id");
	if (!rc && (!id || strlen(id) != 32))
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: mover Job %s/%s reported no snapshot id", what,
		        j.ns, j.name);
	if (!rc) {
		astra__json_set_str(out, "namespace", ns);
		astra__json_set_str(out, "pvc", pvc);
		if (sc)
			astra__json_set_str(out, "storageClass", sc);
		if (size)
			astra__json_set_str(out, "size", size);
		const astra__json *am = astra__json_get(spec, "accessModes");
		if (am)
			astra__json_set(
			        out, "accessModes", astra__json_dup(am));
		astra__json_set_str(out, "data", id);
		astra__json_set_str(out, "consistency",
		        live ? ASTRA_MOVER_LIVE : "snapshot");
		astra__json_set_int(out, "bytes",
		        astra__json_int(j.result, "bytes_total", 0));
		astra__json_set_int(
		        out, "files", astra__json_int(j.result, "files", 0));
		astra__json *mv = astra__json_new_object();
		if (mv) {
			astra__json_set_str(mv, "job", j.name);
			astra__json_set_str(mv, "started", j.started);
			astra__json_set_str(mv, "completed", j.completed);
			astra__json_set_int(mv, "bytesNew",
			        astra__json_int(j.result, "bytes_new", 0));
			astra__json_set(out, "mover", mv);
		}
	}
	run_clear(&j);
	return rc;
}

static void *backup_worker(void *arg)
{
	bctx *b = arg;
	for (;;) {
		pthread_mutex_lock(&b->mu);
		size_t i = b->next++;
		pthread_mutex_unlock(&b->mu);
		if (i >= b->n)
			break;
		astra_error_clear();
		b->rcs[i] = backup_one(b, i, b->out[i]);
		if (b->rcs[i])
			save_err(&b->errs[i]);
		pthread_mutex_lock(&b->mu);
		b->done++;
		b->bytes += (uint64_t)astra__json_int(b->out[i], "bytes", 0);
		pthread_mutex_unlock(&b->mu);
	}
	pthread_mutex_lock(&b->mu);
	b->exited++;
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int astra__mover_backup(astra__mover *m, const char *backup,
        const astra__json *svols, const astra__json *man, astra__op *op,
        astra__json *vols)
{
	size_t n = astra__json_size(svols);
	if (!n)
		return 0;
	bctx b;
	memset(&b, 0, sizeof(b));
	b.m = m;
	b.backup = backup;
	b.svols = svols;
	b.man = man;
	b.op = op;
	b.n = n;
	b.out = astra__calloc(n, sizeof(*b.out));
	b.rcs = astra__calloc(n, sizeof(*b.rcs));
	b.errs = astra__calloc(n, sizeof(*b.errs));
	unsigned nt = m->parallelism < n ? m->parallelism : (unsigned)n;
	pthread_t *th = astra__calloc(nt, sizeof(*th));
	int rc = b.out && b.rcs && b.errs && th ? 0 : ASTRA_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		if (!(b.out[i] = astra__json_new_object()))
			rc = ASTRA_ENOMEM;
	pthread_mutex_init(&b.mu, NULL);
	unsigned started = 0;
	for (; !rc && started < nt; started++)
		if (pthread_create(&th[started], NULL, backup_worker, &b)) {
			rc = astra__err(ASTRA_ENOMEM, ASTRA_ERROR_OS,
			        "cannot start a mover thread");
			pthread_mutex_lock(&m->mu);
			m->abort = 1;
			pthread_mutex_unlock(&m->mu);
			break;
		}
	/* progress from this thread: volumes done and their bytes; a
	 * callback that stops the operation stops the Jobs */
	int cb_rc = 0;
	uint64_t items0 = op->p.items_done, bytes0 = op->p.bytes_done;
	for (;;) {
		pthread_mutex_lock(&b.mu);
		unsigned exited = b.exited;
		op->p.items_done = items0 + b.done;
		op->p.bytes_done = bytes0 + b.bytes;
		pthread_mutex_unlock(&b.mu);
		if (!cb_rc &&
		        (cb_rc = astra__op_report(op, exited == started))) {
			save_err(&b.cb_err);
			pthread_mutex_lock(&m->mu);
			m->abort = 1;
			pthread_mutex_unlock(&m->mu);
		}
		if (exited == started)
			break;
		nap_ms(200);
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&b.mu);
	if (!rc && cb_rc)
		rc = astra__err(cb_rc, b.cb_err.klass, "%s", b.cb_err.message);
	/* the first failure in volume order, preferring a real failure over
	 * "stopped: another Job failed" */
	int first = -1;
	for (size_t i = 0; !rc && i < n; i++)
		if (b.rcs[i] &&
		        (first < 0 || (b.rcs[first] == ASTRA_ECANCELLED &&
		                              b.rcs[i] != ASTRA_ECANCELLED)))
			first = (int)i;
	if (!rc && first >= 0) {
		rc = b.rcs[first];
		astra__err(
		        rc, b.errs[first].klass, "%s", b.errs[first].message);
	}
	for (size_t i = 0; !rc && i < n; i++) {
		rc = astra__json_push(vols, b.out[i]);
		if (!rc)
			b.out[i] = NULL;
	}
	for (size_t i = 0; b.out && i < n; i++)
		astra__json_free(b.out[i]);
	free(b.out);
	free(b.rcs);
	free(b.errs);
	free(th);
	return rc;
}

/* ---- restores ---- */

/* PV `pv`, bound to a tenant's PVC, becomes the tenant's alone: its
 * reclaim policy back (the annotation), no label of the mover (no sweep
 * takes it). */
static int release_pv(astra__mover *m, const astra__kube_resource *r,
        const char *pv, astra__op *op)
{
	astra__json *o = NULL;
	int rc = astra__kube_get(m->k, r, NULL, pv, &o);
	const char *pol = astra__json_str(
	        astra__json_path(o, "metadata.annotations"), POLICY_ANNOTATION);
	if (!pol || (strcmp(pol, "Delete") && strcmp(pol, "Retain") &&
	                    strcmp(pol, "Recycle")))
		pol = "Delete";
	astra_buf b = ASTRA_BUF_INIT;
	if (!rc)
		rc = astra__buf_printf(&b,
		        "{\"metadata\":{\"labels\":{\"" MOVER_LABEL
		        "\":null,\"" RUN_LABEL "\":null,\"" CTL_LABEL
		        "\":null},\"annotations\":{"
		        "\"" POLICY_ANNOTATION "\":null}},\"spec\":{"
		        "\"persistentVolumeReclaimPolicy\":\"%s\"}}",
		        pol);
	astra__json_free(o);
	astra__kube_write_options wo = { 0 };
	wo.op = op;
	if (!rc)
		rc = astra__kube_patch(m->k, r, NULL, pv,
		        ASTRA_KUBE_PATCH_MERGE, b.ptr, b.size, &wo, NULL);
	astra_buf_dispose(&b);
	return rc;
}

/* Hands the volume of PVC j->name (control namespace, no pod holds it)
 * over to the tenant's PVC ns/pvc, not created yet: the PV's reclaim
 * policy becomes Retain, the PVC goes, and the PV is pre-bound (claimRef
 * without uid) to ns/pvc with its reclaim policy back. The PV keeps the
 * run's labels until astra__mover_restore_bound(). */
static int hand_over(run *j, const char *ns, const char *pvc, char **pv_out)
{
	astra__mover *m = j->m;
	astra__kube_write_options wo = { 0 };
	astra__op q;
	astra__op_init(&q, NULL, NULL, NULL);
	wo.op = &q;
	astra__json *claim = NULL, *pv = NULL;
	int rc = astra__kube_get(m->k, &j->pvc_r, j->ns, j->name, &claim);
	const char *pvn =
	        astra__json_str(astra__json_get(claim, "spec"), "volumeName");
	char pvname[256] = "";
	if (!rc && (!pvn || strlen(pvn) >= sizeof(pvname)))
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "mover PVC %s/%s is not bound", j->ns, j->name);
	if (!rc)
		snprintf(pvname, sizeof(pvname), "%s", pvn);
	astra__json_free(claim);
	if (!rc)
		rc = astra__kube_get(m->k, &j->pv_r, NULL, pvname, &pv);
	const char *pol = astra__json_str(
	        astra__json_get(pv, "spec"), "persistentVolumeReclaimPolicy");
	char policy[32];
	snprintf(policy, sizeof(policy), "%s",
	        pol && strlen(pol) < sizeof(policy) ? pol : "Delete");
	astra__json_free(pv);
	astra_buf b = ASTRA_BUF_INIT;
	if (!rc)
		rc = astra__buf_printf(&b,
		        "{\"metadata\":{\"labels\":{\"" MOVER_LABEL
		        "\":\"true\",\"" RUN_LABEL "\":\"%s\",\"" CTL_LABEL
		        "\":\"%s\"},"
		        "\"annotations\":{\"" POLICY_ANNOTATION "\":\"%s\"}},"
		        "\"spec\":{\"persistentVolumeReclaimPolicy\":\"Retain\"}}",
		        m->run_id, m->ctl_ns, policy);
	if (!rc)
		rc = astra__kube_patch(m->k, &j->pv_r, NULL, pvname,
		        ASTRA_KUBE_PATCH_MERGE, b.ptr, b.size, &wo, NULL);
	/* the control namespace's claim goes; the volume stays */
	if (!rc) {
		rc = astra__kube_delete(m->k, &j->pvc_r, j->ns, j->name, &wo);
		if (rc == ASTRA_ENOTFOUND)
			rc = 0;
	}
	for (int i = 0; !rc; i++) {
		astra__json *o = NULL;
		int g = astra__kube_get(m->k, &j->pvc_r, j->ns, j->name, &o);
		astra__json_free(o);
		if (g == ASTRA_ENOTFOUND) {
			astra_error_clear();
			j->made_pvc = 0;
			break;
		}
		if (i >= 1200)
			rc = astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "mover PVC %s/%s was not deleted within 120 s",
			        j->ns, j->name);
		nap_ms(100);
	}
	if (!rc) {
		astra__json *p = astra__json_new_object();
		astra__json *spec = astra__json_new_object();
		astra__json *ref = astra__json_new_object();
		rc = p && spec && ref ? 0 : ASTRA_ENOMEM;
		if (!rc) {
			astra__json_set_str(ref, "apiVersion", "v1");
			astra__json_set_str(
			        ref, "kind", "PersistentVolumeClaim");
			astra__json_set_str(ref, "namespace", ns);
			astra__json_set_str(ref, "name", pvc);
			astra__json_set(ref, "uid", astra__json_new_null());
			astra__json_set(
			        ref, "resourceVersion", astra__json_new_null());
			astra__json_set(spec, "claimRef", ref);
			ref = NULL;
			/* still Retain: a provisioner deletes a Released PV
			 * whose policy is Delete before the PV controller
			 * makes it Available; astra__mover_restore_bound()
			 * puts the policy back */
			astra__json_set(p, "spec", spec);
			spec = NULL;
			char *text = NULL;
			rc = astra__json_print(&text, p, 0);
			if (!rc)
				rc = astra__kube_patch(m->k, &j->pv_r, NULL,
				        pvname, ASTRA_KUBE_PATCH_MERGE, text,
				        strlen(text), &wo, NULL);
			free(text);
		}
		astra__json_free(p);
		astra__json_free(spec);
		astra__json_free(ref);
	}
	astra_buf_dispose(&b);
	if (!rc) {
		*pv_out = astra__strdup(pvname);
		if (!*pv_out)
			rc = ASTRA_ENOMEM;
	}
	if (rc && pvname[0])
		astra__mover_restore_undo(m, pvname);
	if (rc)
		astra__err_prefix(rc,
		        "mover: handing volume %s over to PVC "
		        "%s/%s",
		        pvname[0] ? pvname : "?", ns, pvc);
	return rc;
}

int astra__mover_restore(astra__mover *m, const char *ns, const char *pvc,
        const astra__json *obj, const char *id, astra__op *op, char **pv)
{
	*pv = NULL;
	char what[600];
	snprintf(what, sizeof(what), "volume %s/%s", ns, pvc);
	/* a PVC that exists stays as it is (the restore skips it) */
	astra__kube_resource pr;
	int rc = astra__kube_find_kind(
	        m->k, "", "v1", "PersistentVolumeClaim", &pr);
	if (rc)
		return rc;
	astra__json *cur = NULL;
	rc = astra__kube_get(m->k, &pr, ns, pvc, &cur);
	astra__json_free(cur);
	astra__kube_resource_clear(&pr);
	if (!rc)
		return 0;
	if (rc != ASTRA_ENOTFOUND)
		return rc;
	astra_error_clear();
	return astra__mover_restore_replace(m, ns, pvc, obj, id, op, pv);
}

int astra__mover_restore_replace(astra__mover *m, const char *ns,
        const char *pvc, const astra__json *obj, const char *id, astra__op *op,
        char **pv)
{
	*pv = NULL;
	char what[600];
	snprintf(what, sizeof(what), "volume %s/%s", ns, pvc);
	int rc;
	const astra__json *spec = astra__json_get(obj, "spec");
	const char *size = astra__json_str(
	        astra__json_path(spec, "resources.requests"), "storage");
	unsigned seq;
	rc = run_start(m);
	if (!rc)
		rc = slot_take(m, &seq);
	if (rc)
		return astra__err_prefix(rc, "%s", what);
	run j;
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.ns = m->ctl_ns;
	j.what = what;
	j.keep_pvc = 1;
	snprintf(j.name, sizeof(j.name), "%s-%u", m->prefix, seq);
	astra__op lop;
	astra__op_init(&lop, NULL, NULL, op ? op->cancel : m->cancel);
	const char *args[] = { "--vault", m->url, "--password-file",
		SECRET_DIR "/password", "--no-progress", "data", "restore", id,
		"/data", "--result-file", "/dev/termination-log" };
	rc = find_resources(&j);
	if (!rc)
		rc = create(&j, &j.pvc_r,
		        temp_pvc(m, j.name, j.ns, NULL,
		                astra__json_str(spec, "storageClassName"),
		                size ? size : "1Gi",
		                astra__json_get(spec, "accessModes"),
		                astra__json_str(spec, "volumeMode")),
		        &lop, &j.made_pvc);
	if (!rc)
		rc = run_job(&j, j.name, 1, args, sizeof(args) / sizeof(*args),
		        &lop);
	cleanup(&j); /* the Job and its Secret: no pod holds the PVC */
	if (!rc)
		rc = stopped(m);
	if (!rc)
		rc = hand_over(&j, ns, pvc, pv);
	j.keep_pvc = 0;
	cleanup(&j); /* the PVC, when the handover did not take it */
	if (rc)
		astra__err_prefix(rc, "%s", what);
	slot_give(m, 0); /* other PVCs are restored all the same */
	run_clear(&j);
	return rc;
}

int astra__mover_restore_bound(astra__mover *m, const char *ns, const char *pvc,
        const char *pv, astra__op *op)
{
	int rc = astra__pvc_wait_bound(m->k, ns, pvc, 300, op);
	astra__kube_resource r;
	if (rc || astra__kube_find_kind(m->k, "", "v1", "PersistentVolume", &r))
		return rc;
	rc = release_pv(m, &r, pv, op);
	astra__kube_resource_clear(&r);
	return rc;
}

void astra__mover_restore_undo(astra__mover *m, const char *pv)
{
	astra_error saved = *astra_error_last();
	char smsg[1024];
	snprintf(smsg, sizeof(smsg), "%s", saved.message);
	astra__kube_resource r;
	if (!astra__kube_find_kind(m->k, "", "v1", "PersistentVolume", &r)) {
		astra__op q;
		astra__op_init(&q, NULL, NULL, NULL);
		astra__kube_write_options wo = { 0 };
		wo.op = &q;
		static const char del[] = "{\"spec\":{"
		                          "\"persistentVolumeReclaimPolicy\":"
		                          "\"Delete\"}}";
		astra__kube_patch(m->k, &r, NULL, pv, ASTRA_KUBE_PATCH_MERGE,
		        del, sizeof(del) - 1, &wo, NULL);
		if (astra__kube_delete(m->k, &r, NULL, pv, &wo) &&
		        astra_error_last()->code != ASTRA_ENOTFOUND)
			astra__log_warn("mover: cannot delete PV %s", pv);
		astra__kube_resource_clear(&r);
	}
	if (saved.code)
		astra__err(saved.code, saved.klass, "%s", smsg);
	else
		astra_error_clear();
}
