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
		const char *handle = astra__json_str(
		        astra__json_path(pv, "spec.csi"), "volumeHandle");
		for (const char *t = va->template_path; *t && !rc;) {
			const char *v = NULL;
			size_t skip = 0;
			if (!strncmp(t, "{volumeHandle}", 14)) {
				v = handle;
				skip = 14;
			} else if (!strncmp(t, "{pvName}", 8)) {
				v = pvname;
				skip = 8;
			} else if (!strncmp(t, "{pvcName}", 9)) {
				v = pvc;
				skip = 9;
			} else if (!strncmp(t, "{namespace}", 11)) {
				v = ns;
				skip = 11;
			}
			if (skip) {
				if (!v)
					rc = astra__err(ASTRA_EINVALID,
					        ASTRA_ERROR_KUBE,
					        "PV %s has no value for %.*s",
					        pvname, (int)skip, t);
				else
					rc = astra__buf_puts(&out, v);
				t += skip;
			} else {
				rc = astra__buf_putc(&out, *t++);
			}
		}
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
