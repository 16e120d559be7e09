/*
 * A policy's spec as stored JSON, and granularity names.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "core/error.h"
#include "policy/policy.h"

static const char *const gran_names[] = { NULL, "hourly", "daily", "weekly",
	"monthly", "custom" };

const char *astra__policy_granularity_name(unsigned g)
{
	return g >= 1 && g <= 5 ? gran_names[g] : "unknown";
}

int astra__policy_to_json(const astra_policy_options *p, astra__json **out)
{
	astra__json *j = astra__json_new_object();
	ASTRA_CHECK_ALLOC(j);
	int rc = astra__json_set_str(j, "name", p->name);
	rc |= astra__json_set_str(j, "granularity",
	        astra__policy_granularity_name(p->granularity));
	if (p->granularity != ASTRA_POLICY_CUSTOM)
		rc |= astra__json_set_int(j, "minute", p->minute);
	if (p->granularity >= ASTRA_POLICY_DAILY &&
	        p->granularity <= ASTRA_POLICY_MONTHLY)
		rc |= astra__json_set_int(j, "hour", p->hour);
	if (p->granularity == ASTRA_POLICY_WEEKLY)
		rc |= astra__json_set_int(j, "dayOfWeek", p->day_of_week);
	if (p->granularity == ASTRA_POLICY_MONTHLY)
		rc |= astra__json_set_int(j, "dayOfMonth", p->day_of_month);
	if (p->rrule && *p->rrule)
		rc |= astra__json_set_str(j, "rrule", p->rrule);
	if (p->cron && *p->cron)
		rc |= astra__json_set_str(j, "cron", p->cron);
	rc |= astra__json_set_str(j, "timeZone",
	        p->time_zone && *p->time_zone ? p->time_zone : "UTC");
	rc |= astra__json_set_int(
	        j, "snapshotRetention", p->snapshot_retention);
	rc |= astra__json_set_int(j, "backupRetention", p->backup_retention);
	if (p->vault && *p->vault)
		rc |= astra__json_set_str(j, "vault", p->vault);
	if (p->version >= 2 && p->vault_ref && *p->vault_ref)
		rc |= astra__json_set_str(j, "vaultRef", p->vault_ref);
	if (rc) {
		astra__json_free(j);
		return ASTRA_ENOMEM;
	}
	*out = j;
	return 0;
}

int astra__policy_from_json(const astra__json *j, astra_policy_options *p)
{
	astra_policy_options_init(p, ASTRA_POLICY_OPTIONS_VERSION);
	p->name = astra__json_str(j, "name");
	const char *g = astra__json_str(j, "granularity");
	p->granularity = 0;
	for (unsigned i = 1; g && i <= 5; i++)
		if (!strcmp(g, gran_names[i]))
			p->granularity = i;
	p->minute = (int)astra__json_int(j, "minute", 0);
	p->hour = (int)astra__json_int(j, "hour", 0);
	p->day_of_week = (int)astra__json_int(j, "dayOfWeek", 0);
	p->day_of_month = (int)astra__json_int(j, "dayOfMonth", 1);
	p->rrule = astra__json_str(j, "rrule");
	p->cron = astra__json_str(j, "cron");
	p->time_zone = astra__json_str(j, "timeZone");
	p->snapshot_retention =
	        (unsigned)astra__json_int(j, "snapshotRetention", 0);
	p->backup_retention =
	        (unsigned)astra__json_int(j, "backupRetention", 0);
	p->vault = astra__json_str(j, "vault");
	p->vault_ref = astra__json_str(j, "vaultRef");
	return astra_policy_validate(p);
}
