/*
 * The typed records above the data path, decoded from any JSON: the
 * app-backup record (appbackups/<name>, repo/catalog.h), the app
 * snapshot record (snap/record.h) and the policy status (policy/store.h).
 * The first byte picks the record; a record that decodes is encoded again
 * and must decode to the same encoding (the codecs' promise).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fmt/json.h"
#include "policy/store.h"
#include "repo/catalog.h"
#include "snap/record.h"

static void same(astra__json *a, astra__json *b)
{
	char *x = NULL, *y = NULL;
	if (a && b && astra__json_print(&x, a, 0) == 0 &&
	        astra__json_print(&y, b, 0) == 0 && strcmp(x, y) != 0)
		abort(); /* encode(decode(encode(r))) != encode(r) */
	free(x);
	free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	astra__json *j = NULL;
	if (astra__json_parse(&j, (const char *)data + 1, size - 1, "fuzz")) {
		astra_error_clear();
		return 0;
	}
	astra__json *e1 = NULL, *e2 = NULL;
	switch (data[0] % 3) {
	case 0: {
		astra__appbackup_rec r, r2;
		if (astra__appbackup_decode(j, "fuzz", &r) == 0) {
			if (astra__appbackup_encode(&r, &e1) == 0 &&
			        astra__appbackup_decode(e1, "fuzz", &r2) == 0) {
				(void)astra__appbackup_encode(&r2, &e2);
				astra__appbackup_rec_free(&r2);
			}
			astra__appbackup_rec_free(&r);
		}
		break;
	}
	case 1: {
		astra__snap_rec r, r2;
		if (astra__snap_rec_decode(j, "fuzz", &r) == 0) {
			if (astra__snap_rec_encode(&r, &e1) == 0 &&
			        astra__snap_rec_decode(e1, "fuzz", &r2) == 0) {
				(void)astra__snap_rec_encode(&r2, &e2);
				astra__snap_rec_free(&r2);
			}
			astra__snap_rec_free(&r);
		}
		break;
	}
	default: {
		astra__policy_status s, s2;
		if (astra__policy_status_decode(j, "fuzz", &s) == 0) {
			if (astra__policy_status_encode(&s, &e1) == 0 &&
			        astra__policy_status_decode(e1, "fuzz", &s2) ==
			                0) {
				(void)astra__policy_status_encode(&s2, &e2);
				astra__policy_status_free(&s2);
			}
			astra__policy_status_free(&s);
		}
		break;
	}
	}
	same(e1, e2);
	astra__json_free(e1);
	astra__json_free(e2);
	astra__json_free(j);
	astra_error_clear();
	return 0;
}
