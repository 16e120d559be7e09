/*
 * Volume access: the directory of a PVC's volume for this process (a
 * host-path template or the embedder's callback), and waiting for a PVC
 * to bind. Shared by backups and restores.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "mover/mover.h"

/* The directory of a local or hostPath PV: spec.local.path or
 * spec.hostPath.path (NULL for other kinds). */
static const char *local_path(const astra__json *pv)
{
	const char *p =
	        astra__json_str(astra__json_path(pv, "spec.local"), "path");
	return p ? p
	         : astra__json_str(
	                   astra__json_path(pv, "spec.hostPath"), "path");
}

/* Expands one alternative [t, end) of a template into `out`; 1 when a
 * variable has no value for this PV (*missing names it), 0 when done, or
 * an error. */
static int expand_one(const char *t, const char *end, const astra__json *pv,
        const char *pvname, const char *pvc, const char *ns, astra_buf *out,
        const char **missing, size_t *missing_len)
{
	static const char *const names[] = { "{volumeHandle}", "{pvName}",
		"{pvcName}", "{namespace}", "{localPath}" };
	const char *values[] = { astra__json_str(
		                         astra__json_path(pv, "spec.csi"),
		                         "volumeHandle"),
		pvname, pvc, ns, local_path(pv) };
	int rc = 0;
	while (t < end && !rc) {
		size_t i, skip = 0;
		for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
			size_t n = strlen(names[i]);
			if ((size_t)(end - t) >= n &&
			        !strncmp(t, names[i], n)) {
				skip = n;
				break;
			}
		}
		if (!skip) {
			rc = astra__buf_putc(out, *t++);
			continue;
		}
		if (!values[i]) {
			*missing = t;
			*missing_len = skip;
			return 1;
		}
		rc = astra__buf_puts(out, values[i]);
		t += skip;
	}
	return rc;
}

/* Expands template `tpl` for PV `pv` into `out`. A template is one or more
 * alternatives separated by "||"; the first whose variables all have a
 * value for this PV is used (e.g. "/csi/{volumeHandle}||{localPath}"). */
static int expand_template(const char *tpl, const astra__json *pv,
        const char *pvname, const char *pvc, const char *ns, astra_buf *out)
{
	const char *missing = NULL;
	size_t missing_len = 0;
	for (const char *t = tpl;;) {
		const char *bar = strstr(t, "||");
		const char *end = bar ? bar : t + strlen(t);
		astra__buf_clear(out);
		int r = expand_one(t, end, pv, pvname, pvc, ns, out, &missing,
		        &missing_len);
		if (r <= 0)
			return r;
		if (!bar)
			break;
		t = bar + 2;
	}
	astra__buf_clear(out);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
	        "PV %s (PVC %s/%s) has no value for %.*s in the volume path "
	        "template%s",
	        pvname, ns, pvc, (int)missing_len, missing,
	        strstr(tpl, "||") ? " (nor for a variable of any other "
	                            "alternative)"
	                          : "");
}

int astra__volume_path(astra__kube *k, const astra__volume_access *va,
        const char *ns, const char *pvc, char **path)
{
	*path = NULL;
	astra__kube_resource pvc_r, pv_r;
	astra__json *claim = NULL, *pv = NULL;
	int rc = astra__kube_find_kind(
	        k, "", "v1", "PersistentVolumeClaim", &pvc_r);
	if (rc)
		return rc;
	rc = astra__kube_find_kind(k, "", "v1", "PersistentVolume", &pv_r);
	if (!rc)
		rc = astra__kube_get(k, &pvc_r, ns, pvc, &claim);
	const char *pvname =
	        claim ? astra__json_str(
	                        astra__json_get(claim, "spec"), "volumeName")
	              : NULL;
	if (!rc && !pvname)
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "PVC %s/%s is not bound", ns, pvc);
	if (!rc)
		rc = astra__kube_get(k, &pv_r, NULL, pvname, &pv);
	astra_buf out = ASTRA_BUF_INIT;
	if (!rc && va->cb) {
		char *text = NULL;
		rc = astra__json_print(&text, pv, 0);
		if (!rc) {
			int r = va->cb(text, &out, va->payload);
			if (r < 0 || !out.ptr)
				rc = astra__err(r < 0 ? r : ASTRA_EINVALID,
				        ASTRA_ERROR_CALLBACK,
				        "the volume path callback gave no path "
				        "for PV %s",
				        pvname);
		}
		free(text);
	} else if (!rc && va->template_path) {
		rc = expand_template(
		        va->template_path, pv, pvname, pvc, ns, &out);
	} else if (!rc) {
		rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "no volume access for PVC %s/%s: give a volume path "
		        "template (host path) or a callback",
		        ns, pvc);
	}
	if (!rc)
		*path = astra__buf_detach(&out);
	astra_buf_dispose(&out);
	astra__json_free(claim);
	astra__json_free(pv);
	astra__kube_resource_clear(&pvc_r);
	astra__kube_resource_clear(&pv_r);
	return rc;
}

typedef struct {
	const char *name;
	int bound;
} bound_ctx;

static int bound_cb(void *payload, const char *type, astra__json *obj)
{
	bound_ctx *b = payload;
	(void)type;
	const char *n =
	        astra__json_str(astra__json_get(obj, "metadata"), "name");
	const char *ph =
	        astra__json_str(astra__json_get(obj, "status"), "phase");
	if (n && !strcmp(n, b->name) && ph && !strcmp(ph, "Bound")) {
		b->bound = 1;
		return 1;
	}
	return 0;
}

int astra__pvc_wait_bound(astra__kube *k, const char *ns, const char *pvc,
        unsigned timeout_s, astra__op *op)
{
	astra__kube_resource r;
	int rc =
	        astra__kube_find_kind(k, "", "v1", "PersistentVolumeClaim", &r);
	if (rc)
		return rc;
	uint64_t deadline =
	        astra__mono_ns() + (uint64_t)timeout_s * 1000000000ULL;
	bound_ctx b = { pvc, 0 };
	char field[512];
	snprintf(field, sizeof(field), "metadata.name=%s", pvc);
	while (!rc && !b.bound) {
		astra__json *obj = NULL;
		char *rv = NULL;
		astra__kube_list_options lo = { 0 };
		lo.field_selector = field;
		astra__json *items = NULL;
		rc = astra__kube_list_all(k, &r, ns, &lo, &items);
		if (!rc && astra__json_size(items))
			bound_cb(&b, "LIST", astra__json_at(items, 0));
		astra__json_free(items);
		astra__json_free(obj);
		if (rc || b.bound)
			break;
		uint64_t now = astra__mono_ns();
		if (now > deadline) {
			rc = astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
			        "PVC %s/%s did not bind within %u s (a "
			        "WaitForFirstConsumer storage class needs a "
			        "pod; use an Immediate one)",
			        ns, pvc, timeout_s);
			break;
		}
		lo.timeout_seconds = 2;
		lo.op = op;
		rc = astra__kube_watch(k, &r, ns, &lo, bound_cb, &b, &rv);
		free(rv);
		if (rc == ASTRA_ECONFLICT)
			rc = 0;
	}
	astra__kube_resource_clear(&r);
	return rc;
}
