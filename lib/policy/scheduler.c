/*
 * The scheduler loop and its leader election through a
 * coordination.k8s.io/v1 Lease: the holder renews spec.renewTime every
 * pass; another replica takes the Lease over once renewTime plus
 * leaseDurationSeconds has passed. Every write carries the resourceVersion
 * it read, so two replicas racing for the Lease cannot both win.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"
#include "policy/store.h"

astra_status astra_policy_scheduler_options_init(
        astra_policy_scheduler_options *o, unsigned int version)
{
	ASTRA_ASSERT_ARG(o);
	int rc = astra__check_version(version,
	        ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION,
	        "astra_policy_scheduler_options");
	if (rc)
		return rc;
	memset(o, 0, sizeof(*o));
	o->version = version;
	return 0;
}

/* MicroTime "2026-01-02T03:04:05.000000Z" */
static void fmt_micro(char *out, size_t n, int64_t ns)
{
	astra__cal_fields f;
	astra__cal_split(ns / 1000000000, &f);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", f.year, f.month,
	        f.day, f.hour, f.minute, f.second,
	        (int)(ns % 1000000000 / 1000));
}

static int64_t parse_micro(const char *s)
{
	int y, mo, d, h, mi, sec;
	if (!s ||
	        sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return 0;
	return astra__cal_join(y, mo, d, h, mi, sec);
}

typedef struct {
	astra__kube *k;
	astra__kube_resource r;
	const char *ns, *name, *id;
	int duration;
} lease;

static astra__json *lease_obj(const lease *L, const astra__json *old,
        int64_t now_ns, int acquire, int release)
{
	astra__json *o = old ? astra__json_dup(old) : astra__json_new_object();
	if (!o)
		return NULL;
	astra__json_set_str(o, "apiVersion", "coordination.k8s.io/v1");
	astra__json_set_str(o, "kind", "Lease");
	astra__json *md = astra__json_get(o, "metadata");
	if (!md) {
		md = astra__json_new_object();
		astra__json_set(o, "metadata", md);
	}
	astra__json_set_str(md, "name", L->name);
	astra__json_set_str(md, "namespace", L->ns);
	astra__json *spec = astra__json_get(o, "spec");
	if (!spec) {
		spec = astra__json_new_object();
		astra__json_set(o, "spec", spec);
	}
	char ts[48];
	fmt_micro(ts, sizeof(ts), now_ns);
	if (release) {
		astra__json_set_str(spec, "holderIdentity", "");
		astra__json_set_int(spec, "leaseDurationSeconds", 1);
		return o;
	}
	astra__json_set_str(spec, "holderIdentity", L->id);
	astra__json_set_int(spec, "leaseDurationSeconds", L->duration);
	astra__json_set_str(spec, "renewTime", ts);
	if (acquire) {
		astra__json_set_str(spec, "acquireTime", ts);
		astra__json_set_int(spec, "leaseTransitions",
		        astra__json_int(spec, "leaseTransitions", -1) + 1);
	}
	return o;
}

/* 1 when this replica leads after the call, 0 when another one does. */
static int lease_try(lease *L)
{
	int64_t now_ns = astra__wall_ns();
	astra__json *cur = NULL;
	int rc = astra__kube_get(L->k, &L->r, L->ns, L->name, &cur);
	astra__kube_write_options wo = { 0 };
	wo.field_manager = "astra-scheduler";
	if (rc == ASTRA_ENOTFOUND) {
		astra__json *o = lease_obj(L, NULL, now_ns, 1, 0);
		rc = o ? astra__kube_create(L->k, &L->r, L->ns, o, &wo, NULL)
		       : ASTRA_ENOMEM;
		astra__json_free(o);
		if (rc == ASTRA_EEXISTS)
			return 0;
		return rc ? rc : 1;
	}
	if (rc)
		return rc;
	const astra__json *spec = astra__json_get(cur, "spec");
	const char *holder = astra__json_str(spec, "holderIdentity");
	int64_t renew = parse_micro(astra__json_str(spec, "renewTime"));
	int64_t dur = astra__json_int(spec, "leaseDurationSeconds", 15);
	int mine = holder && !strcmp(holder, L->id);
	int free_ = !holder || !*holder || renew + dur < now_ns / 1000000000;
	if (!mine && !free_) {
		astra__json_free(cur);
		return 0;
	}
	astra__json *o = lease_obj(L, cur, now_ns, !mine, 0);
	astra__json_free(cur);
	rc = o ? astra__kube_update(L->k, &L->r, L->ns, o, &wo, NULL)
	       : ASTRA_ENOMEM;
	astra__json_free(o);
	if (rc == ASTRA_ECONFLICT)
		return 0;
	if (!rc && !mine)
		astra__log_info("scheduler: %s now leads (Lease %s/%s)", L->id,
		        L->ns, L->name);
	return rc ? rc : 1;
}

static void lease_release(lease *L)
{
	astra__json *cur = NULL;
	if (astra__kube_get(L->k, &L->r, L->ns, L->name, &cur))
		return;
	const char *holder =
	        astra__json_str(astra__json_get(cur, "spec"), "holderIdentity");
	if (holder && !strcmp(holder, L->id)) {
		astra__json *o = lease_obj(L, cur, astra__wall_ns(), 0, 1);
		astra__kube_write_options wo = { 0 };
		wo.field_manager = "astra-scheduler";
		if (o && astra__kube_update(L->k, &L->r, L->ns, o, &wo, NULL))
			astra__log_warn("scheduler: cannot release the Lease: "
			                "%s",
			        astra_error_last()->message);
		astra__json_free(o);
	}
	astra__json_free(cur);
}

astra_status astra_policy_scheduler_run(
        astra_cluster *c, const astra_policy_scheduler_options *o)
{
	ASTRA_ASSERT_ARG(c);
	ASTRA_ASSERT_ARG(o);
	int rc = astra__check_version(o->version,
	        ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION,
	        "astra_policy_scheduler_options");
	if (rc)
		return rc;
	ASTRA_ASSERT_ARG(o->run);
	lease L = { 0 };
	L.k = astra__cluster_kube(c);
	L.ns = o->lease_namespace ? o->lease_namespace
	                          : astra__kube_namespace(L.k);
	L.name = o->lease_name ? o->lease_name : "astra-scheduler";
	L.duration = o->lease_duration_s ? (int)o->lease_duration_s : 15;
	char idbuf[300];
	if (o->identity) {
		L.id = o->identity;
	} else {
		char host[256] = "astra";
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = 0;
		snprintf(idbuf, sizeof(idbuf), "%s-%ld", host, (long)getpid());
		L.id = idbuf;
	}
	rc = astra__kube_find_kind(
	        L.k, "coordination.k8s.io", "v1", "Lease", &L.r);
	if (rc)
		return astra__err_prefix(rc, "scheduler");
	unsigned interval = o->interval_s ? o->interval_s : 5;
	int led = 0, pass_rc = 0;
	astra__log_info("scheduler %s: started (Lease %s/%s, every %us)", L.id,
	        L.ns, L.name, interval);
	for (;;) {
		if (o->cancel && astra_cancel_requested(o->cancel))
			break;
		int lead = lease_try(&L);
		if (lead < 0) {
			astra__log_warn("scheduler: Lease %s/%s: %s", L.ns,
			        L.name, astra_error_last()->message);
			pass_rc = lead;
			lead = 0;
		}
		if (lead != led && !lead)
			astra__log_info("scheduler %s: no longer leads", L.id);
		led = lead;
		if (lead) {
			astra_policy_run_options ro = *o->run;
			ro.now = 0;
			if (!ro.cancel)
				ro.cancel = o->cancel;
			pass_rc = astra_policy_run_due(c, &ro, NULL);
			if (pass_rc)
				astra__log_warn("scheduler: %s",
				        astra_error_last()->message);
		}
		if (o->flags & ASTRA_SCHEDULER_F_ONCE)
			break;
		for (unsigned i = 0; i < interval * 10; i++) {
			if (o->cancel && astra_cancel_requested(o->cancel))
				break;
			astra__sleep_ms(100);
		}
	}
	if (led)
		lease_release(&L);
	astra__kube_resource_clear(&L.r);
	return (o->flags & ASTRA_SCHEDULER_F_ONCE) ? pass_rc : 0;
}
