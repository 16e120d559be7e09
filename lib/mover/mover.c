/*
 * In-cluster data mover Jobs: each volume is backed up by a Job whose pod
 * mounts a temporary PVC cloned from the volume's VolumeSnapshot, and
 * restored by a Job whose pod mounts the target PVC. The pod runs astractl
 * from an image (`data backup|restore ... --result-file
 * /dev/termination-log`); the vault secret and AWS credentials reach it
 * through a temporary Secret only. Results come back through the pod's
 * termination message. Jobs run in parallel up to a limit; Jobs (with
 * their pods), temporary PVCs and Secrets are deleted on success, failure
 * and cancel (docs/backups.md, "Data mover strategies").
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#define SECRET_DIR "/astra-secret"

astra_status astra_mover_options_init(
        astra_mover_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(
	        astra_mover_options, MOVER, o, version, sizeof(defaults));
}

struct astra__mover {
	astra__kube *k;
	astra__repo *r;
	char *url; /* the vault's URL */
	char *image, *pull_policy;
	unsigned parallelism, timeout_s;
	int host_network;
	astra__json *node_selector, *tolerations;
	astra_buf secret; /* the vault secret (wiped) */
	astra_cancel *cancel;
	char prefix[24]; /* "astra-mv-<8 hex>" */
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
        const astra_mover_options *o, astra_cancel *cancel)
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
	astra__mover *m = astra__calloc(1, sizeof(*m));
	ASTRA_CHECK_ALLOC(m);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->k = k;
	m->r = r;
	m->cancel = cancel;
	m->parallelism = o->parallelism ? o->parallelism : 4;
	m->timeout_s = o->timeout_s ? o->timeout_s : 3600;
	m->host_network = o->host_network;
	m->url = astra__strdup(o->vault_url  ? o->vault_url
	                       : r->open_url ? r->open_url
	                                     : astra__repo_url(r));
	m->image = astra__strdup(o->image);
	m->pull_policy = astra__strdup(
	        o->image_pull_policy ? o->image_pull_policy : "IfNotPresent");
	if (!m->url || !m->image || !m->pull_policy)
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
	snprintf(m->prefix, sizeof(m->prefix), "astra-mv-%s", hex);
	*out = m;
	return 0;
}

void astra__mover_free(astra__mover *m)
{
	if (!m)
		return;
	/* the pods wrote packs and index files this process has not seen */
	if (m->wrote)
		m->r->index_loaded = 0;
	if (m->secret.ptr)
		astra__wipe(m->secret.ptr, m->secret.size);
	astra_buf_dispose(&m->secret);
	free(m->url);
	free(m->image);
	free(m->pull_policy);
	astra__json_free(m->node_selector);
	astra__json_free(m->tolerations);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
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

static astra__json *metadata(const char *name, const char *ns)
{
	astra__json *md = astra__json_new_object();
	astra__json *labels = astra__json_new_object();
	if (!md || !labels) {
		astra__json_free(md);
		astra__json_free(labels);
		return NULL;
	}
	astra__json_set_str(md, "name", name);
	astra__json_set_str(md, "namespace", ns);
	astra__json_set_str(labels, MOVER_LABEL, "true");
	astra__json_set(md, "labels", labels);
	return md;
}

static astra__json *new_kind(
        const char *av, const char *kind, const char *name, const char *ns)
{
	astra__json *o = astra__json_new_object();
	if (!o)
		return NULL;
	astra__json_set_str(o, "apiVersion", av);
	astra__json_set_str(o, "kind", kind);
	astra__json_set(o, "metadata", metadata(name, ns));
	return o;
}

/* The Secret: the vault secret as a file, and as keys the variables of
 * this process the vault's store needs (AWS_* for s3://). */
static astra__json *secret_object(
        astra__mover *m, const char *name, const char *ns)
{
	astra__json *s = new_kind("v1", "Secret", name, ns);
	astra__json *data = astra__json_new_object();
	astra_buf b = ASTRA_BUF_INIT;
	int rc = s && data ? 0 : ASTRA_ENOMEM;
	if (!rc)
		rc = astra__base64_encode(&b, m->secret.ptr, m->secret.size);
	if (!rc)
		rc = astra__json_set_str(data, "password", b.ptr);
	const char *const *names = job_env(m);
	for (size_t i = 0; !rc && names[i]; i++) {
		const char *v = getenv(names[i]);
		if (!v || !*v)
			continue;
		b.size = 0;
		rc = astra__base64_encode(&b, v, strlen(v));
		if (!rc)
			rc = astra__json_set_str(data, names[i], b.ptr);
	}
	if (b.ptr)
		astra__wipe(b.ptr, b.size);
	astra_buf_dispose(&b);
	if (!rc) {
		astra__json_set_str(s, "type", "Opaque");
		rc = astra__json_set(s, "data", data);
		data = NULL;
	}
	astra__json_free(data);
	if (rc) {
		astra__json_free(s);
		return NULL;
	}
	return s;
}

static astra__json *temp_pvc(const char *name, const char *ns, const char *vs,
        const char *sc, const char *size)
{
	astra__json *p = new_kind("v1", "PersistentVolumeClaim", name, ns);
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
	astra__json_set(spec, "accessModes", str_array(rwo, 1));
	if (sc)
		astra__json_set_str(spec, "storageClassName", sc);
	astra__json_set_str(req, "storage", size);
	astra__json_set(res, "requests", req);
	astra__json_set(spec, "resources", res);
	astra__json_set_str(ds, "apiGroup", "snapshot.storage.k8s.io");
	astra__json_set_str(ds, "kind", "VolumeSnapshot");
	astra__json_set_str(ds, "name", vs);
	astra__json_set(spec, "dataSource", ds);
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

/* The Job: one pod, never restarted, mounting `claim` at /data. */
static astra__json *job_object(astra__mover *m, const char *name,
        const char *ns, const char *claim, int ro, const char *const *args,
        size_t nargs)
{
	astra__json *job = new_kind("batch/v1", "Job", name, ns);
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
		const char *v = getenv(names[i]);
		if (!v || !*v)
			continue;
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
		astra__json_set(from, "secretKeyRef", ref);
		astra__json_set(e, "valueFrom", from);
		astra__json_push(env, e);
	}
	astra__json_set(c, "env", env);
	astra__json_push(mounts, mount("data", "/data", ro));
	astra__json_push(mounts, mount("secret", SECRET_DIR, 1));
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
	astra__json_set(tpl, "metadata", metadata(name, ns));
	astra__json_del(astra__json_get(tpl, "metadata"), "name");
	astra__json_del(astra__json_get(tpl, "metadata"), "namespace");
	astra__json_set(tpl, "spec", pspec);
	astra__json_set_int(spec, "backoffLimit", 0);
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
	astra__kube_resource job_r, pod_r, secret_r, pvc_r;
	int have_r;
	int made_secret, made_pvc, made_job;
	char *temp_pvc; /* backup: the temporary clone */
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
	j->have_r = 1;
	return rc;
}

static void run_clear(run *j)
{
	if (j->have_r) {
		astra__kube_resource_clear(&j->job_r);
		astra__kube_resource_clear(&j->pod_r);
		astra__kube_resource_clear(&j->secret_r);
		astra__kube_resource_clear(&j->pvc_r);
	}
	free(j->temp_pvc);
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
	if (!rc && astra__json_size(items))
		*pod = astra__json_dup(astra__json_at(items, 0));
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
	if (j->made_job) {
		wo.propagation = "Foreground";
		int rc = astra__kube_delete(
		        m->k, &j->job_r, j->ns, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover Job %s/%s: %s",
			        j->ns, j->name, astra_error_last()->message);
		wo.propagation = NULL;
	}
	if (j->made_pvc) {
		int rc = astra__kube_delete(
		        m->k, &j->pvc_r, j->ns, j->temp_pvc, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete temporary PVC %s/%s",
			        j->ns, j->temp_pvc);
	}
	if (j->made_secret) {
		int rc = astra__kube_delete(
		        m->k, &j->secret_r, j->ns, j->name, &wo);
		if (rc && rc != ASTRA_ENOTFOUND)
			astra__log_warn("cannot delete mover Secret %s/%s",
			        j->ns, j->name);
	}
	/* foreground deletion: the Job goes after its pod */
	for (int i = 0; j->made_job && i < 300; i++) {
		astra__json *obj = NULL;
		int rc = astra__kube_get(m->k, &j->job_r, j->ns, j->name, &obj);
		astra__json_free(obj);
		if (rc) /* gone (or the cluster's requests are cancelled) */
			break;
		nap_ms(100);
	}
	astra__err(saved.code, saved.klass, "%s", smsg);
}

static int create(run *j, astra__kube_resource *r, astra__json *obj,
        astra__op *op, int *made)
{
	if (!obj)
		return ASTRA_ENOMEM;
	astra__kube_write_options wo = { 0 };
	wo.op = op;
	/* also deleted when the request fails: a cancelled request may have
	 * created the object all the same */
	*made = 1;
	int rc = astra__kube_create(j->m->k, r, j->ns, obj, &wo, NULL);
	astra__json_free(obj);
	if (rc == ASTRA_EEXISTS)
		*made = 0; /* not ours */
	return rc;
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

/* Creates the Secret, (the temporary PVC,) the Job; waits; cleans up. */
static int run_job(run *j, const char *vs, const char *sc, const char *size,
        const char *claim, int ro, const char *const *args, size_t nargs,
        astra__op *op)
{
	astra__mover *m = j->m;
	/* requests of this thread: the operation's cancel, no progress */
	astra__op lop;
	astra__op_init(&lop, NULL, NULL, op ? op->cancel : m->cancel);
	op = &lop;
	int rc = find_resources(j);
	if (!rc)
		rc = create(j, &j->secret_r, secret_object(m, j->name, j->ns),
		        op, &j->made_secret);
	if (!rc && vs) {
		j->temp_pvc = astra__strdup(j->name);
		rc = j->temp_pvc ? create(j, &j->pvc_r,
		                           temp_pvc(j->name, j->ns, vs, sc,
		                                   size ? size : "1Gi"),
		                           op, &j->made_pvc)
		                 : ASTRA_ENOMEM;
		claim = j->name;
	}
	if (!rc)
		rc = create(j, &j->job_r,
		        job_object(m, j->name, j->ns, claim, ro, args, nargs),
		        op, &j->made_job);
	if (!rc)
		rc = wait_job(j, op);
	cleanup(j);
	if (rc)
		astra__err_prefix(rc, "%s", j->what);
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
	int rc = slot_take(m, &seq);
	if (rc)
		return astra__err_prefix(rc, "%s", what);
	run j;
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.ns = ns;
	j.what = what;
	snprintf(j.name, sizeof(j.name), "%s-%u", m->prefix, seq);
	char tag_app[300], tag_pvc[600], source[600];
	snprintf(tag_app, sizeof(tag_app), "backup=%s", b->backup);
	snprintf(tag_pvc, sizeof(tag_pvc), "pvc=%s/%s", ns, pvc);
	snprintf(source, sizeof(source), "pvc:%s/%s", ns, pvc);
	const char *args[] = { "--vault", m->url, "--password-file",
		SECRET_DIR "/password", "--no-progress", "data", "backup",
		"/data", "--tag", tag_app, "--tag", tag_pvc, "--source", source,
		"--result-file", "/dev/termination-log" };
	rc = run_job(&j, live ? NULL : vs, sc, size, live ? pvc : NULL, 1, args,
	        sizeof(args) / sizeof(*args), b->op);
	slot_give(m, rc != 0);
	const char *id = astra__json_str(j.result, "id");
	if (!rc && (!id || strlen(id) != 32))
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: mover Job %s/%s reported no snapshot id", what, ns,
		        j.name);
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

int astra__mover_restore(astra__mover *m, const char *ns, const char *pvc,
        const char *id, astra__op *op)
{
	return astra__mover_restore_ex(m, ns, pvc, id, 0, op);
}

int astra__mover_restore_ex(astra__mover *m, const char *ns, const char *pvc,
        const char *id, int delete_extras, astra__op *op)
{
	char what[600];
	snprintf(what, sizeof(what), "volume %s/%s", ns, pvc);
	unsigned seq;
	int rc = slot_take(m, &seq);
	if (rc)
		return astra__err_prefix(rc, "%s", what);
	run j;
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.ns = ns;
	j.what = what;
	snprintf(j.name, sizeof(j.name), "%s-%u", m->prefix, seq);
	const char *args[] = { "--vault", m->url, "--password-file",
		SECRET_DIR "/password", "--no-progress", "data", "restore", id,
		"/data", "--result-file", "/dev/termination-log",
		"--delete-extras" };
	size_t nargs = sizeof(args) / sizeof(*args) - (delete_extras ? 0 : 1);
	rc = run_job(&j, NULL, NULL, NULL, pvc, 0, args, nargs, op);
	slot_give(m, 0); /* other PVCs are restored all the same */
	run_clear(&j);
	return rc;
}
