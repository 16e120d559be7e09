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
#define ASTRA_POLICY_KEY_SPEC "policy.json"
#define ASTRA_POLICY_KEY_STATUS "status.json"

/* spec JSON <-> options; the options point into the JSON. */
int astra__policy_to_json(const astra_policy_options *p, astra__json **out);
int astra__policy_from_json(const astra__json *j, astra_policy_options *p);
const char *astra__policy_granularity_name(unsigned g);

#endif
