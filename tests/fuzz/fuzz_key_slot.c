/*
 * Key slots (plaintext JSON, anyone with write access can add one): the
 * parser and the parameter bounds, as opening a vault runs them before
 * any derivation. scrypt itself never runs with the fuzzer's parameters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "repo/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	astra__key_slot s;
	int why = 0;
	int rc = astra__key_slot_parse(
	        "keys/fuzz", (const char *)data, size, &s, &why);
	if (rc == 0) {
		/* what the parser let through is inside the reader's caps */
		if (s.kdf == ASTRA_SLOT_KDF_SCRYPT &&
		        (astra__scrypt_check_slot("fuzz", s.log2n, s.r, s.p) ||
		                s.work > ASTRA__SCRYPT_MAX_WORK ||
		                (1ULL << s.log2n) * 128 * s.r >
		                        ASTRA__SCRYPT_MAX_LANE_BYTES))
			abort();
		if (s.wrapped.size != 92 || !s.salt.size)
			abort();
	} else if (why == 0) {
		abort();
	}
	astra__key_slot_dispose(&s);
	/* the bounds on any three integers */
	if (size >= 24) {
		int64_t v[3];
		memcpy(v, data, sizeof(v));
		(void)astra__scrypt_check_slot("fuzz", v[0], v[1], v[2]);
	}
	return 0;
}
