/*
 * Blob ids, object ids, pack keys, and the AEAD seal of vault objects and
 * blobs (docs/format.md). The bottom of lib/repo: it calls no other file
 * of lib/repo (docs/ARCHITECTURE.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "repo/repo.h"

#include <string.h>

#include "compress/compress.h"
#include "crypto/blake3.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"

void astra__id_hex(const astra__id *id, char out[ASTRA_ID_HEX])
{
	astra__hex_encode(out, id->b, ASTRA_ID_LEN);
}

int astra__id_parse(astra__id *id, const char *hex)
{
	if (astra__hex_decode(id->b, ASTRA_ID_LEN, hex) != 0)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_REPO,
		        "invalid object id \"%.80s\"", hex ? hex : "");
	return 0;
}

char *astra__pack_key(const astra__id *pack)
{
	char hex[ASTRA_ID_HEX];
	astra__id_hex(pack, hex);
	return astra__aprintf("data/%.2s/%s", hex, hex);
}

int astra__repo_blob_id(
        astra__repo *r, const void *data, size_t n, astra__id *out)
{
	if (r->blob_alg == ASTRA_BLOB_ID_BLAKE3_KEYED) {
		astra__blake3_keyed(r->mac_key, data, n, out->b);
		return 0;
	}
	return astra__mac_compute(r->mac, data, n, out->b);
}

const char *astra__repo_blob_id_name(const astra__repo *r)
{
	return r->blob_alg == ASTRA_BLOB_ID_BLAKE3_KEYED ? "blake3-keyed"
	                                                 : "hmac-sha256";
}

int astra__repo_seal(astra__repo *r, const char *aad, const void *data,
        size_t n, astra_buf *out)
{
	int rc = astra__buf_grow(out, n + ASTRA_AEAD_OVERHEAD);
	if (rc)
		return rc;
	rc = astra__aead_seal_with(
	        r->aead, aad, strlen(aad), data, n, out->ptr + out->size);
	if (rc)
		return rc;
	out->size += n + ASTRA_AEAD_OVERHEAD;
	out->ptr[out->size] = '\0';
	return 0;
}

/* Opens with this epoch's K_enc, then the earlier epochs', newest first
 * (docs/format.md "Key epochs"): 0 when one authenticates. */
static int open_any(astra__repo *r, const void *aad, size_t aadlen,
        const void *data, size_t n, void *out)
{
	if (astra__aead_open_with(r->aead, aad, aadlen, data, n, out) == 0)
		return 0;
	for (size_t i = r->n_old; i-- > 0;)
		if (astra__aead_open_with(
		            r->old_aead[i], aad, aadlen, data, n, out) == 0)
			return 0;
	return -1;
}

int astra__repo_open_sealed(astra__repo *r, const char *aad, const void *data,
        size_t n, astra_buf *out, const char *what)
{
	if (n < ASTRA_AEAD_OVERHEAD)
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "%s is damaged: too short (%zu bytes)", what, n);
	int rc = astra__buf_grow(out, n - ASTRA_AEAD_OVERHEAD);
	if (rc)
		return rc;
	if (open_any(r, aad, strlen(aad), data, n, out->ptr + out->size))
		return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
		        "%s is damaged: authentication failed (or it was "
		        "sealed after a rekey, under a key epoch the key slot "
		        "that opened the vault does not know)",
		        what);
	out->size += n - ASTRA_AEAD_OVERHEAD;
	out->ptr[out->size] = '\0';
	return 0;
}

int astra__repo_decode_blob(astra__repo *r, const astra__idx_entry *e,
        const uint8_t *sealed, astra_buf *out)
{
	uint8_t aad[ASTRA_ID_LEN + 1];
	memcpy(aad, e->id.b, ASTRA_ID_LEN);
	aad[ASTRA_ID_LEN] = e->type;
	char hex[ASTRA_ID_HEX];
	if (e->length < ASTRA_AEAD_OVERHEAD)
		goto corrupt;
	size_t clen = e->length - ASTRA_AEAD_OVERHEAD;
	astra_buf tmp = ASTRA_BUF_INIT;
	astra_buf *dst = (e->flags & ASTRA_BLOB_F_ZSTD) ? &tmp : out;
	if (astra__buf_grow(dst, clen) || ((e->flags & ASTRA_BLOB_F_ZSTD) &&
	                                          astra__buf_grow(out, e->raw)))
		return ASTRA_ENOMEM;
	if (open_any(r, aad, sizeof(aad), sealed, e->length,
	            dst->ptr + dst->size) != 0) {
		astra_buf_dispose(&tmp);
		goto corrupt;
	}
	if (e->flags & ASTRA_BLOB_F_ZSTD) {
		int rc = astra__zstd_decompress(
		        out->ptr + out->size, e->raw, tmp.ptr, clen);
		astra_buf_dispose(&tmp);
		if (rc)
			goto corrupt;
	} else if (clen != e->raw) {
		goto corrupt;
	}
	astra__id check;
	if (astra__repo_blob_id(r, out->ptr + out->size, e->raw, &check) ||
	        astra__ct_compare(check.b, e->id.b, ASTRA_ID_LEN))
		goto corrupt;
	out->size += e->raw;
	out->ptr[out->size] = '\0';
	return 0;
corrupt:
	astra__id_hex(&e->id, hex);
	return astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_REPO,
	        "blob %s is damaged (it does not decrypt or verify)", hex);
}
