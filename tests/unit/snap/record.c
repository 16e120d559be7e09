/*
 * The typed snapshot record (lib/snap/record_codec.c): a record decodes and
 * encodes back to the same bytes, in the key order astra_snapshot_create
 * writes; damaged records are refused with an error naming the member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "snap/record.h"

TestSuite(snap_record);

/* A record as astra_snapshot_create writes it (compact, in its key order):
 * one volume in a group snapshot, one snapshotted alone. */
static const char full[] =
        "{\"app\":\"shop\",\"name\":\"nightly\",\"namespace\":\"shop\","
        "\"created\":\"2026-12-07T18:00:00Z\",\"state\":\"completed\","
        "\"consistency\":\"individual\","
        "\"volumes\":[{\"namespace\":\"shop\",\"pvc\":\"db\","
        "\"driver\":\"hostpath.csi.k8s.io\","
        "\"group\":\"astra-nightly-shop-0\",\"readyToUse\":true},"
        "{\"namespace\":\"shop\",\"pvc\":\"cache\","
        "\"driver\":\"hostpath.csi.k8s.io\","
        "\"volumeSnapshot\":\"astra-nightly-cache\","
        "\"restoreSize\":\"1Gi\",\"readyToUse\":false}],"
        "\"resources\":12,"
        "\"hooks\":[{\"stage\":\"pre-snapshot\",\"hooks\":0,\"failed\":0}],"
        "\"hookDefinitions\":[{\"name\":\"warm\","
        "\"stage\":\"post-restore\",\"script\":\"echo hi\"}],"
        "\"warnings\":[\"skipped events\"],\"durationMs\":1234,"
        "\"manifestParts\":2}";

static astra__json *parse(const char *text)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "test"));
	return j;
}

static char *print(const astra__json *j)
{
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__json_print_buf(&b, j, 0));
	char *s = strndup(b.ptr, b.size);
	astra_buf_dispose(&b);
	return s;
}

/* Decodes `text`, encodes the result and expects the same bytes. */
static void round_trip(const char *text, astra__snap_rec *rec)
{
	astra__json *j = parse(text), *back = NULL;
	cr_assert_astra_ok(astra__snap_rec_decode(j, "nightly", rec));
	cr_assert_astra_ok(astra__snap_rec_encode(rec, &back));
	char *s = print(back);
	cr_assert_str_eq(s, text);
	free(s);
	astra__json_free(back);
	astra__json_free(j);
}

Test(snap_record, round_trip_keeps_every_member_and_the_key_order)
{
	astra__snap_rec rec;
	round_trip(full, &rec);
	cr_assert_str_eq(rec.app, "shop");
	cr_assert_str_eq(rec.name, "nightly");
	cr_assert_str_eq(rec.ns, "shop");
	cr_assert_str_eq(rec.created, "2026-12-07T18:00:00Z");
	cr_assert_str_eq(rec.state, "completed");
	cr_assert_str_eq(rec.consistency, "individual");
	cr_assert_eq(rec.nvolumes, 2);
	cr_assert_str_eq(rec.volumes[0].group, "astra-nightly-shop-0");
	cr_assert_null(rec.volumes[0].volume_snapshot);
	cr_assert_eq(rec.volumes[0].ready_to_use, 1);
	cr_assert_str_eq(rec.volumes[1].volume_snapshot, "astra-nightly-cache");
	cr_assert_str_eq(rec.volumes[1].restore_size, "1Gi");
	cr_assert_eq(rec.volumes[1].ready_to_use, 0);
	cr_assert_eq(rec.resources, 12);
	cr_assert_eq(astra__json_size(rec.hooks), 1);
	cr_assert_eq(astra__json_size(rec.hook_definitions), 1);
	cr_assert_eq(astra__json_size(rec.warnings), 1);
	cr_assert_eq(rec.duration_ms, 1234);
	cr_assert_eq(rec.manifest_parts, 2);
	astra__snap_rec_free(&rec);
}

Test(snap_record, round_trip_of_a_snapshot_without_volumes)
{
	static const char none[] =
	        "{\"app\":\"web\",\"name\":\"s1\",\"namespace\":\"web\","
	        "\"created\":\"2026-12-07T18:00:00Z\",\"state\":\"completed\","
	        "\"consistency\":\"none\",\"volumes\":[],\"resources\":3,"
	        "\"hooks\":[],\"hookDefinitions\":[],\"warnings\":[],"
	        "\"durationMs\":0,\"manifestParts\":1}";
	astra__snap_rec rec;
	round_trip(none, &rec);
	cr_assert_eq(rec.nvolumes, 0);
	astra__snap_rec_free(&rec);
}

/* Decodes `full` with member `path` (dot-separated, numbers index
 * arrays) replaced by `value` (JSON text; NULL: removed); expects
 * ASTRA_ECORRUPT and a message equal to `msg`, and nothing left behind. */
static void expect_refused(const char *path, const char *value, const char *msg)
{
	astra__json *j = parse(full);
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	astra__json *parent = j;
	char *key = buf;
	for (char *dot; (dot = strchr(key, '.')); key = dot + 1) {
		*dot = '\0';
		parent = (key[0] >= '0' && key[0] <= '9')
		                 ? astra__json_at(parent, (size_t)atoi(key))
		                 : astra__json_get(parent, key);
		cr_assert_not_null(parent, "%s", path);
	}
	cr_assert_not_null(astra__json_get(parent, key), "%s", path);
	if (value)
		astra__json_set(parent, key, parse(value));
	else
		astra__json_del(parent, key);
	astra__snap_rec rec;
	memset(&rec, 0x5a, sizeof(rec));
	cr_assert_astra_fail(
	        astra__snap_rec_decode(j, "nightly", &rec), ASTRA_ECORRUPT);
	cr_assert_str_eq(astra_error_last()->message, msg);
	cr_assert_null(rec.app, "nothing is left behind");
	cr_assert_null(rec.volumes);
	astra__json_free(j);
}

Test(snap_record, garbage_records_name_the_field)
{
	expect_refused("app", NULL, "snapshot nightly: field app is missing");
	expect_refused(
	        "name", "7", "snapshot nightly: field name is not a string");
	expect_refused(
	        "created", NULL, "snapshot nightly: field created is missing");
	expect_refused("namespace", "[]",
	        "snapshot nightly: field namespace is not a string");
	expect_refused(
	        "volumes", NULL, "snapshot nightly: field volumes is missing");
	expect_refused("volumes", "{}",
	        "snapshot nightly: field volumes is not an array");
	expect_refused("volumes", "[{\"namespace\":\"a\",\"pvc\":\"b\"},[]]",
	        "snapshot nightly: field volumes[1] is not an object");
	expect_refused("volumes.0.pvc", NULL,
	        "snapshot nightly: field volumes[0].pvc is missing");
	expect_refused("volumes.1.volumeSnapshot", "1",
	        "snapshot nightly: field volumes[1].volumeSnapshot is not a "
	        "string");
	expect_refused("volumes.1.readyToUse", "\"yes\"",
	        "snapshot nightly: field volumes[1].readyToUse is not a "
	        "boolean");
	expect_refused("resources", "\"12\"",
	        "snapshot nightly: field resources is not a number");
	expect_refused(
	        "hooks", "{}", "snapshot nightly: field hooks is not an array");
	expect_refused("warnings", "\"none\"",
	        "snapshot nightly: field warnings is not an array");
	expect_refused("manifestParts", "null",
	        "snapshot nightly: field manifestParts is not a number");
}

Test(snap_record, a_record_that_is_not_an_object_is_refused)
{
	astra__json *j = parse("[1,2]");
	astra__snap_rec rec;
	cr_assert_astra_fail(
	        astra__snap_rec_decode(j, "nightly", &rec), ASTRA_ECORRUPT);
	cr_assert_str_eq(astra_error_last()->message,
	        "snapshot nightly: the record is not a JSON object");
	astra__json_free(j);
}

/* A volume no snapshot could take: its consistency and the reason survive
 * a round trip, after readyToUse; a "snapshot" volume keeps its own. */
Test(snap_record, volume_consistency_and_reason_round_trip)
{
	static const char text[] =
	        "{\"app\":\"shop\",\"name\":\"nightly\",\"namespace\":\"shop\","
	        "\"created\":\"2026-12-07T18:00:00Z\",\"state\":\"completed\","
	        "\"consistency\":\"group\","
	        "\"volumes\":[{\"namespace\":\"shop\",\"pvc\":\"db\","
	        "\"driver\":\"hostpath.csi.k8s.io\","
	        "\"volumeSnapshot\":\"nightly-db\",\"readyToUse\":true,"
	        "\"consistency\":\"snapshot\"},"
	        "{\"namespace\":\"shop\",\"pvc\":\"logs\",\"readyToUse\":false,"
	        "\"consistency\":\"none\",\"reason\":\"PV pv-logs is not a "
	        "CSI volume (local): CSI snapshots cannot take it\"}],"
	        "\"resources\":3,\"durationMs\":5,\"manifestParts\":1}";
	astra__snap_rec rec;
	round_trip(text, &rec);
	cr_assert_eq(rec.nvolumes, 2);
	cr_assert_str_eq(rec.volumes[0].consistency, "snapshot");
	cr_assert_null(rec.volumes[0].reason);
	cr_assert_str_eq(rec.volumes[1].consistency, "none");
	cr_assert_null(rec.volumes[1].driver);
	cr_assert_not_null(strstr(rec.volumes[1].reason, "local"));
	astra__snap_rec_free(&rec);
}
