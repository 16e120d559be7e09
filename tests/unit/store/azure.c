/*
 * The Shared Key string to sign of the azure:// store (lib/store/azure.c),
 * checked against the reference's rules written out by hand, and its
 * signature against one computed by the test bed's independent client
 * (tests/testbed/azreq.py, python3 hmac). The whole signer is also checked
 * by Azurite's verification in tests/integration/azure.
 */
#include <stdio.h>
#include <string.h>

#include "astra_test.h"
#include "core/base64.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "store/azure.h"

static void signature(const astra_buf *sts, char *out, size_t n)
{
	uint8_t key[32], mac[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	cr_assert_astra_ok(
	        astra__hmac_sha256(key, sizeof(key), sts->ptr, sts->size, mac));
	astra_buf b = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__base64_encode(&b, mac, sizeof(mac)));
	snprintf(out, n, "%s", b.ptr);
	astra_buf_dispose(&b);
}

Test(store_azure, put_block_headers_query_and_emulator_path)
{
	const char *headers[] = { "x-ms-date: Sun, 22 Nov 2026 01:02:03 GMT",
		"x-ms-version: 2021-12-02", "Content-Length: 5",
		"Content-Type: application/octet-stream",
		"Content-MD5: XUFAKrxLKna5cZ2REBfFkg==",
		"x-ms-meta-b:  two   words ", "X-MS-Blob-Type: BlockBlob",
		"If-None-Match: *", NULL };
	const char *params[] = { "comp", "block", "blockid", "YWJj+/==", NULL };
	astra_buf sts = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__azure_string_to_sign(&sts, "PUT", headers,
	        "myaccount", "/myaccount/mycontainer/dir/a%20b", params));
	cr_assert_str_eq(sts.ptr,
	        "PUT\n\n\n5\nXUFAKrxLKna5cZ2REBfFkg==\napplication/"
	        "octet-stream\n\n\n\n*\n\n\n"
	        "x-ms-blob-type:BlockBlob\n"
	        "x-ms-date:Sun, 22 Nov 2026 01:02:03 GMT\n"
	        "x-ms-meta-b:two words\n"
	        "x-ms-version:2021-12-02\n"
	        "/myaccount/myaccount/mycontainer/dir/a%20b\n"
	        "blockid:YWJj+/==\ncomp:block");
	char sig[64];
	signature(&sts, sig, sizeof(sig));
	cr_assert_str_eq(sig, "9lou34U1iATw8IbJ+/xbHvPdJ5dLkw1YCOT8+KpUvzY=");
	astra_buf_dispose(&sts);
}

Test(store_azure, list_blobs_parameters_are_sorted)
{
	const char *headers[] = { "x-ms-version: 2021-12-02",
		"x-ms-date: Sun, 22 Nov 2026 01:02:03 GMT", NULL };
	const char *params[] = { "restype", "container", "comp", "list",
		"prefix", "a/b", "maxresults", "5000", NULL };
	astra_buf sts = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__azure_string_to_sign(
	        &sts, "GET", headers, "myaccount", "/mycontainer", params));
	cr_assert_str_eq(sts.ptr,
	        "GET\n\n\n\n\n\n\n\n\n\n\n\n"
	        "x-ms-date:Sun, 22 Nov 2026 01:02:03 GMT\n"
	        "x-ms-version:2021-12-02\n"
	        "/myaccount/mycontainer\n"
	        "comp:list\nmaxresults:5000\nprefix:a/b\nrestype:container");
	char sig[64];
	signature(&sts, sig, sizeof(sig));
	cr_assert_str_eq(sig, "vhYOwQdvUy8aXfuW88IE1b07RNkllt44VVgOZvfbhKU=");
	astra_buf_dispose(&sts);
}

Test(store_azure, a_zero_content_length_is_signed_empty)
{
	const char *headers[] = { "Content-Length: 0",
		"Content-Type: application/octet-stream", NULL };
	const char *params[] = { "comp", "immutabilityPolicies", NULL };
	astra_buf sts = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__azure_string_to_sign(
	        &sts, "PUT", headers, "acct", "/c/k", params));
	cr_assert_str_eq(sts.ptr,
	        "PUT\n\n\n\n\napplication/octet-stream\n\n\n\n\n\n\n"
	        "/acct/c/k\ncomp:immutabilityPolicies");
	astra_buf_dispose(&sts);
}

/* The service SAS signature of a presigned URL: HMAC-SHA256 of the signed
 * fields with the account key, checked against Python's hmac module. */
Test(store_azure, service_sas_signature)
{
	static const char key64[] = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uS"
	                            "RZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeks"
	                            "oGMGw==";
	astra_buf k = ASTRA_BUF_INIT, sig = ASTRA_BUF_INIT;
	cr_assert_astra_ok(astra__base64_decode(&k, key64, strlen(key64)));
	astra__azure_auth a = { 0 };
	char account[] = "devstoreaccount1";
	a.account = account;
	cr_assert_astra_ok(astra__mac_new(&a.key, k.ptr, k.size));
	cr_assert_astra_ok(astra__azure_sas_sig(&a, "r", "2026-11-22T01:00:00Z",
	        "2026-11-22T02:00:00Z", "vault", "pre/", "data/ab", &sig));
	cr_assert_eq(sig.size, 44);
	cr_assert(!memcmp(sig.ptr,
	                  "alxUUzAwJ+Wej027Bht/BbaRTXXBmg9gZt3Z7TX/PIs=", 44),
	        "%.*s", (int)sig.size, sig.ptr);
	astra__mac_free(a.key);
	astra_buf_dispose(&k);
	astra_buf_dispose(&sig);
}
