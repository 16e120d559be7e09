/*
 * The reader's bounds on key-slot scrypt parameters (docs/format.md, "Key
 * slots"): every slot libastra ever wrote is inside, anything that needs
 * more than 1 GiB per lane or more than 2^25 work is refused without
 * deriving.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "astra_test.h"
#include "crypto/crypto.h"

TestSuite(crypto_slot_bounds, .timeout = 30);

Test(crypto_slot_bounds, every_slot_libastra_wrote_is_accepted)
{
	/* this release's default, the earlier default, the tests' N = 2^10
	 * with p = 2 and 3, the writer's extremes */
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 16, 8, 2));
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 17, 8, 1));
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 10, 8, 2));
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 10, 8, 3));
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 11, 8, 1));
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 10, 8, 64));
	cr_assert_astra_ok(astra__scrypt_check_slot("s", 20, 8, 4));
	cr_assert_eq(astra__scrypt_work(16, 8, 2), 1ULL << 20);
	cr_assert_eq(astra__scrypt_work(17, 8, 1), 1ULL << 20);
}

Test(crypto_slot_bounds, memory_and_work_beyond_the_caps_are_refused_by_name)
{
	/* 2 GiB per lane */
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("key slot keys/a", 21, 8, 1),
	        ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "key slot keys/a"));
	cr_assert(strstr(astra_error_last()->message, "2048 MiB per lane"),
	        "%s", astra_error_last()->message);
	/* 8 TiB per lane: the top of what was accepted before */
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", 30, 64, 1), ASTRA_ECORRUPT);
	/* 1 GiB lanes, but 2^26 work */
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", 20, 8, 8), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "N*r*p = 2^26"), "%s",
	        astra_error_last()->message);
	/* the RFC's own ranges */
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", 0, 8, 1), ASTRA_ECORRUPT);
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", 10, 0, 1), ASTRA_ECORRUPT);
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", 10, 8, 65), ASTRA_ECORRUPT);
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", 16, 1, 1), ASTRA_ECORRUPT);
	cr_assert_astra_fail(
	        astra__scrypt_check_slot("s", -1, -1, -1), ASTRA_ECORRUPT);
	cr_assert(strstr(astra_error_last()->message, "out of range"));
}
