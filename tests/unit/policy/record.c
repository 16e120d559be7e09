/*
 * The typed policy status (lib/policy/store.c): a status decodes and
 * encodes back to the same bytes, in the key order the runner writes;
 * damaged ones are refused with an error naming the member.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astra_test.h"
#include "core/buf.h"
#include "fmt/json.h"
#include "policy/store.h"

TestSuite(policy_record);

/* A status as the runner leaves it after a failed run and a trim
 * (compact, in its key order). */
static const char full[] =
        "{\"lastRun\":1796666400,\"lastSlot\":1796666400,"
        "\"nextRun\":1796752800,\"lastResult\":\"failed\","
        "\"lastError\":\"backup nightly: vault is locked\","
        "\"lastFinished\":1796666460,"
        "\"snapshots\":[\"shop-20261207180000\",\"shop-20261208180000\"],"
        "\"backups\":[\"shop-20261207180000\"],"
        "\"pendingDeletes\":[{\"kind\":\"snapshot\","
        "\"name\":\"shop-20261206180000\"},"
        "{\"kind\":\"backup\",\"name\":\"shop-20261206180000\","
        "\"vault\":\"file:///backups/v\"}]}";

static astra__json *parse(const char *text)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "test"));
	return j;
}

/* Decodes `text`, encodes the result and expects the same bytes. */
static void round_trip(const char *text, astra__policy_status *st)
{
	astra__json *j = parse(text), *back = NULL;
	cr_assert_astra_ok(astra__policy_status_decode(j, "shop-nightly", st));
	cr_assert_astra_ok(astra__policy_status_encode(st, &back));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__json_print_buf(&b, back, 0));
	cr_assert_eq(b.size, strlen(text));
	cr_assert_arr_eq(b.ptr, text, b.size);
	astra_buf_dispose(&b);
	astra__json_free(back);
	astra__json_free(j);
}

Test(policy_record, round_trip_keeps_every_member_and_the_key_order)
{
	astra__policy_status st;
	round_trip(full, &st);
	cr_assert_eq(st.last_run, 1796666400);
	cr_assert_eq(st.last_slot, 1796666400);
	cr_assert_eq(st.next_run, 1796752800);
	cr_assert_eq(st.last_finished, 1796666460);
	cr_assert_str_eq(st.last_result, "failed");
	cr_assert_str_eq(st.last_error, "backup nightly: vault is locked");
	cr_assert_eq(st.nsnapshots, 2);
	cr_assert_str_eq(st.snapshots[1], "shop-20261208180000");
	cr_assert_eq(st.nbackups, 1);
	cr_assert_eq(st.npending, 2);
	cr_assert_str_eq(st.pending[0].kind, "snapshot");
	cr_assert_null(st.pending[0].vault);
	cr_assert_str_eq(st.pending[1].vault, "file:///backups/v");
	astra__policy_status_free(&st);
}

Test(policy_record, round_trip_of_a_fresh_claim_and_of_nothing)
{
	astra__policy_status st;
	/* what the first claim writes: the lists are not there yet */
	round_trip("{\"lastRun\":1796666400,\"lastSlot\":1796666400,"
	           "\"nextRun\":0,\"lastResult\":\"running\"}",
	        &st);
	cr_assert_eq(st.has, ASTRA__POLICY_ST_LAST_RUN |
	                             ASTRA__POLICY_ST_LAST_SLOT |
	                             ASTRA__POLICY_ST_NEXT_RUN);
	astra__policy_status_free(&st);
	round_trip("{}", &st);
	cr_assert_eq(st.has, 0);
	cr_assert_null(st.last_result);
	astra__policy_status_free(&st);
	round_trip(
	        "{\"snapshots\":[],\"backups\":[],\"pendingDeletes\":[]}", &st);
	astra__policy_status_free(&st);
}

/* Decodes `full` with member `key` (of the status, or of its first
 * pending delete when `in_pending`) replaced by `value` (JSON text; NULL:
 * removed); expects ASTRA_ECORRUPT with message `msg` and nothing left. */
static void expect_refused(
        int in_pending, const char *key, const char *value, const char *msg)
{
	astra__json *j = parse(full);
	astra__json *parent = j;
	if (in_pending)
		parent =
		        astra__json_at(astra__json_get(j, "pendingDeletes"), 0);
	cr_assert_not_null(astra__json_get(parent, key), "%s", key);
	if (value)
		astra__json_set(parent, key, parse(value));
	else
		astra__json_del(parent, key);
	astra__policy_status st;
	memset(&st, 0x5a, sizeof(st));
	cr_assert_astra_fail(
	        astra__policy_status_decode(j, "shop-nightly", &st),
	        ASTRA_ECORRUPT);
	cr_assert_str_eq(astra_error_last()->message, msg);
	cr_assert_null(st.last_result, "nothing is left behind");
	cr_assert_null(st.snapshots);
	cr_assert_null(st.pending);
	astra__json_free(j);
}

Test(policy_record, garbage_names_the_field)
{
	expect_refused(0, "lastRun", "\"yesterday\"",
	        "policy shop-nightly: status field lastRun is not a number");
	expect_refused(0, "nextRun", "null",
	        "policy shop-nightly: status field nextRun is not a number");
	expect_refused(0, "lastResult", "1",
	        "policy shop-nightly: status field lastResult is not a string");
	expect_refused(0, "lastError", "{}",
	        "policy shop-nightly: status field lastError is not a string");
	expect_refused(0, "snapshots", "\"shop-1\"",
	        "policy shop-nightly: status field snapshots is not an array");
	expect_refused(0, "backups", "[\"a\",7]",
	        "policy shop-nightly: status field backups[1] is not a string");
	expect_refused(0, "pendingDeletes", "[[]]",
	        "policy shop-nightly: status field pendingDeletes[0] is not an "
	        "object");
	expect_refused(1, "name", NULL,
	        "policy shop-nightly: status field pendingDeletes[0].name is "
	        "missing");
	expect_refused(1, "kind", "false",
	        "policy shop-nightly: status field pendingDeletes[0].kind is not "
	        "a string");
}

Test(policy_record, a_missing_or_unreadable_status_reads_as_empty)
{
	astra__json *cm = parse("{\"metadata\":{\"name\":\"p\"},\"data\":{}}");
	astra__policy_status st;
	memset(&st, 0x5a, sizeof(st));
	cr_assert_astra_ok(astra__policy_cm_status(cm, &st));
	cr_assert_eq(st.has, 0);
	cr_assert_null(st.last_result);
	astra__json_free(cm);
	cm = parse(
	        "{\"metadata\":{\"name\":\"p\"},"
	        "\"data\":{\"status.json\":\"{\\\"lastRun\\\":\\\"x\\\"}\"}}");
	cr_assert_astra_fail(astra__policy_cm_status(cm, &st), ASTRA_ECORRUPT);
	cr_assert_str_eq(astra_error_last()->message,
	        "policy p: status field lastRun is not a number");
	astra__json_free(cm);
}
