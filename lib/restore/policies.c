/*
 * Policies of a restored or cloned app, on request: copies of the source
 * app's policies (their schedule and retention, not their status), made
 * through the public policy API (lib/policy sits beside this module).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "astra/policy.h"
#include "core/buf.h"
#include "core/error.h"
#include "restore/restore.h"

static unsigned granularity(const char *g)
{
	static const char *const names[] = { "hourly", "daily", "weekly",
		"monthly", "custom" };
	for (unsigned i = 0; g && i < 5; i++)
		if (!strcmp(g, names[i]))
			return i + 1;
	return 0;
}

int astra__restore_copy_policies(astra_cluster *from, const char *src,
        astra_cluster *to, const char *dst, astra__json *names)
{
	astra_buf b = ASTRA_BUF_INIT;
	astra__json *list = NULL;
	int rc = astra_policy_list(from, src, &b);
	if (!rc)
		rc = astra__json_parse(&list, b.ptr, b.size, "policy list");
	for (size_t i = 0; !rc && i < astra__json_size(list); i++) {
		const astra__json *p = astra__json_at(list, i);
		astra_policy_options po;
		if ((rc = astra_policy_options_init(
		             &po, ASTRA_POLICY_OPTIONS_VERSION)))
			break;
		po.name = astra__json_str(p, "name");
		po.granularity = granularity(astra__json_str(p, "granularity"));
		po.minute = (int)astra__json_int(p, "minute", 0);
		po.hour = (int)astra__json_int(p, "hour", 0);
		po.day_of_week = (int)astra__json_int(p, "dayOfWeek", 0);
		po.day_of_month = (int)astra__json_int(p, "dayOfMonth", 1);
		po.rrule = astra__json_str(p, "rrule");
		po.cron = astra__json_str(p, "cron");
		po.time_zone = astra__json_str(p, "timeZone");
		po.snapshot_retention =
		        (unsigned)astra__json_int(p, "snapshotRetention", 0);
		po.backup_retention =
		        (unsigned)astra__json_int(p, "backupRetention", 0);
		po.vault = astra__json_str(p, "vault");
		rc = astra_policy_set(to, dst, &po);
		if (rc)
			rc = astra__err_prefix(rc, "policy %s",
			        po.name ? po.name : "(unnamed)");
		else
			rc = astra__json_push(
			        names, astra__json_new_string(po.name));
	}
	astra__json_free(list);
	astra_buf_dispose(&b);
	if (rc)
		return astra__err_prefix(
		        rc, "copying the policies of app %s to %s", src, dst);
	return 0;
}
