/*
 * Credentials and signing of the azure:// store: the account, endpoint and
 * credentials resolved from the URL's options and the environment
 * (connection string, account key, SAS token), Shared Key signing
 * (HMAC-SHA256 over the canonicalised request) and service SAS signatures
 * for presigned URLs. Secrets never reach messages.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "store/azure.h"
#include "store/objhttp.h"

#define MAX_HEADERS ASTRA__AZURE_MAX_HEADERS
#define MAX_PARAMS ASTRA__AZURE_MAX_PARAMS

/* ------------------------------------------------------------------ */
/* Shared Key signing                                                  */
/* ------------------------------------------------------------------ */

/* "Sun, 22 Nov 2026 01:02:03 GMT" (30 bytes with the NUL). */
void astra__azure_rfc1123(char out[32], int64_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	        days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	        tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

typedef struct {
	const char *name, *value; /* value not encoded */
} az_param;

typedef struct {
	const char *name, *value;
} az_header;

static int cmp_param(const void *a, const void *b)
{
	return strcmp(((const az_param *)a)->name, ((const az_param *)b)->name);
}

static int cmp_header(const void *a, const void *b)
{
	return strcasecmp(
	        ((const az_header *)a)->name, ((const az_header *)b)->name);
}

static const char *hval(const az_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(h[i].name, name))
			return h[i].value;
	return "";
}

/*
 * The string to sign of "Authorize with Shared Key" (versions 2015-02-21
 * and later): the verb, eleven standard headers (Content-Length empty when
 * zero; Date empty: x-ms-date is used), the x-ms-* headers lowercased and
 * sorted, and the resource: "/account" + the encoded path, then each query
 * parameter as "\nname:value" (names lowercased and sorted, values decoded).
 */
int astra__azure_string_to_sign(astra_buf *out, const char *method,
        const char *const *headers, const char *account, const char *epath,
        const char *const *params)
{
	az_header h[MAX_HEADERS + 8];
	char names[MAX_HEADERS + 8][64];
	size_t nh = 0;
	for (size_t i = 0; headers && headers[i] && nh < MAX_HEADERS + 8; i++) {
		const char *c = strchr(headers[i], ':');
		if (!c || (size_t)(c - headers[i]) >= sizeof(names[0]))
			continue;
		size_t nl = (size_t)(c - headers[i]);
		for (size_t j = 0; j < nl; j++)
			names[nh][j] =
			        (char)tolower((unsigned char)headers[i][j]);
		names[nh][nl] = '\0';
		c++;
		while (*c == ' ' || *c == '\t')
			c++;
		h[nh].name = names[nh];
		h[nh].value = c;
		nh++;
	}
	const char *clen = hval(h, nh, "content-length");
	if (!strcmp(clen, "0"))
		clen = "";
	int rc = astra__buf_printf(out,
	        "%s\n%s\n%s\n%s\n%s\n%s\n\n%s\n%s\n%s\n%s\n%s\n", method,
	        hval(h, nh, "content-encoding"),
	        hval(h, nh, "content-language"), clen,
	        hval(h, nh, "content-md5"), hval(h, nh, "content-type"),
	        hval(h, nh, "if-modified-since"), hval(h, nh, "if-match"),
	        hval(h, nh, "if-none-match"),
	        hval(h, nh, "if-unmodified-since"), hval(h, nh, "range"));
	qsort(h, nh, sizeof(h[0]), cmp_header);
	for (size_t i = 0; i < nh && !rc; i++) {
		if (strncmp(h[i].name, "x-ms-", 5))
			continue;
		/* trimmed, inner runs of white space folded to one space */
		rc = astra__buf_printf(out, "%s:", h[i].name);
		const char *v = h[i].value;
		size_t vl = strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		int sp = 0;
		for (size_t j = 0; j < vl && !rc; j++) {
			if (v[j] == ' ' || v[j] == '\t') {
				sp = 1;
				continue;
			}
			if (sp)
				rc = astra__buf_putc(out, ' ');
			sp = 0;
			if (!rc)
				rc = astra__buf_putc(out, v[j]);
		}
		if (!rc)
			rc = astra__buf_putc(out, '\n');
	}
	if (!rc)
		rc = astra__buf_printf(out, "/%s%s", account, epath);
	az_param p[MAX_PARAMS];
	size_t np = 0;
	for (size_t i = 0; params && params[i] && np < MAX_PARAMS; i += 2) {
		p[np].name = params[i];
		p[np++].value = params[i + 1];
	}
	qsort(p, np, sizeof(p[0]), cmp_param);
	for (size_t i = 0; i < np && !rc; i++)
		rc = astra__buf_printf(out, "\n%s:%s", p[i].name, p[i].value);
	return rc;
}

int astra__azure_shared_key(const astra__azure_auth *a, const char *method,
        const char *const *lines, const char *epath, const char *const *params,
        astra_buf *out)
{
	astra_buf sts = ASTRA_BUF_INIT, sig64 = ASTRA_BUF_INIT;
	uint8_t mac[ASTRA_SHA256_LEN];
	int rc = astra__azure_string_to_sign(
	        &sts, method, lines, a->account, epath, params);
	if (!rc)
		rc = astra__mac_compute(a->key, sts.ptr, sts.size, mac);
	if (!rc)
		rc = astra__base64_encode(&sig64, mac, sizeof(mac));
	if (!rc)
		rc = astra__buf_printf(out, "Authorization: SharedKey %s:%s",
		        a->account, sig64.ptr);
	astra_buf_dispose(&sts);
	astra_buf_dispose(&sig64);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Service SAS                                                         */
/* ------------------------------------------------------------------ */

int astra__azure_sas_sig(const astra__azure_auth *a, const char *perm,
        const char *start, const char *expiry, const char *container,
        const char *blob_prefix, const char *key, astra_buf *sig)
{
	astra_buf sts = ASTRA_BUF_INIT;
	uint8_t mac[ASTRA_SHA256_LEN];
	/* signed fields of a service SAS, version 2020-12-06 and later */
	int rc = astra__buf_printf(&sts,
	        "%s\n%s\n%s\n/blob/%s/%s/%s%s\n\n\n\n%s\nb\n\n\n\n\n\n\n", perm,
	        start, expiry, a->account, container, blob_prefix, key,
	        ASTRA__AZURE_API_VERSION);
	if (!rc)
		rc = astra__mac_compute(a->key, sts.ptr, sts.size, mac);
	if (!rc)
		rc = astra__base64_encode(sig, mac, sizeof(mac));
	astra_buf_dispose(&sts);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Account, endpoint and credentials                                   */
/* ------------------------------------------------------------------ */

/* Value of `name` in a connection string ("k=v;k=v"), new string or NULL. */
static char *cs_get(const char *cs, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = cs; p && *p;) {
		while (*p == ';' || *p == ' ')
			p++;
		size_t len = strcspn(p, ";");
		if (len > nl && p[nl] == '=' && !strncasecmp(p, name, nl))
			return astra__strndup(p + nl + 1, len - nl - 1);
		p += len;
	}
	return NULL;
}

static int valid_account(const char *a)
{
	size_t n = strlen(a);
	if (n < 3 || n > 24)
		return 0;
	for (; *a; a++)
		if (!islower((unsigned char)*a) && !isdigit((unsigned char)*a))
			return 0;
	return 1;
}

static int set_endpoint(
        astra__azure_auth *s, const char *url, const char *ep, const char *what)
{
	const char *rest;
	if (!strncmp(ep, "http://", 7))
		rest = ep + 7;
	else if (!strncmp(ep, "https://", 8))
		rest = ep + 8;
	else
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: the blob endpoint %s (%s) must start "
		        "with http:// or https://",
		        url, ep, what);
	size_t hl = strcspn(rest, "/?#");
	if (!hl || memchr(rest, '@', hl) || strpbrk(rest, "?#"))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: the blob endpoint %s (%s) must be "
		        "scheme://host[:port][/path], without credentials or "
		        "a query",
		        url, ep, what);
	size_t pl = strlen(rest + hl);
	while (pl && rest[hl + pl - 1] == '/')
		pl--;
	free(s->ep_base);
	free(s->ep_path);
	s->ep_base = astra__strndup(ep, (size_t)(rest - ep) + hl);
	s->ep_path = astra__strndup(rest + hl, pl);
	return s->ep_base && s->ep_path ? 0 : ASTRA_ENOMEM;
}

static int set_key(astra__azure_auth *s, const char *b64, const char *what)
{
	astra_buf k = ASTRA_BUF_INIT;
	int rc = astra__base64_decode(&k, b64, strlen(b64));
	if (rc || !k.size) {
		astra_buf_dispose(&k);
		/* never the key itself */
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "the storage account key in %s is not valid base64",
		        what);
	}
	rc = astra__mac_new(&s->key, k.ptr, k.size);
	astra__wipe(k.ptr, k.size);
	astra_buf_dispose(&k);
	return rc;
}

static int set_sas(astra__azure_auth *s, const char *sas, const char *what)
{
	while (*sas == '?')
		sas++;
	if (!*sas || !strstr(sas, "sig="))
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "the SAS token in %s has no signature (sig=)", what);
	s->sas = astra__strdup(sas);
	return s->sas ? 0 : ASTRA_ENOMEM;
}

/*
 * Credentials and endpoint, in this order: the connection string
 * ($AZURE_STORAGE_CONNECTION_STRING: AccountName, AccountKey or
 * SharedAccessSignature, BlobEndpoint or DefaultEndpointsProtocol +
 * EndpointSuffix), the account key ($AZURE_STORAGE_KEY), the SAS token
 * ($AZURE_STORAGE_SAS_TOKEN). The account: ?account=, else
 * $AZURE_STORAGE_ACCOUNT, else the connection string's. The endpoint:
 * ?endpoint=, else the connection string's, else
 * https://ACCOUNT.blob.SUFFIX (?endpoint-suffix=, default core.windows.net).
 */
int astra__azure_auth_resolve(
        astra__azure_auth *s, const char *url, const astra__azure_auth_opts *o)
{
	const char *cs = astra__objhttp_env("AZURE_STORAGE_CONNECTION_STRING");
	char *cs_account = NULL, *cs_key = NULL, *cs_sas = NULL;
	char *cs_ep = NULL, *cs_suffix = NULL, *cs_proto = NULL;
	char *dev = NULL;
	int rc = 0;
	if (cs) {
		cs_account = cs_get(cs, "AccountName");
		cs_key = cs_get(cs, "AccountKey");
		cs_sas = cs_get(cs, "SharedAccessSignature");
		cs_ep = cs_get(cs, "BlobEndpoint");
		cs_suffix = cs_get(cs, "EndpointSuffix");
		cs_proto = cs_get(cs, "DefaultEndpointsProtocol");
		dev = cs_get(cs, "UseDevelopmentStorage");
		if (dev && !strcasecmp(dev, "true")) {
			/* the emulator's documented development account */
			free(cs_account);
			cs_account = astra__strdup("devstoreaccount1");
			if (!cs_key && !cs_sas)
				cs_key = astra__strdup(
				        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzF"
				        "T50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOt"
				        "r/KBHBeksoGMGw==");
			if (!cs_ep)
				cs_ep = astra__strdup("http://127.0.0.1:10000/"
				                      "devstoreaccount1");
		}
		if (!cs_key && !cs_sas) {
			rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "vault URL %s: AZURE_STORAGE_CONNECTION_STRING "
			        "has neither AccountKey nor "
			        "SharedAccessSignature",
			        url);
			goto done;
		}
	}
	const char *acc = o->account ? o->account
	                  : astra__objhttp_env("AZURE_STORAGE_ACCOUNT")
	                          ? astra__objhttp_env("AZURE_STORAGE_ACCOUNT")
	                          : cs_account;
	if (!acc) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: no storage account (give ?account=NAME, "
		        "$AZURE_STORAGE_ACCOUNT or a connection string)",
		        url);
		goto done;
	}
	if (cs && cs_account && strcmp(acc, cs_account) && cs_key) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: the storage account %s differs from the "
		        "connection string's %s",
		        url, acc, cs_account);
		goto done;
	}
	if (!valid_account(acc)) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: \"%s\" is not a valid storage account "
		        "name (3 to 24 lowercase letters and digits)",
		        url, acc);
		goto done;
	}
	if (!(s->account = astra__strdup(acc))) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	/* credentials */
	if (cs && cs_key) {
		rc = set_key(s, cs_key, "AZURE_STORAGE_CONNECTION_STRING");
		s->cred_source = "connection string (account key)";
	} else if (cs && cs_sas) {
		rc = set_sas(s, cs_sas, "AZURE_STORAGE_CONNECTION_STRING");
		s->cred_source = "connection string (SAS)";
	} else if (astra__objhttp_env("AZURE_STORAGE_KEY")) {
		rc = set_key(
		        s, getenv("AZURE_STORAGE_KEY"), "AZURE_STORAGE_KEY");
		s->cred_source = "AZURE_STORAGE_KEY";
	} else if (astra__objhttp_env("AZURE_STORAGE_SAS_TOKEN")) {
		rc = set_sas(s, getenv("AZURE_STORAGE_SAS_TOKEN"),
		        "AZURE_STORAGE_SAS_TOKEN");
		s->cred_source = "AZURE_STORAGE_SAS_TOKEN";
	} else {
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "vault URL %s: no credentials for storage account %s "
		        "(tried AZURE_STORAGE_CONNECTION_STRING, "
		        "AZURE_STORAGE_KEY and AZURE_STORAGE_SAS_TOKEN)",
		        url, acc);
	}
	if (rc)
		goto done;
	/* endpoint */
	if (o->endpoint) {
		rc = set_endpoint(s, url, o->endpoint, "endpoint=");
	} else if (cs_ep) {
		rc = set_endpoint(s, url, cs_ep, "BlobEndpoint");
	} else {
		const char *suffix = o->suffix   ? o->suffix
		                     : cs_suffix ? cs_suffix
		                                 : "core.windows.net";
		const char *proto = cs_proto && !strcasecmp(cs_proto, "http")
		                            ? "http"
		                            : "https";
		char *ep = astra__aprintf(
		        "%s://%s.blob.%s", proto, s->account, suffix);
		rc = ep ? set_endpoint(s, url, ep, "endpoint-suffix")
		        : ASTRA_ENOMEM;
		free(ep);
	}
done:
	if (cs_key)
		astra__wipe(cs_key, strlen(cs_key));
	if (cs_sas)
		astra__wipe(cs_sas, strlen(cs_sas));
	free(cs_account);
	free(cs_key);
	free(cs_sas);
	free(cs_ep);
	free(cs_suffix);
	free(cs_proto);
	free(dev);
	return rc;
}

void astra__azure_auth_free(astra__azure_auth *a)
{
	astra__mac_free(a->key);
	if (a->sas) {
		astra__wipe(a->sas, strlen(a->sas));
		free(a->sas);
	}
	free(a->account);
	free(a->ep_base);
	free(a->ep_path);
	memset(a, 0, sizeof(*a));
}
