/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

static int ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown reason";
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	return astra__err(
	        ASTRA_ERROR, ASTRA_ERROR_CRYPTO, "%s failed: %s", what, reason);
}

int astra__crypto_global_init(void)
{
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1)
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_CRYPTO,
		        "cannot initialise OpenSSL");
	return 0;
}

const char *astra__crypto_version(void)
{
	return OpenSSL_version(OPENSSL_VERSION_STRING);
}

int astra__random(void *buf, size_t n)
{
	while (n) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(buf, chunk) != 1)
			return ossl_err("random generator");
		buf = (char *)buf + chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int astra__sha256(const void *data, size_t n, uint8_t out[ASTRA_SHA256_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1)
		return ossl_err("SHA-256");
	return 0;
}

int astra__sha1(const void *data, size_t n, uint8_t out[ASTRA_SHA1_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(data, n, out, &len, EVP_sha1(), NULL) != 1)
		return ossl_err("SHA-1");
	return 0;
}

int astra__md5(const void *data, size_t n, uint8_t out[ASTRA_MD5_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(data, n, out, &len, EVP_md5(), NULL) != 1)
		return ossl_err("MD5");
	return 0;
}

int astra__hmac_sha256(const void *key, size_t keylen, const void *data,
        size_t n, uint8_t out[ASTRA_SHA256_LEN])
{
	unsigned int len = 0;
	if (keylen > INT_MAX ||
	        !HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len))
		return ossl_err("HMAC-SHA256");
	return 0;
}

struct astra__mac {
	EVP_MAC *mac;
	EVP_MAC_CTX *tmpl; /* keyed template, duplicated per call */
};

int astra__mac_new(astra__mac **out, const void *key, size_t keylen)
{
	*out = NULL;
	astra__mac *m = astra__calloc(1, sizeof(*m));
	ASTRA_CHECK_ALLOC(m);
	m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!m->mac) {
		free(m);
		return ossl_err("HMAC");
	}
	m->tmpl = EVP_MAC_CTX_new(m->mac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(
		        OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!m->tmpl || EVP_MAC_init(m->tmpl, key, keylen, params) != 1) {
		int rc = ossl_err("HMAC-SHA256 key setup");
		astra__mac_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int astra__mac_compute(const astra__mac *m, const void *data, size_t n,
        uint8_t out[ASTRA_SHA256_LEN])
{
	EVP_MAC_CTX *c = EVP_MAC_CTX_dup(m->tmpl);
	size_t len = 0;
	int ok = c && EVP_MAC_update(c, data, n) == 1 &&
	         EVP_MAC_final(c, out, &len, ASTRA_SHA256_LEN) == 1;
	EVP_MAC_CTX_free(c);
	return ok ? 0 : ossl_err("HMAC-SHA256");
}

void astra__mac_free(astra__mac *m)
{
	if (!m)
		return;
	EVP_MAC_CTX_free(m->tmpl);
	EVP_MAC_free(m->mac);
	free(m);
}

int astra__hkdf_sha256(void *out, size_t outlen, const void *ikm, size_t ikmlen,
        const void *salt, size_t saltlen, const char *info)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!c)
		return ossl_err("HKDF");
	OSSL_PARAM params[5];
	int i = 0;
	params[i++] = OSSL_PARAM_construct_utf8_string(
	        OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[i++] = OSSL_PARAM_construct_octet_string(
	        OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
	if (saltlen)
		params[i++] = OSSL_PARAM_construct_octet_string(
		        OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	params[i++] = OSSL_PARAM_construct_octet_string(
	        OSSL_KDF_PARAM_INFO, (void *)info, info ? strlen(info) : 0);
	params[i] = OSSL_PARAM_construct_end();
	int ok = EVP_KDF_derive(c, out, outlen, params) == 1;
	EVP_KDF_CTX_free(c);
	return ok ? 0 : ossl_err("HKDF-SHA256");
}

static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	/* fetched once: an implicit fetch per message costs more than
	 * sealing a small one */
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* A context with the key set up for direction `enc`, or NULL. */
static EVP_CIPHER_CTX *gcm_new(int enc, const uint8_t *key)
{
	pthread_once(&gcm_once, gcm_fetch);
	if (!gcm_cipher)
		return NULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (c && EVP_CipherInit_ex2(c, gcm_cipher, key, NULL, enc, NULL) != 1) {
		EVP_CIPHER_CTX_free(c);
		c = NULL;
	}
	return c;
}

/* One message with a keyed context: only the nonce is set per message. */
static int gcm_run(EVP_CIPHER_CTX *c, int enc, const uint8_t *nonce,
        const void *aad, size_t aadlen, const void *in, size_t n, void *out,
        uint8_t *tag)
{
	int ok = 0, len = 0;
	if (EVP_CipherInit_ex2(c, NULL, NULL, nonce, enc, NULL) != 1)
		goto done;
	if (aadlen && EVP_CipherUpdate(c, NULL, &len, aad, (int)aadlen) != 1)
		goto done;
	const uint8_t *src = in;
	uint8_t *dst = out;
	size_t left = n;
	while (left) {
		int step = left > (1u << 30) ? (1 << 30) : (int)left;
		if (EVP_CipherUpdate(c, dst, &len, src, step) != 1)
			goto done;
		src += step;
		dst += len;
		left -= (size_t)step;
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG,
	                    ASTRA_AEAD_TAG_LEN, tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(c, dst, &len) != 1)
		goto done;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG,
	                   ASTRA_AEAD_TAG_LEN, tag) != 1)
		goto done;
	ok = 1;
done:
	if (!ok) {
		ERR_clear_error();
		return enc ? astra__err(ASTRA_ERROR, ASTRA_ERROR_CRYPTO,
		                     "AES-256-GCM encryption failed")
		           : ASTRA_ECORRUPT;
	}
	return 0;
}

/* A key and the contexts set up for it, reused across messages and
 * threads (each context serves one message at a time). */
#define AEAD_KEEP 16
struct astra__aead {
	uint8_t key[ASTRA_AEAD_KEY_LEN];
	pthread_mutex_t mu;
	EVP_CIPHER_CTX *idle[2][AEAD_KEEP]; /* [enc] */
	int nidle[2];
};

int astra__aead_new(astra__aead **out, const uint8_t key[ASTRA_AEAD_KEY_LEN])
{
	astra__aead *a = astra__calloc(1, sizeof(*a));
	*out = NULL;
	ASTRA_CHECK_ALLOC(a);
	memcpy(a->key, key, ASTRA_AEAD_KEY_LEN);
	pthread_mutex_init(&a->mu, NULL);
	*out = a;
	return 0;
}

void astra__aead_free(astra__aead *a)
{
	if (!a)
		return;
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < a->nidle[e]; i++)
			EVP_CIPHER_CTX_free(a->idle[e][i]);
	pthread_mutex_destroy(&a->mu);
	astra__wipe(a->key, sizeof(a->key));
	free(a);
}

static int aead_run(astra__aead *a, int enc, const uint8_t *nonce,
        const void *aad, size_t aadlen, const void *in, size_t n, void *out,
        uint8_t *tag)
{
	EVP_CIPHER_CTX *c = NULL;
	pthread_mutex_lock(&a->mu);
	if (a->nidle[enc])
		c = a->idle[enc][--a->nidle[enc]];
	pthread_mutex_unlock(&a->mu);
	if (!c && !(c = gcm_new(enc, a->key))) {
		ERR_clear_error();
		return astra__err(ASTRA_ERROR, ASTRA_ERROR_CRYPTO,
		        "AES-256-GCM is not available");
	}
	int rc = gcm_run(c, enc, nonce, aad, aadlen, in, n, out, tag);
	pthread_mutex_lock(&a->mu);
	if (a->nidle[enc] < AEAD_KEEP) {
		a->idle[enc][a->nidle[enc]++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&a->mu);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

static int seal_nonce_with(astra__aead *a, const uint8_t *nonce,
        const void *aad, size_t aadlen, const void *in, size_t n, void *out)
{
	uint8_t *o = out;
	memmove(o, nonce, ASTRA_AEAD_NONCE_LEN);
	return aead_run(a, 1, o, aad, aadlen, in, n, o + ASTRA_AEAD_NONCE_LEN,
	        o + ASTRA_AEAD_NONCE_LEN + n);
}

int astra__aead_seal_with(astra__aead *a, const void *aad, size_t aadlen,
        const void *in, size_t n, void *out)
{
	uint8_t nonce[ASTRA_AEAD_NONCE_LEN];
	int rc = astra__random(nonce, sizeof(nonce));
	if (rc)
		return rc;
	return seal_nonce_with(a, nonce, aad, aadlen, in, n, out);
}

int astra__aead_open_with(astra__aead *a, const void *aad, size_t aadlen,
        const void *in, size_t n, void *out)
{
	if (n < ASTRA_AEAD_OVERHEAD)
		return ASTRA_ECORRUPT;
	const uint8_t *i = in;
	size_t ctlen = n - ASTRA_AEAD_OVERHEAD;
	uint8_t tag[ASTRA_AEAD_TAG_LEN];
	memcpy(tag, i + ASTRA_AEAD_NONCE_LEN + ctlen, sizeof(tag));
	return aead_run(a, 0, i, aad, aadlen, i + ASTRA_AEAD_NONCE_LEN, ctlen,
	        out, tag);
}

int astra__aead_seal_nonce(const uint8_t key[ASTRA_AEAD_KEY_LEN],
        const uint8_t nonce[ASTRA_AEAD_NONCE_LEN], const void *aad,
        size_t aadlen, const void *in, size_t n, void *out)
{
	astra__aead *a = NULL;
	int rc = astra__aead_new(&a, key);
	if (!rc)
		rc = seal_nonce_with(a, nonce, aad, aadlen, in, n, out);
	astra__aead_free(a);
	return rc;
}

int astra__aead_seal(const uint8_t key[ASTRA_AEAD_KEY_LEN], const void *aad,
        size_t aadlen, const void *in, size_t n, void *out)
{
	uint8_t nonce[ASTRA_AEAD_NONCE_LEN];
	int rc = astra__random(nonce, sizeof(nonce));
	if (rc)
		return rc;
	return astra__aead_seal_nonce(key, nonce, aad, aadlen, in, n, out);
}

int astra__aead_open(const uint8_t key[ASTRA_AEAD_KEY_LEN], const void *aad,
        size_t aadlen, const void *in, size_t n, void *out)
{
	astra__aead *a = NULL;
	int rc = astra__aead_new(&a, key);
	if (!rc)
		rc = astra__aead_open_with(a, aad, aadlen, in, n, out);
	astra__aead_free(a);
	return rc;
}

int astra__ct_compare(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) != 0;
}

int astra__rsa_sha256_sign(const char *key_pem, size_t key_len,
        const void *data, size_t n, astra_buf *sig, const char *what)
{
	int rc = 0;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	size_t len = 0;
	if (key_len > INT_MAX)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CRYPTO,
		        "%s: the private key is too long", what);
	BIO *bio = BIO_new_mem_buf(key_pem, (int)key_len);
	if (!bio)
		return ossl_err("reading a private key");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey) {
		ERR_clear_error();
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CRYPTO,
		        "%s: the private key is not a readable PEM key", what);
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_CRYPTO,
		        "%s: the private key is not an RSA key", what);
		goto done;
	}
	md = EVP_MD_CTX_new();
	if (!md ||
	        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	        EVP_DigestSign(md, NULL, &len, data, n) != 1) {
		rc = ossl_err("RSA signature");
		goto done;
	}
	if ((rc = astra__buf_grow(sig, len)))
		goto done;
	if (EVP_DigestSign(md, (unsigned char *)sig->ptr + sig->size, &len,
	            data, n) != 1) {
		rc = ossl_err("RSA signature");
		goto done;
	}
	sig->size += len;
	sig->ptr[sig->size] = '\0';
done:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return rc;
}
