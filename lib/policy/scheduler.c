/*
 * The scheduler loop and its leader election through a
 * coordination.k8s.io/v1 Lease: the holder renews spec.renewTime every
 * pass; another replica takes the Lease over once it has seen the record
 * unchanged for leaseDurationSeconds of its own monotonic clock (as
 * client-go; renewTime is never compared with the local wall clock). Every
 * write carries the resourceVersion it read, so two replicas racing for the
 * Lease cannot both win. The leader renews every third of the Lease's duration,
 * between passes and, from a second thread, during them: a pass may take far
 * longer than the Lease (a big backup). A leader that loses the Lease during a
 * pass, or cannot renew it before it expires, cancels the pass.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/options.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"
#include "policy/policy.h"
#include "policy/store.h"

astra_status astra_policy_scheduler_options_init(
        astra_policy_scheduler_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(astra_policy_scheduler_options,
	        POLICY_SCHEDULER, o, version, sizeof(defaults));
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
	astra__lease_seen seen; /* the other holder's record */
	int skew_warned;
	/* another holder's renewTime + duration is still ahead of this
	 * host's clock: it looks alive (used by --once only) */
	int looks_alive;
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

/*
 * As client-go: the Lease of another holder has expired when its record
 * (holder, renewTime, duration) has not changed for leaseDurationSeconds of
 * THIS replica's monotonic clock, counted from the read that first saw it
 * so. renewTime is the holder's wall clock and is only compared for
 * equality: replicas whose clocks disagree by any amount neither steal a
 * Lease that is being renewed nor wait longer for a dead holder. A replica
 * that has just started waits one duration before it may take over.
 */
int astra__lease_expired(astra__lease_seen *seen, const astra__lease_read *r)
{
	if (!r->holder || !*r->holder) {
		seen->valid = 0;
		return 1;
	}
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	char dur[32];
	snprintf(dur, sizeof(dur), "%lld", (long long)r->duration_s);
	const char *parts[] = { r->holder, r->renew_time ? r->renew_time : "",
		dur };
	for (size_t i = 0; i < 3; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i];
		        *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL; /* separator */
	}
	uint64_t prev_ns = seen->last_ns;
	seen->last_ns = r->mono_ns;
	if (!seen->valid || seen->record != h) {
		/* for messages: renewTime minus our clock, once a renewal
		 * was seen between two reads (the renewal happened in
		 * between, so the lag is at most their distance) */
		seen->skew_s = 0;
		int64_t renew = parse_micro(r->renew_time);
		if (seen->valid && renew) {
			int64_t d = renew - r->wall_ns / 1000000000;
			int64_t lag = (int64_t)((r->mono_ns - prev_ns) /
			                        1000000000ULL) +
			              1;
			seen->skew_s = d > 0 ? d : d < -lag ? d + lag : 0;
		}
		if (seen->valid)
			seen->changes++;
		seen->valid = 1;
		seen->record = h;
		seen->since_ns = r->mono_ns;
		return 0;
	}
	int64_t dur_s = r->duration_s > 0 ? r->duration_s : 1;
	return r->mono_ns - seen->since_ns >= (uint64_t)dur_s * 1000000000ULL;
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
	astra__lease_read rd = { .holder = holder,
		.renew_time = astra__json_str(spec, "renewTime"),
		.duration_s = astra__json_int(spec, "leaseDurationSeconds", 15),
		.wall_ns = now_ns,
		.mono_ns = astra__mono_ns() };
	int mine = holder && !strcmp(holder, L->id);
	int free_ = !mine && astra__lease_expired(&L->seen, &rd);
	L->looks_alive = !mine && holder && *holder &&
	                 parse_micro(rd.renew_time) + rd.duration_s >=
	                         now_ns / 1000000000;
	if (!mine && !L->skew_warned &&
	        (L->seen.skew_s > rd.duration_s ||
	                L->seen.skew_s < -rd.duration_s)) {
		L->skew_warned = 1;
		astra__log_warn(
		        "scheduler %s: the Lease %s/%s was renewed by "
		        "%s at %s, about %lld s from this host's clock; "
		        "the clocks disagree (takeover is timed by this "
		        "replica's own clock, so this is harmless)",
		        L->id, L->ns, L->name, holder, rd.renew_time,
		        (long long)L->seen.skew_s);
	}
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

/* Milliseconds between renewals: a third of the Lease's duration. */
static unsigned renew_period_ms(const lease *L)
{
	unsigned ms = (unsigned)L->duration * 1000u / 3u;
	return ms < 300 ? 300 : ms;
}

/* Keeps the Lease during a pass and cancels the pass when the Lease is
 * lost or the caller cancels. */
typedef struct {
	lease *L;
	const astra_cancel *user[2]; /* the scheduler's and the run's */
	astra_cancel *pass;
	atomic_int stop;
	int lost;
} renewer;

static void *renewer_main(void *arg)
{
	renewer *w = arg;
	uint64_t period = (uint64_t)renew_period_ms(w->L) * 1000000u;
	uint64_t last_ok = astra__mono_ns(), last_try = last_ok;
	uint64_t dur = (uint64_t)w->L->duration * 1000000000u;
	while (!atomic_load(&w->stop)) {
		for (int i = 0; i < 2; i++)
			if (w->user[i] && astra_cancel_requested(w->user[i]))
				astra_cancel_request(w->pass);
		uint64_t now = astra__mono_ns();
		if (!w->lost && now - last_try >= period) {
			last_try = now;
			int lead = lease_try(w->L);
			if (lead == 1) {
				last_ok = astra__mono_ns();
			} else if (lead == 0) {
				w->lost = 1;
				astra__log_warn("scheduler %s: another replica "
				                "took the Lease %s/%s during a "
				                "pass; cancelling the pass",
				        w->L->id, w->L->ns, w->L->name);
			} else {
				astra__log_warn("scheduler: renewing the Lease "
				                "%s/%s: %s",
				        w->L->ns, w->L->name,
				        astra_error_last()->message);
				if (astra__mono_ns() - last_ok >= dur) {
					w->lost = 1;
					astra__log_warn(
					        "scheduler %s: the "
					        "Lease expired during a "
					        "pass; cancelling the pass",
					        w->L->id);
				}
			}
			if (w->lost)
				astra_cancel_request(w->pass);
		}
		astra__sleep_ms(100);
	}
	return NULL;
}

/* One pass of astra_policy_run_due() with the Lease renewed meanwhile.
 * *lost is set when the Lease was lost during the pass. */
static int leader_pass(astra_cluster *c, lease *L,
        const astra_policy_scheduler_options *o, int *lost)
{
	*lost = 0;
	astra_cancel *pass = NULL;
	int rc = astra_cancel_new(&pass);
	if (rc)
		return rc;
	renewer w = { .L = L, .pass = pass };
	w.user[0] = o->cancel;
	w.user[1] = o->run->cancel;
	atomic_init(&w.stop, 0);
	pthread_t t;
	int started = pthread_create(&t, NULL, renewer_main, &w) == 0;
	if (!started)
		astra__log_warn("scheduler: cannot start the Lease renewer; "
		                "a pass longer than the Lease (%d s) may "
		                "overlap another replica's",
		        L->duration);
	/* only the members the caller's version has (a version 1 struct
	 * ends before `vault`) */
	astra_policy_run_options ro;
	memset(&ro, 0, sizeof(ro));
	memcpy(&ro, o->run,
	        o->run->version >= 2
	                ? sizeof(ro)
	                : offsetof(astra_policy_run_options, vault));
	ro.now = 0;
	ro.cancel = pass;
	rc = astra_policy_run_due(c, &ro, NULL);
	if (rc)
		astra__log_warn("scheduler: %s", astra_error_last()->message);
	if (started) {
		atomic_store(&w.stop, 1);
		pthread_join(t, NULL);
	}
	*lost = w.lost;
	astra_cancel_free(pass);
	return rc;
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
	uint64_t period = (uint64_t)renew_period_ms(&L) * 1000000u;
	int led = 0, pass_rc = 0;
	astra__log_info("scheduler %s: started (Lease %s/%s, every %us)", L.id,
	        L.ns, L.name, interval);
	for (;;) {
		if (o->cancel && astra_cancel_requested(o->cancel))
			break;
		int lead = lease_try(&L);
		/* --once cannot wait for the next pass. A Lease that looks
		 * alive by this host's clock is left to its holder at once
		 * (a clock behind only makes --once skip a pass; the slot
		 * claims prevent double runs anyway). One that looks expired
		 * may be a clock ahead: it is watched until it is seen
		 * renewed (the holder leads) or unchanged for its duration
		 * (the holder is gone: take it over). */
		while (lead == 0 &&
		        (o->flags & ASTRA_POLICY_SCHEDULER_F_ONCE) &&
		        !L.looks_alive && L.seen.valid && L.seen.changes == 0 &&
		        !(o->cancel && astra_cancel_requested(o->cancel))) {
			astra__sleep_ms(500);
			lead = lease_try(&L);
		}
		uint64_t renewed = astra__mono_ns();
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
			int lost = 0;
			pass_rc = leader_pass(c, &L, o, &lost);
			renewed = astra__mono_ns();
			if (lost) {
				astra__log_info(
				        "scheduler %s: no longer leads", L.id);
				led = 0;
			}
		}
		if (o->flags & ASTRA_POLICY_SCHEDULER_F_ONCE)
			break;
		/* between passes the leader renews as often as during them:
		 * an interval longer than the Lease must not let it lapse */
		for (unsigned i = 0; i < interval * 10; i++) {
			if (o->cancel && astra_cancel_requested(o->cancel))
				break;
			if (led && astra__mono_ns() - renewed >= period) {
				int r = lease_try(&L);
				renewed = astra__mono_ns();
				if (r == 0) {
					astra__log_info("scheduler %s: no "
					                "longer leads",
					        L.id);
					led = 0;
				} else if (r < 0) {
					astra__log_warn("scheduler: Lease "
					                "%s/%s: %s",
					        L.ns, L.name,
					        astra_error_last()->message);
				}
			}
			astra__sleep_ms(100);
		}
	}
	if (led)
		lease_release(&L);
	astra__kube_resource_clear(&L.r);
	return (o->flags & ASTRA_POLICY_SCHEDULER_F_ONCE) ? pass_rc : 0;
}
