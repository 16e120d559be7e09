/*
 * astra_b3sum [--keyed] FILE...: prints astra's BLAKE3 of each file as
 * "<hex>  <name>", like b3sum; with --keyed, keyed_hash mode under the 32
 * raw bytes read from standard input (as `b3sum --keyed`). For the
 * cross-check against Debian's b3sum (tests/blake3/crosscheck.sh).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "crypto/blake3.h"

static int hash_file(const char *path, const uint8_t *key)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t cap = 1 << 16, n = 0, got;
	uint8_t *d = malloc(cap);
	while (d && (got = fread(d + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			uint8_t *t = realloc(d, cap * 2);
			if (!t) {
				free(d);
				d = NULL;
				break;
			}
			d = t;
			cap *= 2;
		}
	}
	int bad = ferror(f) || !d;
	fclose(f);
	if (bad) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(d);
		return 1;
	}
	uint8_t out[32];
	char hex[65];
	if (key)
		astra__blake3_keyed(key, d, n, out);
	else
		astra__blake3_hash(d, n, out);
	astra__hex_encode(hex, out, 32);
	printf("%s  %s\n", hex, path);
	free(d);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, rc = 0;
	uint8_t key[32], *kp = NULL;
	if (i < argc && !strcmp(argv[i], "--keyed")) {
		char extra;
		if (fread(key, 1, 32, stdin) != 32 ||
		        fread(&extra, 1, 1, stdin)) {
			fprintf(stderr, "the key on stdin must be exactly 32 "
			                "bytes\n");
			return 2;
		}
		kp = key;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: astra_b3sum [--keyed] FILE...\n");
		return 2;
	}
	for (; i < argc; i++)
		rc |= hash_file(argv[i], kp);
	return rc;
}
