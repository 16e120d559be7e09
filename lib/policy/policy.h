/*
 * Protection policies inside the library: compiled schedules (pure), the
 * policy records stored beside the app, the runner and the scheduler.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_POLICY_POLICY_H
#define ASTRA_POLICY_POLICY_H

#include <stdint.h>

#include "astra/policy.h"
#include "cal/cal.h"
#include "fmt/json.h"

/* A validated schedule. */
typedef struct {
	unsigned gran; /* ASTRA_POLICY_* */
	int minute, hour, dow, dom;
	int has_cron;
	astra__cron cron;
	astra__rrule *rrule;
	const astra__tz *tz;
} astra__sched;

/* Validates the whole policy (schedule, zone, counts, name, vault) and
 * compiles its schedule. Clear with astra__sched_clear(). */
int astra__sched_compile(const astra_policy_options *p, astra__sched *s);
void astra__sched_clear(astra__sched *s);
/* First scheduled time > after; ASTRA_ENOTFOUND when none in 10 years. */
int astra__sched_next(const astra__sched *s, int64_t after, int64_t *next);
/* Latest scheduled time in (lo, hi]: 1 and *slot, or 0 when none. */
int astra__sched_latest(
        const astra__sched *s, int64_t lo, int64_t hi, int64_t *slot);

/* Policy records: ConfigMaps "astra-policy-<app>.<name>" in the app's
 * home namespace, data "policy.json" (the spec) and "status.json". */
#define ASTRA_POLICY_LABEL "policies.astra.dev/policy"
#define ASTRA_POLICY_LABEL_APP "apps.astra.dev/name"
#define ASTRA_POLICY_LABEL_NAME "policies.astra.dev/name"
#define ASTRA_POLICY_CM_PREFIX "astra-policy-"
/* vault definitions in the control namespace (docs/policies.md) */
#define ASTRA_POLICY_VAULT_CM_PREFIX "astra-vault-"
#define ASTRA_POLICY_KEY_SPEC "policy.json"
#define ASTRA_POLICY_KEY_STATUS "status.json"

/* spec JSON <-> options; the options point into the JSON. */
int astra__policy_to_json(const astra_policy_options *p, astra__json **out);
int astra__policy_from_json(const astra__json *j, astra_policy_options *p);
const char *astra__policy_granularity_name(unsigned g);

/* One read of a Lease held by another replica, and what this replica
 * remembers of the earlier reads (client-go's observedRecord and
 * observedTime). */
typedef struct {
	const char *holder; /* spec.holderIdentity */
	const char *renew_time; /* spec.renewTime */
	int64_t duration_s; /* spec.leaseDurationSeconds */
	int64_t wall_ns; /* this replica's wall clock at the read; never
	                  * decides, only estimates skew for messages */
	uint64_t mono_ns; /* this replica's monotonic clock at the read */
} astra__lease_read;

typedef struct {
	uint64_t record; /* hash of holder, renewTime and duration */
	uint64_t since_ns; /* monotonic time the record was first seen */
	unsigned changes; /* changes seen after the first read */
	int valid;
	uint64_t last_ns; /* monotonic time of the latest read */
	/* at least this much disagreement between the holder's clock and
	 * this replica's, seen at the latest renewal: for messages only */
	int64_t skew_s;
} astra__lease_seen;

/* Records the read in *seen; 1 when the Lease may be taken over. */
int astra__lease_expired(astra__lease_seen *seen, const astra__lease_read *r);

#endif
