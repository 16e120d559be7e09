/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define ALGO "AWS4-HMAC-SHA256"
#define MAX_HEADERS 64
#define MAX_PARAMS 128

void astra__sigv4_amz_date(char *out, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

int astra__sigv4_encode(astra_buf *b, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = astra__buf_grow(b, n * 3);
	if (rc)
		return rc;
	char *o = b->ptr + b->size;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	b->size = (size_t)(o - b->ptr);
	b->ptr[b->size] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into b ('+' is kept literally). */
static int decode(astra_buf *b, const char *s, size_t n)
{
	int rc = astra__buf_grow(b, n);
	if (rc)
		return rc;
	char *o = b->ptr + b->size;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
		        (l = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(h << 4 | l);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	b->size = (size_t)(o - b->ptr);
	b->ptr[b->size] = '\0';
	return 0;
}

/* ---- canonical parts ---- */

typedef struct {
	char *name; /* lower case */
	char *value; /* trimmed, whitespace runs collapsed */
	size_t order;
} hdr;

static int hdr_cmp(const void *a, const void *b)
{
	const hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int add_hdr(
        hdr *h, size_t *n, const char *name, size_t nlen, const char *value)
{
	if (*n >= MAX_HEADERS)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "too many headers to sign");
	hdr *e = &h[*n];
	e->name = astra__strndup(name, nlen);
	e->value = astra__malloc(strlen(value) + 1);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return ASTRA_ENOMEM;
	}
	for (char *p = e->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	/* trim and collapse whitespace runs (also folded lines) */
	const char *s = value;
	while (is_ws(*s))
		s++;
	char *o = e->value;
	while (*s) {
		if (is_ws(*s)) {
			while (is_ws(*s))
				s++;
			if (*s)
				*o++ = ' ';
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	e->order = *n;
	(*n)++;
	return 0;
}

static void free_hdrs(hdr *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		astra__free_secret_str(h[i].value);
	}
}

static int collect_headers(const astra__sigv4_req *req, hdr *h, size_t *n)
{
	*n = 0;
	for (const char *const *l = req->headers; l && *l; l++) {
		const char *colon = strchr(*l, ':');
		if (!colon || colon == *l)
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
			        "malformed header line to sign");
		size_t nl = (size_t)(colon - *l);
		while (nl && is_ws((*l)[nl - 1]))
			nl--;
		int rc = add_hdr(h, n, *l, nl, colon + 1);
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes "name:v1,v2\n" lines and the signed header list. */
static int canonical_headers(
        hdr *h, size_t n, astra_buf *creq, astra_buf *signed_names)
{
	qsort(h, n, sizeof(*h), hdr_cmp);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i && !strcmp(h[i].name, h[i - 1].name)) {
			rc = astra__buf_putc(creq, ',');
			if (!rc)
				rc = astra__buf_puts(creq, h[i].value);
			continue;
		}
		if (i)
			rc = astra__buf_putc(creq, '\n');
		if (!rc)
			rc = astra__buf_printf(
			        creq, "%s:%s", h[i].name, h[i].value);
		if (!rc && signed_names->size)
			rc = astra__buf_putc(signed_names, ';');
		if (!rc)
			rc = astra__buf_puts(signed_names, h[i].name);
	}
	if (!rc)
		rc = astra__buf_putc(creq, '\n');
	return rc;
}

typedef struct {
	char *k, *v; /* canonically encoded */
} param;

static int param_cmp(const void *a, const void *b)
{
	const param *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static int add_param(param *p, size_t *n, const char *k, size_t kl,
        const char *v, size_t vl, int raw)
{
	if (*n >= MAX_PARAMS)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "too many query parameters to sign");
	astra_buf dk = ASTRA_BUF_INIT, dv = ASTRA_BUF_INIT;
	astra_buf ek = ASTRA_BUF_INIT, ev = ASTRA_BUF_INIT;
	int rc = 0;
	if (raw) {
		rc = astra__buf_put(&dk, k, kl);
		if (!rc)
			rc = astra__buf_put(&dv, v, vl);
	} else {
		rc = decode(&dk, k, kl);
		if (!rc)
			rc = decode(&dv, v, vl);
	}
	if (!rc)
		rc = astra__sigv4_encode(&ek, dk.ptr ? dk.ptr : "", dk.size, 0);
	if (!rc)
		rc = astra__sigv4_encode(&ev, dv.ptr ? dv.ptr : "", dv.size, 0);
	if (!rc && !ek.ptr)
		rc = astra__buf_puts(&ek, "");
	if (!rc && !ev.ptr)
		rc = astra__buf_puts(&ev, "");
	astra_buf_dispose(&dk);
	astra_buf_dispose(&dv);
	if (rc) {
		astra_buf_dispose(&ek);
		astra_buf_dispose(&ev);
		return rc;
	}
	p[*n].k = astra__buf_detach(&ek);
	p[*n].v = astra__buf_detach(&ev);
	(*n)++;
	return 0;
}

static void free_params(param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].k);
		astra__free_secret_str(p[i].v);
	}
}

static int parse_query(const char *q, param *p, size_t *n)
{
	while (q && *q) {
		size_t len = strcspn(q, "&");
		if (len) {
			const char *eq = memchr(q, '=', len);
			int rc = eq ? add_param(p, n, q, (size_t)(eq - q),
			                      eq + 1,
			                      len - (size_t)(eq + 1 - q), 0)
			            : add_param(p, n, q, len, "", 0, 0);
			if (rc)
				return rc;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int canonical_query(param *p, size_t n, astra_buf *out)
{
	qsort(p, n, sizeof(*p), param_cmp);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = astra__buf_printf(
		        out, "%s%s=%s", i ? "&" : "", p[i].k, p[i].v);
	return rc;
}

/* RFC 3986 remove_dot_segments plus collapsing empty segments. */
static int normalize_path(const char *path, astra_buf *out)
{
	size_t len = strlen(path);
	const char **segs = astra__calloc(len + 1, sizeof(*segs));
	size_t *lens = astra__calloc(len + 1, sizeof(*lens));
	size_t ns = 0;
	int rc = 0, trailing = 0;
	if (!segs || !lens) {
		free(segs);
		free(lens);
		return ASTRA_ENOMEM;
	}
	const char *s = path;
	while (*s) {
		while (*s == '/')
			s++;
		size_t l = strcspn(s, "/");
		if (!l)
			break;
		trailing = s[l] == '/';
		if (l == 1 && s[0] == '.') {
			trailing = 1;
		} else if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (ns)
				ns--;
			trailing = 1;
		} else {
			segs[ns] = s;
			lens[ns++] = l;
		}
		s += l;
	}
	rc = astra__buf_putc(out, '/');
	for (size_t i = 0; i < ns && !rc; i++) {
		rc = astra__buf_put(out, segs[i], lens[i]);
		if (!rc && (i + 1 < ns || trailing))
			rc = astra__buf_putc(out, '/');
	}
	free(segs);
	free(lens);
	return rc;
}

static int canonical_uri(const astra__sigv4_req *req, astra_buf *creq)
{
	const char *path = req->path && *req->path ? req->path : "/";
	if (req->flags & ASTRA_SIGV4_NORMALIZE_PATH) {
		astra_buf norm = ASTRA_BUF_INIT;
		int rc = normalize_path(path, &norm);
		if (!rc)
			rc = astra__sigv4_encode(creq, norm.ptr, norm.size, 1);
		astra_buf_dispose(&norm);
		return rc;
	}
	return astra__sigv4_encode(creq, path, strlen(path), 1);
}

static int signing_key(const astra__aws_creds *c, const char *date,
        const char *region, const char *service, uint8_t key[32])
{
	size_t sl = strlen(c->secret_key);
	char *k = astra__malloc(sl + 5);
	if (!k)
		return ASTRA_ENOMEM;
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, c->secret_key, sl + 1);
	int rc = astra__hmac_sha256(k, sl + 4, date, strlen(date), key);
	astra__free_secret(k, sl + 5);
	if (!rc)
		rc = astra__hmac_sha256(key, 32, region, strlen(region), key);
	if (!rc)
		rc = astra__hmac_sha256(key, 32, service, strlen(service), key);
	if (!rc)
		rc = astra__hmac_sha256(key, 32, "aws4_request", 12, key);
	return rc;
}

static int check_req(const astra__sigv4_req *req, const astra__aws_creds *c)
{
	if (!req || !req->method || !req->region || !req->service || !c ||
	        !c->access_key || !c->secret_key)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "signing a request needs a method, region, service "
		        "and credentials");
	return 0;
}

/* The shared core: builds creq and sts, and computes the signature. */
static int sign_core(const astra__sigv4_req *req, const astra__aws_creds *c,
        param *params, size_t nparams, hdr *h, size_t nh, char *amzdate,
        astra_buf *signed_names, char sig_hex[65], astra_buf *creq_out,
        astra_buf *sts_out)
{
	astra_buf creq = ASTRA_BUF_INIT, sts = ASTRA_BUF_INIT;
	char date[9], scope[256];
	uint8_t digest[32], key[32], sig[32];
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date,
	        req->region, req->service);
	int rc = astra__buf_printf(&creq, "%s\n", req->method);
	if (!rc)
		rc = canonical_uri(req, &creq);
	if (!rc)
		rc = astra__buf_putc(&creq, '\n');
	if (!rc)
		rc = canonical_query(params, nparams, &creq);
	if (!rc)
		rc = astra__buf_putc(&creq, '\n');
	if (!rc)
		rc = canonical_headers(h, nh, &creq, signed_names);
	if (!rc)
		rc = astra__buf_printf(&creq, "\n%s\n%s",
		        signed_names->ptr ? signed_names->ptr : "",
		        req->payload_hash ? req->payload_hash
		                          : ASTRA_SIGV4_EMPTY_SHA256);
	if (!rc)
		rc = astra__sha256(creq.ptr, creq.size, digest);
	if (!rc)
		rc = astra__buf_printf(&sts, ALGO "\n%s\n%s\n", amzdate, scope);
	if (!rc)
		rc = astra__buf_put_hex(&sts, digest, sizeof(digest));
	if (!rc)
		rc = signing_key(c, date, req->region, req->service, key);
	if (!rc)
		rc = astra__hmac_sha256(
		        key, sizeof(key), sts.ptr, sts.size, sig);
	if (!rc)
		astra__hex_encode(sig_hex, sig, sizeof(sig));
	if (!rc && creq_out)
		rc = astra__buf_put(creq_out, creq.ptr, creq.size);
	if (!rc && sts_out)
		rc = astra__buf_put(sts_out, sts.ptr, sts.size);
	astra__wipe(key, sizeof(key));
	astra_buf_dispose(&creq);
	astra_buf_dispose(&sts);
	return rc;
}

int astra__sigv4_sign(const astra__sigv4_req *req, const astra__aws_creds *c,
        astra_buf *add, astra_buf *creq, astra_buf *sts)
{
	int rc = check_req(req, c);
	if (rc)
		return rc;
	hdr h[MAX_HEADERS];
	param p[MAX_PARAMS];
	size_t nh = 0, np = 0;
	char amzdate[17], sig[65];
	astra_buf names = ASTRA_BUF_INIT;
	const char *token =
	        c->session_token && *c->session_token ? c->session_token : NULL;
	const char *ph = req->payload_hash ? req->payload_hash
	                                   : ASTRA_SIGV4_EMPTY_SHA256;
	astra__sigv4_amz_date(amzdate, req->time);
	if ((rc = collect_headers(req, h, &nh)))
		goto done;
	if ((rc = add_hdr(h, &nh, "x-amz-date", 10, amzdate)))
		goto done;
	if ((req->flags & ASTRA_SIGV4_CONTENT_SHA256) &&
	        (rc = add_hdr(h, &nh, "x-amz-content-sha256", 20, ph)))
		goto done;
	if (token && !(req->flags & ASTRA_SIGV4_OMIT_TOKEN) &&
	        (rc = add_hdr(h, &nh, "x-amz-security-token", 20, token)))
		goto done;
	if ((rc = parse_query(req->query, p, &np)))
		goto done;
	if ((rc = sign_core(
	             req, c, p, np, h, nh, amzdate, &names, sig, creq, sts)))
		goto done;
	rc = astra__buf_printf(add, "X-Amz-Date: %s\n", amzdate);
	if (!rc && (req->flags & ASTRA_SIGV4_CONTENT_SHA256))
		rc = astra__buf_printf(add, "X-Amz-Content-Sha256: %s\n", ph);
	if (!rc && token)
		rc = astra__buf_printf(
		        add, "X-Amz-Security-Token: %s\n", token);
	if (!rc) {
		char date[9];
		memcpy(date, amzdate, 8);
		date[8] = '\0';
		rc = astra__buf_printf(add,
		        "Authorization: " ALGO " Credential=%s/%s/%s/%s/"
		        "aws4_request, SignedHeaders=%s, Signature=%s\n",
		        c->access_key, date, req->region, req->service,
		        names.ptr, sig);
	}
done:
	free_hdrs(h, nh);
	free_params(p, np);
	astra_buf_dispose(&names);
	return rc;
}

int astra__sigv4_presign(const astra__sigv4_req *req, const astra__aws_creds *c,
        unsigned expires, astra_buf *query_out, astra_buf *creq, astra_buf *sts)
{
	int rc = check_req(req, c);
	if (rc)
		return rc;
	if (expires < 1 || expires > 604800)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "a presigned URL expires after 1 to 604800 seconds, "
		        "not %u",
		        expires);
	hdr h[MAX_HEADERS];
	param p[MAX_PARAMS];
	size_t nh = 0, np = 0;
	char amzdate[17], sig[65], date[9], num[24];
	astra_buf names = ASTRA_BUF_INIT, cred = ASTRA_BUF_INIT;
	astra_buf names_probe = ASTRA_BUF_INIT;
	const char *token =
	        c->session_token && *c->session_token ? c->session_token : NULL;
	astra__sigv4_amz_date(amzdate, req->time);
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	if ((rc = collect_headers(req, h, &nh)))
		goto done;
	/* the signed header list goes into the query before signing */
	{
		hdr tmp[MAX_HEADERS];
		memcpy(tmp, h, nh * sizeof(*h));
		astra_buf scratch = ASTRA_BUF_INIT;
		rc = canonical_headers(tmp, nh, &scratch, &names_probe);
		astra_buf_dispose(&scratch);
		if (rc)
			goto done;
	}
	rc = astra__buf_printf(&cred, "%s/%s/%s/%s/aws4_request", c->access_key,
	        date, req->region, req->service);
	snprintf(num, sizeof(num), "%u", expires);
	if (!rc)
		rc = parse_query(req->query, p, &np);
	if (!rc)
		rc = add_param(
		        p, &np, "X-Amz-Algorithm", 15, ALGO, strlen(ALGO), 1);
	if (!rc)
		rc = add_param(
		        p, &np, "X-Amz-Credential", 16, cred.ptr, cred.size, 1);
	if (!rc)
		rc = add_param(p, &np, "X-Amz-Date", 10, amzdate, 16, 1);
	if (!rc)
		rc = add_param(
		        p, &np, "X-Amz-Expires", 13, num, strlen(num), 1);
	if (!rc && token && !(req->flags & ASTRA_SIGV4_OMIT_TOKEN))
		rc = add_param(p, &np, "X-Amz-Security-Token", 20, token,
		        strlen(token), 1);
	if (!rc)
		rc = add_param(p, &np, "X-Amz-SignedHeaders", 19,
		        names_probe.ptr ? names_probe.ptr : "",
		        names_probe.size, 1);
	if (rc)
		goto done;
	if ((rc = sign_core(
	             req, c, p, np, h, nh, amzdate, &names, sig, creq, sts)))
		goto done;
	/* sign_core sorted p: write it out as the URL's query */
	rc = canonical_query(p, np, query_out);
	if (!rc && token && (req->flags & ASTRA_SIGV4_OMIT_TOKEN)) {
		rc = astra__buf_puts(query_out, "&X-Amz-Security-Token=");
		if (!rc)
			rc = astra__sigv4_encode(
			        query_out, token, strlen(token), 0);
	}
	if (!rc)
		rc = astra__buf_printf(query_out, "&X-Amz-Signature=%s", sig);
done:
	free_hdrs(h, nh);
	free_params(p, np);
	astra_buf_dispose(&names);
	astra_buf_dispose(&names_probe);
	astra_buf_dispose(&cred);
	return rc;
}
