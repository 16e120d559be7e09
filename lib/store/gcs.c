/*
 * gs:// store: objects in a Google Cloud Storage bucket under a prefix,
 * through the JSON API (storage/v1 and upload/storage/v1) over lib/net.
 *
 *   gs://bucket[/prefix][?option=value&...]
 *
 * Options (docs/gcs.md): endpoint, auth (auto|none|token|service-account|
 * user), credentials (a key file), token-file, scope, ca, insecure-tls,
 * proxy, resumable-threshold and chunk-size (MiB), timeout, retries,
 * retry-budget.
 *
 * Why the JSON API: it is what Google documents as the primary API, it is
 * what the local emulator (fake-gcs-server) implements fully (its XML API
 * only lists and downloads), and it carries everything a vault needs in
 * one form: OAuth 2.0 bearer tokens, generation preconditions
 * (ifGenerationMatch=0 for create-if-absent), object retention and holds
 * in the object resource, resumable uploads, and bucket metadata
 * (versioning, retention policy, object retention) in one GET. HMAC keys
 * only work with the XML API and are not supported by this backend.
 *
 * Credentials: an OAuth 2.0 access token from a service-account key (a JWT
 * signed with RS256 in lib/crypto, exchanged at the key's token_uri), from
 * an authorized-user file (refresh token), or given as is; cached and
 * refreshed five minutes before expiry or after a 401. Or none, for
 * emulators.
 *
 * Every request is retried by the HTTP client (5xx, 429, resets,
 * timeouts) inside the retry budget. Resumable uploads resume from the
 * offset the service confirms after a failed chunk.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/gcs.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "fmt/json.h"
#include "net/http.h"
#include "store/awscreds.h"
#include "store/objhttp.h"
#include "store/store.h"
#include "store/url.h"

#define MIB ((size_t)1 << 20)
#define LIST_PAGE 1000
#define TOKEN_LIFETIME 3600
#define TOKEN_MARGIN 300 /* refresh this many seconds before expiry */
#define RESUME_TRIES 6
#define DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define SCOPE_RW "https://www.googleapis.com/auth/devstorage.read_write"
#define SCOPE_FULL "https://www.googleapis.com/auth/devstorage.full_control"

enum { AUTH_AUTO, AUTH_NONE, AUTH_TOKEN, AUTH_SA, AUTH_USER };

/* ------------------------------------------------------------------ */
/* Pure logic (gcs.h)                                                  */
/* ------------------------------------------------------------------ */

int astra__gcs_b64url(astra_buf *out, const void *data, size_t n)
{
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__base64_encode(&b, data, n);
	if (rc)
		return rc;
	size_t len = b.size;
	while (len && b.ptr[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (b.ptr[i] == '+')
			b.ptr[i] = '-';
		else if (b.ptr[i] == '/')
			b.ptr[i] = '_';
	}
	rc = astra__buf_put(out, b.ptr ? b.ptr : "", len);
	astra_buf_dispose(&b);
	return rc;
}

int astra__gcs_jwt(const char *email, const char *key_id, const char *key_pem,
        size_t key_len, const char *scope, const char *aud, int64_t now,
        unsigned lifetime, astra_buf *out)
{
	astra__json *h = astra__json_new_object();
	astra__json *c = astra__json_new_object();
	char *hs = NULL, *cs = NULL;
	astra_buf input = ASTRA_BUF_INIT, sig = ASTRA_BUF_INIT;
	int rc = h && c ? 0 : ASTRA_ENOMEM;
	if (!rc)
		rc = astra__json_set_str(h, "alg", "RS256");
	if (!rc)
		rc = astra__json_set_str(h, "typ", "JWT");
	if (!rc && key_id && *key_id)
		rc = astra__json_set_str(h, "kid", key_id);
	if (!rc)
		rc = astra__json_set_str(c, "iss", email);
	if (!rc)
		rc = astra__json_set_str(c, "scope", scope);
	if (!rc)
		rc = astra__json_set_str(c, "aud", aud);
	if (!rc)
		rc = astra__json_set_int(c, "iat", now);
	if (!rc)
		rc = astra__json_set_int(c, "exp", now + (int64_t)lifetime);
	if (!rc)
		rc = astra__json_print(&hs, h, 0);
	if (!rc)
		rc = astra__json_print(&cs, c, 0);
	if (!rc)
		rc = astra__gcs_b64url(&input, hs, strlen(hs));
	if (!rc)
		rc = astra__buf_putc(&input, '.');
	if (!rc)
		rc = astra__gcs_b64url(&input, cs, strlen(cs));
	if (!rc)
		rc = astra__rsa_sha256_sign(key_pem, key_len, input.ptr,
		        input.size, &sig, "service account key");
	if (!rc)
		rc = astra__buf_put(out, input.ptr, input.size);
	if (!rc)
		rc = astra__buf_putc(out, '.');
	if (!rc)
		rc = astra__gcs_b64url(out, sig.ptr, sig.size);
	astra__json_free(h);
	astra__json_free(c);
	free(hs);
	free(cs);
	astra_buf_dispose(&input);
	astra_buf_dispose(&sig);
	return rc;
}

/* A JSON member that is a decimal string (GCS sends int64 as strings) or
 * a number; `def` when absent. */
static int json_i64(
        const astra__json *o, const char *k, int64_t def, int64_t *out)
{
	const astra__json *v = astra__json_get(o, k);
	*out = def;
	if (!v)
		return 0;
	if (astra__json_type_of(v) == ASTRA_JSON_NUMBER) {
		*out = (int64_t)astra__json_number_value(v);
		return 0;
	}
	const char *s = astra__json_string_value(v);
	if (!s || !*s)
		return ASTRA_EPARSE;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (*end || errno)
		return ASTRA_EPARSE;
	*out = (int64_t)x;
	return 0;
}

int astra__gcs_parse_bucket(const astra__json *b, astra__gcs_bucket *out)
{
	memset(out, 0, sizeof(*out));
	const astra__json *v = astra__json_get(b, "versioning");
	out->versioning = v && astra__json_bool(v, "enabled", 0);
	const astra__json *orr = astra__json_get(b, "objectRetention");
	const char *mode = orr ? astra__json_str(orr, "mode") : NULL;
	out->object_retention = mode && !strcmp(mode, "Enabled");
	const astra__json *rp = astra__json_get(b, "retentionPolicy");
	if (rp) {
		if (json_i64(
		            rp, "retentionPeriod", 0, &out->retention_period) ||
		        out->retention_period < 0)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
			        "the bucket's retentionPolicy.retentionPeriod "
			        "is not a number of seconds");
		out->retention_locked = astra__json_bool(rp, "isLocked", 0);
	}
	return 0;
}

int astra__gcs_parse_object(
        const astra__json *o, astra__obj_info *info, int64_t *generation)
{
	memset(info, 0, sizeof(*info));
	int64_t size, t;
	if (!astra__json_get(o, "size") || json_i64(o, "size", 0, &size) ||
	        size < 0)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
		        "an object resource has no valid size");
	info->size = (uint64_t)size;
	const char *upd = astra__json_str(o, "updated");
	if (upd && astra__aws_parse_time(upd, &t) == 0)
		info->mtime_ns = t * 1000000000LL;
	const astra__json *r = astra__json_get(o, "retention");
	if (r) {
		const char *until = astra__json_str(r, "retainUntilTime");
		const char *mode = astra__json_str(r, "mode");
		if (until && astra__aws_parse_time(until, &t) == 0)
			info->retain_until = t;
		if (mode && !strcmp(mode, "Locked"))
			info->lock_mode = ASTRA_STORE_LOCK_COMPLIANCE;
		else if (mode && !strcmp(mode, "Unlocked"))
			info->lock_mode = ASTRA_STORE_LOCK_GOVERNANCE;
	}
	const char *rexp = astra__json_str(o, "retentionExpirationTime");
	if (rexp && astra__aws_parse_time(rexp, &t) == 0 &&
	        t > info->retain_until) {
		info->retain_until = t;
		if (!info->lock_mode)
			info->lock_mode = ASTRA_STORE_LOCK_COMPLIANCE;
	}
	info->legal_hold = astra__json_bool(o, "temporaryHold", 0) ||
	                   astra__json_bool(o, "eventBasedHold", 0);
	astra_error_clear();
	if (generation && json_i64(o, "generation", 0, generation))
		*generation = 0;
	return 0;
}

void astra__gcs_parse_error(const char *body, size_t n, astra__gcs_err *e)
{
	memset(e, 0, sizeof(*e));
	if (!body || !n)
		return;
	astra__json *doc = NULL;
	if (astra__json_parse(&doc, body, n, "error response")) {
		astra_error_clear();
		/* a plain-text body: keep its first line as the message */
		size_t l = 0;
		while (l < n && l < sizeof(e->message) - 1 && body[l] != '\n' &&
		        body[l] != '\r' && (unsigned char)body[l] >= 0x20)
			l++;
		memcpy(e->message, body, l);
		e->message[l] = '\0';
		return;
	}
	const astra__json *err = astra__json_get(doc, "error");
	if (err && astra__json_type_of(err) == ASTRA_JSON_OBJECT) {
		const char *m = astra__json_str(err, "message");
		const astra__json *errs = astra__json_get(err, "errors");
		const astra__json *first =
		        errs ? astra__json_first(errs) : NULL;
		const char *r = first ? astra__json_str(first, "reason") : NULL;
		if (!r)
			r = astra__json_str(err, "status");
		if (r)
			snprintf(e->reason, sizeof(e->reason), "%s", r);
		if (m)
			snprintf(e->message, sizeof(e->message), "%s", m);
	} else if (err && astra__json_type_of(err) == ASTRA_JSON_STRING) {
		/* OAuth 2.0 token endpoint: {"error": "invalid_grant", ...} */
		const char *d = astra__json_str(doc, "error_description");
		snprintf(e->reason, sizeof(e->reason), "%s",
		        astra__json_string_value(err));
		if (d)
			snprintf(e->message, sizeof(e->message), "%s", d);
	}
	astra__json_free(doc);
}

static int contains_ci(const char *s, const char *w)
{
	size_t n = strlen(w);
	for (; *s; s++)
		if (!strncasecmp(s, w, n))
			return 1;
	return 0;
}

/* GCS reasons, then statuses, to astra codes (tried in order), after the
 * retention refusals. */
static const astra__objhttp_rule gcs_rules[] = {
	{ ASTRA_EAUTH,
	        "authError|invalid_grant|invalid_client|unauthorized_client",
	        401, 401, 0 },
	{ ASTRA_EAUTH, NULL, 403, 403, 0 },
	{ ASTRA_ENOTFOUND, NULL, 404, 404, 0 },
	{ ASTRA_EEXISTS, "conditionNotMet", 412, 412, 0 },
	{ ASTRA_ECONFLICT, NULL, 409, 409, 0 },
	{ ASTRA_ECORRUPT, NULL, 416, 416, 0 },
	{ ASTRA_ENET, "rateLimitExceeded", 429, 429, 0 },
	{ ASTRA_ENET, NULL, 500, 999, 0 },
	{ ASTRA_ENOSPACE, "quotaExceeded", 413, 413, 0 },
	{ ASTRA_EINVALID, NULL, 400, 400, 0 },
	{ 0, NULL, 0, 0, 0 },
};

int astra__gcs_error_code(long st, const astra__gcs_err *e)
{
	if (!strcmp(e->reason, "retentionPolicyNotMet") ||
	        (st == 403 && (contains_ci(e->message, "retention") ||
	                              contains_ci(e->message, "hold"))))
		return ASTRA_EPOLICY;
	return astra__objhttp_classify(gcs_rules, st, e->reason);
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
	astra__store base;
	char *bucket;
	char *prefix; /* "" or "dir/sub/" */
	char *endpoint; /* scheme://host[:port], no trailing '/' */
	char *bucket_path; /* endpoint + "/storage/v1/b/" + bucket */
	astra__http *http;
	size_t resumable_threshold, chunk;
	astra__gcs_bucket binfo;
	/* credentials */
	int auth;
	char source[300]; /* where the credentials came from */
	char *email, *key_id, *token_uri, *scope;
	char *secret; /* private key PEM, refresh token, or the token */
	size_t secret_len;
	char *client_id, *client_secret;
	astra__http *token_http; /* for the token endpoint */
	pthread_mutex_t mu;
	char *token; /* cached access token */
	int64_t token_expiry; /* Unix seconds */
} gcs_store;

typedef struct {
	char *endpoint, *auth, *credentials, *token_file, *scope;
	astra__objhttp_net net; /* ca, proxy, insecure-tls, timeouts, retries */
	long threshold_mib, chunk_mib;
} gcs_opts;

static const astra__url_opt gcs_opt_list[] = {
	ASTRA__URL_STR("endpoint", gcs_opts, endpoint,
	        "the JSON API endpoint (scheme://host[:port])"),
	ASTRA__URL_STR("auth", gcs_opts, auth,
	        "auto, none, token, service-account or user"),
	ASTRA__URL_STR("credentials", gcs_opts, credentials,
	        "a service-account or authorized-user key file"),
	ASTRA__URL_STR("token-file", gcs_opts, token_file,
	        "a file holding an OAuth 2.0 access token"),
	ASTRA__URL_STR("scope", gcs_opts, scope,
	        "read-write, full-control or an https:// scope URL"),
	ASTRA__OBJHTTP_OPT_CA(gcs_opts),
	ASTRA__OBJHTTP_OPT_INSECURE(gcs_opts),
	ASTRA__OBJHTTP_OPT_PROXY(gcs_opts),
	ASTRA__URL_LONG("resumable-threshold", gcs_opts, threshold_mib, 1, 5120,
	        "uploads above this many MiB are resumable"),
	ASTRA__URL_LONG("chunk-size", gcs_opts, chunk_mib, 1, 1024,
	        "resumable upload chunk size, MiB"),
	ASTRA__OBJHTTP_OPT_TIMEOUT(gcs_opts),
	ASTRA__OBJHTTP_OPT_RETRIES(gcs_opts),
	ASTRA__OBJHTTP_OPT_BUDGET(gcs_opts),
	ASTRA__URL_END,
};

static const astra__url_opt_table gcs_options = { gcs_opt_list, NULL };

static int parse_opts(const char *url, const char *q, gcs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threshold_mib = 32;
	o->chunk_mib = 16;
	astra__objhttp_net_init(&o->net);
	return astra__url_opts_parse(url, q, &gcs_options, o);
}

/* Reads a small file (credentials): at most 1 MiB. */
static int read_small(
        const char *path, const char *what, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "%s %s: cannot open: %s", what, path, strerror(errno));
	astra_buf b = ASTRA_BUF_INIT;
	char tmp[4096];
	size_t got;
	int rc = 0;
	while (!rc && (got = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (b.size + got > MIB)
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
			        "%s %s: larger than 1 MiB", what, path);
		else
			rc = astra__buf_put(&b, tmp, got);
	}
	if (!rc && ferror(f))
		rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
		        "%s %s: read error", what, path);
	astra__wipe(tmp, sizeof(tmp));
	fclose(f);
	if (!rc && !b.ptr)
		rc = astra__buf_grow(&b, 0);
	if (rc) {
		astra_buf_dispose(&b);
		return rc;
	}
	*len = b.size;
	*out = astra__buf_detach(&b);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Credentials                                                         */
/* ------------------------------------------------------------------ */

static int form_put(astra_buf *b, const char *k, const char *v)
{
	int rc = b->size ? astra__buf_putc(b, '&') : 0;
	if (!rc)
		rc = astra__buf_printf(b, "%s=", k);
	return rc ? rc : astra__http_escape(b, v);
}

/* Exchanges a JWT or a refresh token for an access token; mu is held. */
static int fetch_token(gcs_store *s)
{
	astra_buf form = ASTRA_BUF_INIT, jwt = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	int64_t now = astra__wall_ns() / 1000000000LL;
	int rc = 0;
	if (s->auth == AUTH_SA) {
		rc = astra__gcs_jwt(s->email, s->key_id, s->secret,
		        s->secret_len, s->scope, s->token_uri, now,
		        TOKEN_LIFETIME, &jwt);
		if (!rc)
			rc = form_put(&form, "grant_type",
			        "urn:ietf:params:oauth:grant-type:jwt-bearer");
		if (!rc)
			rc = form_put(&form, "assertion", jwt.ptr);
	} else {
		rc = form_put(&form, "grant_type", "refresh_token");
		if (!rc)
			rc = form_put(&form, "client_id", s->client_id);
		if (!rc)
			rc = form_put(&form, "client_secret", s->client_secret);
		if (!rc)
			rc = form_put(&form, "refresh_token", s->secret);
	}
	if (rc)
		goto done;
	const char *hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json", NULL
	};
	astra__http_request req = { 0 };
	req.method = "POST";
	req.url = s->token_uri;
	req.headers = hdrs;
	req.body = form.ptr;
	req.body_len = form.size;
	req.max_body = 1 << 20;
	req.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if ((rc = astra__http_do(s->token_http, &req, &resp))) {
		astra__err_prefix(
		        rc, "getting an access token from %s", s->token_uri);
		goto done;
	}
	if (resp.status != 200) {
		astra__gcs_err e;
		astra__gcs_parse_error(resp.body.ptr, resp.body.size, &e);
		rc = astra__err(resp.status >= 500 || resp.status == 429
		                        ? ASTRA_ENET
		                        : ASTRA_EAUTH,
		        ASTRA_ERROR_STORE,
		        "getting an access token for %s from %s failed: %s%s%s "
		        "(HTTP %ld)",
		        s->source, s->token_uri,
		        e.reason[0] ? e.reason : "no error code",
		        e.message[0] ? ": " : "", e.message, resp.status);
		goto done;
	}
	if ((rc = astra__json_parse(
	             &doc, resp.body.ptr, resp.body.size, "token response"))) {
		astra__err_prefix(rc, "token endpoint %s", s->token_uri);
		goto done;
	}
	const char *tok = astra__json_str(doc, "access_token");
	int64_t ttl = astra__json_int(doc, "expires_in", 3600);
	if (!tok || !*tok) {
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "the token endpoint %s returned no access_token",
		        s->token_uri);
		goto done;
	}
	astra__free_secret_str(s->token);
	s->token = astra__strdup(tok);
	if (!s->token) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	s->token_expiry = now + ttl;
	astra__log_debug("gcs: access token for %s valid for %lld s", s->source,
	        (long long)ttl);
done:
	if (doc) {
		/* the parsed copy of the token is freed with the document */
		astra__json_free(doc);
	}
	astra_buf_dispose(&form);
	astra_buf_dispose(&jwt);
	astra__http_response_dispose(&resp);
	return rc;
}

/* astra__http_auth_fn */
static int auth_line(void *payload, int refresh, char **line)
{
	gcs_store *s = payload;
	*line = NULL;
	if (s->auth == AUTH_NONE)
		return 0;
	if (s->auth == AUTH_TOKEN) {
		if (refresh)
			return 0; /* nothing new to offer */
		*line = astra__aprintf("Authorization: Bearer %s", s->secret);
		return *line ? 0 : ASTRA_ENOMEM;
	}
	int rc = 0, fresh = 0;
	pthread_mutex_lock(&s->mu);
	int64_t now = astra__wall_ns() / 1000000000LL;
	if (refresh || !s->token || now + TOKEN_MARGIN >= s->token_expiry) {
		rc = fetch_token(s);
		fresh = 1;
	}
	if (!rc) {
		*line = astra__aprintf("Authorization: Bearer %s", s->token);
		if (!*line)
			rc = ASTRA_ENOMEM;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	return refresh ? fresh : 0;
}

/* Loads a key file: service_account or authorized_user. */
static int load_key_file(gcs_store *s, const char *path, const char *origin)
{
	char *text = NULL;
	size_t len = 0;
	astra__json *doc = NULL;
	int rc = read_small(path, "credentials file", &text, &len);
	if (rc)
		return rc;
	if ((rc = astra__json_parse(&doc, text, len, path))) {
		/* the parser's message names a byte offset, not the text */
		goto done;
	}
	const char *type = astra__json_str(doc, "type");
	if (type && !strcmp(type, "service_account")) {
		const char *email = astra__json_str(doc, "client_email");
		const char *key = astra__json_str(doc, "private_key");
		const char *kid = astra__json_str(doc, "private_key_id");
		const char *uri = astra__json_str(doc, "token_uri");
		if (!email || !key || !*key) {
			rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "credentials file %s: a service_account key "
			        "needs client_email and private_key",
			        path);
			goto done;
		}
		s->auth = AUTH_SA;
		s->email = astra__strdup(email);
		s->key_id = kid ? astra__strdup(kid) : NULL;
		s->token_uri = astra__strdup(uri ? uri : DEFAULT_TOKEN_URI);
		s->secret = astra__strdup(key);
		s->secret_len = strlen(key);
		if (!s->email || !s->token_uri || !s->secret ||
		        (kid && !s->key_id))
			rc = ASTRA_ENOMEM;
		snprintf(s->source, sizeof(s->source),
		        "service account %s (%s %s)", email, origin, path);
	} else if (type && !strcmp(type, "authorized_user")) {
		const char *id = astra__json_str(doc, "client_id");
		const char *sec = astra__json_str(doc, "client_secret");
		const char *ref = astra__json_str(doc, "refresh_token");
		const char *uri = astra__json_str(doc, "token_uri");
		if (!id || !sec || !ref) {
			rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "credentials file %s: authorized_user "
			        "credentials need client_id, client_secret "
			        "and refresh_token",
			        path);
			goto done;
		}
		s->auth = AUTH_USER;
		s->client_id = astra__strdup(id);
		s->client_secret = astra__strdup(sec);
		s->secret = astra__strdup(ref);
		s->secret_len = strlen(ref);
		s->token_uri = astra__strdup(uri ? uri : DEFAULT_TOKEN_URI);
		if (!s->client_id || !s->client_secret || !s->secret ||
		        !s->token_uri)
			rc = ASTRA_ENOMEM;
		snprintf(s->source, sizeof(s->source),
		        "authorized user (%s %s)", origin, path);
	} else {
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "credentials file %s: type \"%s\" is not supported "
		        "(service_account, authorized_user)",
		        path, type ? type : "(none)");
	}
done:
	astra__json_free(doc);
	astra__free_secret(text, len);
	return rc;
}

static int load_token_file(gcs_store *s, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_small(path, "token file", &text, &len);
	if (rc)
		return rc;
	while (len && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	if (!len) {
		astra__free_secret(text, 1);
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "token file %s is empty", path);
	}
	s->auth = AUTH_TOKEN;
	s->secret = text;
	s->secret_len = len;
	snprintf(s->source, sizeof(s->source), "the access token in %s", path);
	return 0;
}

/*
 * The credential chain (docs/gcs.md): auth=none; a token (token-file=,
 * $GOOGLE_OAUTH_ACCESS_TOKEN); a key file (credentials=,
 * $GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default
 * credentials); none when $STORAGE_EMULATOR_HOST is set.
 */
static int setup_auth(gcs_store *s, const gcs_opts *o, int emulator)
{
	const char *mode = o->auth ? o->auth : "auto";
	const char *tok_env = astra__objhttp_env("GOOGLE_OAUTH_ACCESS_TOKEN");
	const char *cred =
	        o->credentials
	                ? o->credentials
	                : astra__objhttp_env("GOOGLE_APPLICATION_CREDENTIALS");
	const char *origin = o->credentials ? "credentials="
	                                    : "$GOOGLE_"
	                                      "APPLICATION_"
	                                      "CREDENTIALS";
	if (!strcmp(mode, "none")) {
		s->auth = AUTH_NONE;
		snprintf(s->source, sizeof(s->source), "no credentials");
		return 0;
	}
	if (!strcmp(mode, "token")) {
		if (o->token_file)
			return load_token_file(s, o->token_file);
		if (!tok_env)
			return astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "auth=token needs token-file= or "
			        "$GOOGLE_OAUTH_ACCESS_TOKEN");
		s->auth = AUTH_TOKEN;
		s->secret = astra__strdup(tok_env);
		s->secret_len = strlen(tok_env);
		snprintf(s->source, sizeof(s->source),
		        "$GOOGLE_OAUTH_ACCESS_TOKEN");
		return s->secret ? 0 : ASTRA_ENOMEM;
	}
	if (!strcmp(mode, "service-account") || !strcmp(mode, "user")) {
		if (!cred)
			return astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "auth=%s needs credentials= or "
			        "$GOOGLE_APPLICATION_CREDENTIALS",
			        mode);
		int rc = load_key_file(s, cred, origin);
		if (!rc &&
		        s->auth != (strcmp(mode, "user") ? AUTH_SA : AUTH_USER))
			rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "credentials file %s is not of the type "
			        "auth=%s expects",
			        cred, mode);
		return rc;
	}
	if (strcmp(mode, "auto"))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "auth must be auto, none, token, service-account or "
		        "user, not \"%s\"",
		        mode);
	if (o->token_file)
		return load_token_file(s, o->token_file);
	if (tok_env) {
		s->auth = AUTH_TOKEN;
		s->secret = astra__strdup(tok_env);
		s->secret_len = strlen(tok_env);
		snprintf(s->source, sizeof(s->source),
		        "$GOOGLE_OAUTH_ACCESS_TOKEN");
		return s->secret ? 0 : ASTRA_ENOMEM;
	}
	if (cred)
		return load_key_file(s, cred, origin);
	/* gcloud auth application-default login */
	char *adc = NULL;
	const char *cfg = astra__objhttp_env("CLOUDSDK_CONFIG");
	const char *home = astra__objhttp_env("HOME");
	if (cfg)
		adc = astra__aprintf(
		        "%s/application_default_credentials.json", cfg);
	else if (home)
		adc = astra__aprintf("%s/.config/gcloud/"
		                     "application_default_credentials.json",
		        home);
	struct stat st;
	if (adc && stat(adc, &st) == 0) {
		int rc = load_key_file(s, adc, "gcloud application default");
		free(adc);
		return rc;
	}
	if (emulator) {
		free(adc);
		s->auth = AUTH_NONE;
		snprintf(s->source, sizeof(s->source),
		        "no credentials ($STORAGE_EMULATOR_HOST)");
		return 0;
	}
	int rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
	        "no Google Cloud credentials: tried token-file=, "
	        "$GOOGLE_OAUTH_ACCESS_TOKEN, credentials=, "
	        "$GOOGLE_APPLICATION_CREDENTIALS and %s (give auth=none for "
	        "an emulator without authentication)",
	        adc ? adc : "gcloud's application default credentials");
	free(adc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static char *full_key(gcs_store *s, const char *key)
{
	return astra__aprintf("%s%s", s->prefix, key);
}

/* endpoint/storage/v1/b/BUCKET/o/ENCODED-NAME */
static int object_url(gcs_store *s, const char *key, astra_buf *url)
{
	char *fk = full_key(s, key);
	if (!fk)
		return ASTRA_ENOMEM;
	int rc = astra__buf_printf(url, "%s/o/", s->bucket_path);
	if (!rc)
		rc = astra__http_escape(url, fk);
	free(fk);
	return rc;
}

/* Maps a failed response to an astra error naming op, object and cause. */
static int gcs_fail(gcs_store *s, const astra__http_response *resp,
        const char *method, const char *key)
{
	astra__gcs_err e;
	astra__gcs_parse_error(resp->body.ptr, resp->body.size, &e);
	long st = resp->status;
	int code = astra__gcs_error_code(st, &e);
	if (code == ASTRA_ENOTFOUND && !key)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_STORE,
		        "bucket %s does not exist at %s (%s, HTTP 404)",
		        s->bucket, s->endpoint,
		        e.reason[0] ? e.reason : "notFound");
	if (code == ASTRA_EAUTH)
		return astra__err(code, ASTRA_ERROR_STORE,
		        "GCS %s %s in bucket %s was refused with the "
		        "credentials of %s: %s%s%s (HTTP %ld)",
		        method, key ? key : "(bucket)", s->bucket, s->source,
		        e.reason[0] ? e.reason : "no reason given",
		        e.message[0] ? ": " : "", e.message, st);
	char where[320];
	snprintf(where, sizeof(where), "bucket %s", s->bucket);
	astra__objhttp_failure f = { 0 };
	f.service = "GCS";
	f.op = method;
	f.key = key;
	f.whole = "(bucket)";
	f.where = where;
	f.code = e.reason;
	f.no_code = "no reason given";
	f.absent = "notFound";
	f.message = e.message;
	f.request_id = NULL; /* GCS errors carry none */
	return astra__objhttp_fail(code, resp, &f);
}

typedef struct {
	const char *method;
	const char *url;
	const char *headers[8];
	const void *body;
	size_t body_len;
	const astra__http_reader *reader;
	size_t max_body;
	int retry;
} gcs_req;

static int gcs_send(gcs_store *s, const gcs_req *r, astra__http_response *resp)
{
	astra__http_request req = { 0 };
	req.method = r->method;
	req.url = r->url;
	req.headers = r->headers;
	req.body = r->body;
	req.body_len = r->body_len;
	req.reader = r->reader;
	req.max_body = r->max_body;
	req.retry = r->retry ? r->retry : ASTRA_HTTP_RETRY_IDEMPOTENT;
	if (!req.body && !req.reader &&
	        (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST") ||
	                !strcmp(r->method, "PATCH")))
		req.body = "";
	int rc = astra__http_do(s->http, &req, resp);
	if (!rc && astra__log_enabled(ASTRA_LOG_DEBUG))
		astra__log_debug("gcs: %s -> %ld", r->method, resp->status);
	return rc;
}

/* A request whose only acceptable outcome is 2xx. */
static int gcs_call(gcs_store *s, const gcs_req *r, const char *key,
        astra__http_response *resp)
{
	int rc = gcs_send(s, r, resp);
	if (rc)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	return gcs_fail(s, resp, r->method, key);
}

/* ------------------------------------------------------------------ */
/* Uploads                                                             */
/* ------------------------------------------------------------------ */

/* The object resource sent with an upload. */
static int upload_meta(gcs_store *s, const char *key, const void *data,
        size_t n, const astra__put_opts *opts, char **out)
{
	astra__json *m = astra__json_new_object();
	astra_buf md5 = ASTRA_BUF_INIT;
	uint8_t d[ASTRA_MD5_LEN];
	char *fk = full_key(s, key);
	int rc = m && fk ? 0 : ASTRA_ENOMEM;
	if (!rc)
		rc = astra__json_set_str(m, "name", fk);
	if (!rc)
		rc = astra__json_set_str(
		        m, "contentType", "application/octet-stream");
	if (!rc && data)
		rc = astra__md5(data, n, d);
	if (!rc && data)
		rc = astra__base64_encode(&md5, d, sizeof(d));
	if (!rc && data)
		rc = astra__json_set_str(m, "md5Hash", md5.ptr);
	if (!rc && opts && opts->retain_until) {
		char when[24];
		astra__fmt_utc(when, opts->retain_until);
		astra__json *r = astra__json_new_object();
		rc = r ? 0 : ASTRA_ENOMEM;
		if (!rc)
			rc = astra__json_set_str(r, "mode",
			        opts->lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
			                ? "Unlocked"
			                : "Locked");
		if (!rc)
			rc = astra__json_set_str(r, "retainUntilTime", when);
		if (!rc)
			rc = astra__json_set(m, "retention", r);
		else
			astra__json_free(r);
	}
	if (!rc)
		rc = astra__json_print(out, m, 0);
	astra__json_free(m);
	astra_buf_dispose(&md5);
	free(fk);
	return rc;
}

/* A body made of three pieces: head, data, tail (no copy of data). */
typedef struct {
	const char *part[3];
	size_t len[3];
	size_t idx, off;
} multi_body;

static long mb_read(void *payload, char *buf, size_t n)
{
	multi_body *b = payload;
	size_t done = 0;
	while (done < n && b->idx < 3) {
		size_t left = b->len[b->idx] - b->off;
		if (!left) {
			b->idx++;
			b->off = 0;
			continue;
		}
		size_t k = left < n - done ? left : n - done;
		memcpy(buf + done, b->part[b->idx] + b->off, k);
		b->off += k;
		done += k;
	}
	return (long)done;
}

static int mb_rewind(void *payload)
{
	multi_body *b = payload;
	b->idx = 0;
	b->off = 0;
	return 0;
}

static int query_flags(astra_buf *url, int if_absent)
{
	return if_absent ? astra__buf_puts(url, "&ifGenerationMatch=0") : 0;
}

/*
 * After a retried create-if-absent answered 412: whether the object there
 * is ours (an earlier attempt succeeded but its answer was lost): same
 * size and MD5.
 */
static int is_our_object(
        gcs_store *s, const char *key, const void *data, size_t n)
{
	astra_buf url = ASTRA_BUF_INIT, md5 = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	uint8_t d[ASTRA_MD5_LEN];
	int same = 0;
	astra__objhttp_saved_err saved;
	astra__objhttp_err_save(&saved);
	gcs_req r = { 0 };
	r.method = "GET";
	r.max_body = 4 << 20;
	if (object_url(s, key, &url) == 0 && astra__md5(data, n, d) == 0 &&
	        astra__base64_encode(&md5, d, sizeof(d)) == 0) {
		r.url = url.ptr;
		int64_t size = -1;
		if (gcs_send(s, &r, &resp) == 0 && resp.status == 200 &&
		        astra__json_parse(&doc, resp.body.ptr, resp.body.size,
		                "GCS object resource") == 0 &&
		        json_i64(doc, "size", -1, &size) == 0 &&
		        size == (int64_t)n) {
			const char *m = astra__json_str(doc, "md5Hash");
			same = m && !strcmp(m, md5.ptr);
		}
	}
	astra__json_free(doc);
	astra_buf_dispose(&url);
	astra_buf_dispose(&md5);
	astra__http_response_dispose(&resp);
	astra__objhttp_err_restore(&saved);
	return same;
}

/* uploadType=multipart: the resource and the data in one request. */
static int put_simple(gcs_store *s, const char *key, const void *data, size_t n,
        const astra__put_opts *opts, int if_absent)
{
	char *meta = NULL;
	astra_buf url = ASTRA_BUF_INIT, head = ASTRA_BUF_INIT;
	astra_buf tail = ASTRA_BUF_INIT, ctype = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	uint8_t rnd[16];
	char boundary[40];
	int rc = upload_meta(s, key, data, n, opts, &meta);
	if (!rc)
		rc = astra__random(rnd, sizeof(rnd));
	if (rc)
		goto done;
	memcpy(boundary, "astra", 5);
	astra__hex_encode(boundary + 5, rnd, sizeof(rnd));
	rc = astra__buf_printf(&url,
	        "%s/upload/storage/v1/b/%s/o?uploadType=multipart", s->endpoint,
	        s->bucket);
	if (!rc)
		rc = query_flags(&url, if_absent);
	if (!rc)
		rc = astra__buf_printf(&head,
		        "--%s\r\nContent-Type: application/json; "
		        "charset=UTF-8\r\n\r\n%s\r\n--%s\r\nContent-Type: "
		        "application/octet-stream\r\n\r\n",
		        boundary, meta, boundary);
	if (!rc)
		rc = astra__buf_printf(&tail, "\r\n--%s--\r\n", boundary);
	if (!rc)
		rc = astra__buf_printf(&ctype,
		        "Content-Type: multipart/related; boundary=%s",
		        boundary);
	if (rc)
		goto done;
	multi_body mb = { { head.ptr, data ? data : "", tail.ptr },
		{ head.size, n, tail.size }, 0, 0 };
	astra__http_reader rd = { mb_read, mb_rewind, &mb,
		(int64_t)(head.size + n + tail.size) };
	gcs_req r = { 0 };
	r.method = "POST";
	r.url = url.ptr;
	r.headers[0] = ctype.ptr;
	r.reader = &rd;
	r.max_body = 1 << 20;
	rc = gcs_send(s, &r, &resp);
	if (rc)
		goto done;
	if (resp.status >= 200 && resp.status < 300)
		goto done;
	if (if_absent && resp.status == 412) {
		if (resp.attempts > 1 && is_our_object(s, key, data, n))
			goto done; /* a lost answer to an earlier attempt */
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
		        "%s already exists", key);
		goto done;
	}
	rc = gcs_fail(s, &resp, "upload", key);
done:
	free(meta);
	astra_buf_dispose(&url);
	astra_buf_dispose(&head);
	astra_buf_dispose(&tail);
	astra_buf_dispose(&ctype);
	astra__http_response_dispose(&resp);
	return rc;
}

/* The next offset from a 308's "Range: bytes=0-N" (0 when absent). */
static int64_t persisted(const astra__http_response *resp)
{
	const char *r = astra__http_header(resp, "Range");
	if (!r)
		return 0;
	const char *dash = strchr(r, '-');
	if (!dash)
		return 0;
	return strtoll(dash + 1, NULL, 10) + 1;
}

static void cancel_session(gcs_store *s, const char *session)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	gcs_req r = { 0 };
	astra__objhttp_saved_err saved;
	astra__objhttp_err_save(&saved);
	r.method = "DELETE";
	r.url = session;
	r.retry = ASTRA_HTTP_RETRY_NEVER;
	(void)gcs_send(s, &r, &resp);
	astra__http_response_dispose(&resp);
	astra__objhttp_err_restore(&saved);
}

/* uploadType=resumable: a session, then chunks in order. */
static int put_resumable(gcs_store *s, const char *key, const char *data,
        size_t n, const astra__put_opts *opts, int if_absent)
{
	char *meta = NULL, *session = NULL;
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	char lenhdr[64], crange[96];
	int rc = upload_meta(s, key, data, n, opts, &meta);
	if (!rc)
		rc = astra__buf_printf(&url,
		        "%s/upload/storage/v1/b/%s/o?uploadType=resumable",
		        s->endpoint, s->bucket);
	if (!rc)
		rc = query_flags(&url, if_absent);
	if (rc)
		goto done;
	snprintf(lenhdr, sizeof(lenhdr), "X-Upload-Content-Length: %zu", n);
	gcs_req r = { 0 };
	r.method = "POST";
	r.url = url.ptr;
	r.headers[0] = "Content-Type: application/json; charset=UTF-8";
	r.headers[1] = "X-Upload-Content-Type: application/octet-stream";
	r.headers[2] = lenhdr;
	r.body = meta;
	r.body_len = strlen(meta);
	r.max_body = 1 << 20;
	rc = gcs_send(s, &r, &resp);
	if (rc)
		goto done;
	if (if_absent && resp.status == 412) {
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_STORE,
		        "%s already exists", key);
		goto done;
	}
	if (resp.status < 200 || resp.status >= 300) {
		rc = gcs_fail(s, &resp, "upload (start resumable)", key);
		goto done;
	}
	const char *loc = astra__http_header(&resp, "Location");
	if (!loc || !*loc) {
		rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
		        "GCS resumable upload of %s: no session URI "
		        "(Location) in the answer",
		        key);
		goto done;
	}
	session = astra__strdup(loc);
	if (!session) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	int64_t off = 0;
	int tries = 0;
	for (;;) {
		astra__http_response_dispose(&resp);
		size_t len =
		        n - (size_t)off < s->chunk ? n - (size_t)off : s->chunk;
		gcs_req c = { 0 };
		c.method = "PUT";
		c.url = session;
		c.retry = ASTRA_HTTP_RETRY_NEVER; /* resumed below */
		c.max_body = 1 << 20;
		if (n == 0)
			snprintf(crange, sizeof(crange),
			        "Content-Range: bytes */0");
		else
			snprintf(crange, sizeof(crange),
			        "Content-Range: bytes %lld-%lld/%zu",
			        (long long)off,
			        (long long)off + (long long)len - 1, n);
		c.headers[0] = crange;
		c.body = data + off;
		c.body_len = len;
		int src = gcs_send(s, &c, &resp);
		int failed = src != 0 || astra__objhttp_transient(resp.status);
		if (!failed && (resp.status == 200 || resp.status == 201))
			break;
		if (!failed && resp.status == 308) {
			int64_t next = persisted(&resp);
			if (next <= off && len) {
				/* nothing of this chunk was kept */
				if (++tries > RESUME_TRIES) {
					rc = astra__err(ASTRA_ENET,
					        ASTRA_ERROR_STORE,
					        "GCS resumable upload of %s "
					        "makes no progress at offset "
					        "%lld",
					        key, (long long)off);
					break;
				}
			} else {
				tries = 0;
			}
			off = next;
			continue;
		}
		if (!failed) {
			if (if_absent && resp.status == 412)
				rc = astra__err(ASTRA_EEXISTS,
				        ASTRA_ERROR_STORE, "%s already exists",
				        key);
			else
				rc = gcs_fail(s, &resp, "upload (chunk)", key);
			break;
		}
		/* a transport error or 5xx: ask how much arrived, resume */
		if (++tries > RESUME_TRIES) {
			rc = src ? src
			         : gcs_fail(s, &resp, "upload (chunk)", key);
			break;
		}
		astra_error_clear();
		astra__objhttp_pause(100, (unsigned)tries);
		astra__http_response_dispose(&resp);
		snprintf(crange, sizeof(crange), "Content-Range: bytes */%zu",
		        n);
		gcs_req q = { 0 };
		q.method = "PUT";
		q.url = session;
		q.headers[0] = crange;
		q.max_body = 1 << 20;
		q.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
		src = gcs_send(s, &q, &resp);
		if (src)
			continue; /* counted above; try the chunk again */
		if (resp.status == 200 || resp.status == 201)
			break;
		if (resp.status == 308) {
			off = persisted(&resp);
			continue;
		}
		if (resp.status == 404 || resp.status == 410) {
			rc = astra__err(ASTRA_ENET, ASTRA_ERROR_STORE,
			        "GCS resumable upload of %s: the session "
			        "expired (HTTP %ld)",
			        key, resp.status);
			break;
		}
	}
	if (rc && session)
		cancel_session(s, session);
	if (!rc) {
		/* the final answer is the object: it must hold n bytes */
		astra__json *obj = NULL;
		int64_t size = -1;
		if (astra__json_parse(&obj, resp.body.ptr, resp.body.size,
		            "GCS object resource") == 0)
			json_i64(obj, "size", -1, &size);
		astra_error_clear();
		astra__json_free(obj);
		if (size != (int64_t)n)
			rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
			        "GCS resumable upload of %s ended with an "
			        "object of %lld bytes instead of %zu",
			        key, (long long)size, n);
	}
done:
	free(meta);
	free(session);
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

static int gcs_put(astra__store *st, const char *key, const void *data,
        size_t n, const astra__put_opts *opts)
{
	gcs_store *s = (gcs_store *)st;
	int if_absent = opts && (opts->flags & ASTRA_PUT_IF_ABSENT);
	if (opts && opts->retain_until &&
	        !(st->caps & ASTRA_STORE_CAP_OBJECT_LOCK))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
		        "cannot set a retention on %s: bucket %s has no object "
		        "retention",
		        key, s->bucket);
	if (n > s->resumable_threshold)
		return put_resumable(s, key, data, n, opts, if_absent);
	return put_simple(s, key, data, n, opts, if_absent);
}

/* ------------------------------------------------------------------ */
/* GET, HEAD                                                           */
/* ------------------------------------------------------------------ */

static int gcs_get(astra__store *st, const char *key, uint64_t off,
        uint64_t len, astra_buf *out)
{
	gcs_store *s = (gcs_store *)st;
	char range[80];
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = object_url(s, key, &url);
	if (!rc)
		rc = astra__buf_puts(&url, "?alt=media");
	if (rc)
		goto done;
	gcs_req r = { 0 };
	r.method = "GET";
	r.url = url.ptr;
	if (off || len) {
		if (len)
			snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
			        (unsigned long long)off,
			        (unsigned long long)(off + len - 1));
		else
			snprintf(range, sizeof(range), "Range: bytes=%llu-",
			        (unsigned long long)off);
		r.headers[0] = range;
	}
	if (len)
		r.max_body = (size_t)len + 1;
	rc = gcs_call(s, &r, key, &resp);
	if (rc == ASTRA_ECORRUPT)
		astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_STORE,
		        "object %s is shorter than the range %llu+%llu", key,
		        (unsigned long long)off, (unsigned long long)len);
	if (rc)
		goto done;
	if ((off || len) && resp.status != 206 &&
	        !(resp.status == 200 && off == 0)) {
		rc = astra__err(ASTRA_EIO, ASTRA_ERROR_STORE,
		        "GCS GET %s: the server ignored the Range header "
		        "(HTTP %ld)",
		        key, resp.status);
		goto done;
	}
	size_t got = resp.body.size;
	if (resp.status == 200 && off == 0 && len && got > len)
		got = (size_t)len;
	if (len && got != len) {
		rc = astra__err(ASTRA_ECORRUPT, ASTRA_ERROR_STORE,
		        "object %s: got %zu bytes for the range %llu+%llu", key,
		        got, (unsigned long long)off, (unsigned long long)len);
		goto done;
	}
	if (out->size == 0 && out->asize == 0 && resp.body.ptr &&
	        got == resp.body.size) {
		*out = resp.body;
		memset(&resp.body, 0, sizeof(resp.body));
	} else if ((rc = astra__buf_put(
	                    out, resp.body.ptr ? resp.body.ptr : "", got))) {
		goto done;
	}
	rc = astra__buf_grow(out, 0);
done:
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

/* The object resource (of a generation when gen > 0). */
static int head_gen(gcs_store *s, const char *key, int64_t gen,
        astra__obj_info *info, int64_t *generation)
{
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	int rc = object_url(s, key, &url);
	if (!rc && gen > 0)
		rc = astra__buf_printf(
		        &url, "?generation=%lld", (long long)gen);
	if (rc)
		goto done;
	gcs_req r = { 0 };
	r.method = "GET";
	r.url = url.ptr;
	r.max_body = 4 << 20;
	rc = gcs_call(s, &r, key, &resp);
	if (!rc)
		rc = astra__json_parse(&doc, resp.body.ptr, resp.body.size,
		        "GCS object resource");
	if (!rc) {
		astra__obj_info tmp;
		rc = astra__gcs_parse_object(
		        doc, info ? info : &tmp, generation);
		if (!rc && info)
			info->key = key;
	}
done:
	astra__json_free(doc);
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

static int gcs_head(astra__store *st, const char *key, astra__obj_info *info)
{
	return head_gen((gcs_store *)st, key, 0, info, NULL);
}

/* ------------------------------------------------------------------ */
/* LIST                                                                */
/* ------------------------------------------------------------------ */

/* Calls fn for every object (every generation when versions) whose name
 * starts with `full` (a bucket-absolute prefix). */
typedef int (*item_fn)(const astra__json *item, const char *name, void *p);

static int list_raw(
        gcs_store *s, const char *full, int versions, item_fn fn, void *payload)
{
	char *token = NULL;
	int rc = 0;
	for (;;) {
		astra_buf url = ASTRA_BUF_INIT;
		astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
		astra__json *doc = NULL;
		rc = astra__buf_printf(&url,
		        "%s/o?maxResults=%d&prefix=", s->bucket_path,
		        LIST_PAGE);
		if (!rc)
			rc = astra__http_escape(&url, full);
		if (!rc && versions)
			rc = astra__buf_puts(&url, "&versions=true");
		if (!rc)
			rc = astra__buf_puts(&url,
			        "&fields=items(name,size,updated,generation),"
			        "nextPageToken");
		if (!rc && token) {
			rc = astra__buf_puts(&url, "&pageToken=");
			if (!rc)
				rc = astra__http_escape(&url, token);
		}
		gcs_req r = { 0 };
		r.method = "GET";
		r.url = url.ptr;
		r.max_body = 64 << 20;
		if (!rc)
			rc = gcs_call(s, &r, NULL, &resp);
		if (!rc)
			rc = astra__json_parse(&doc, resp.body.ptr,
			        resp.body.size, "GCS object list");
		const astra__json *items =
		        rc ? NULL : astra__json_get(doc, "items");
		for (const astra__json *it = items ? astra__json_first(items)
		                                   : NULL;
		        it && !rc; it = astra__json_next(it)) {
			const char *name = astra__json_str(it, "name");
			if (!name) {
				rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
				        "bucket %s: an object list entry has "
				        "no name",
				        s->bucket);
				break;
			}
			rc = fn(it, name, payload);
		}
		const char *next =
		        rc ? NULL : astra__json_str(doc, "nextPageToken");
		free(token);
		token = next && *next ? astra__strdup(next) : NULL;
		if (next && *next && !token)
			rc = ASTRA_ENOMEM;
		astra__json_free(doc);
		astra_buf_dispose(&url);
		astra__http_response_dispose(&resp);
		if (rc || !token)
			break;
	}
	free(token);
	return rc;
}

typedef struct {
	gcs_store *s;
	astra__store_list_cb cb;
	void *payload;
} list_ctx;

static int list_item(const astra__json *it, const char *name, void *p)
{
	list_ctx *c = p;
	size_t plen = strlen(c->s->prefix);
	if (strncmp(name, c->s->prefix, plen) || !name[plen])
		return 0;
	astra__obj_info info;
	int rc = astra__gcs_parse_object(it, &info, NULL);
	if (rc)
		return astra__err_prefix(
		        rc, "bucket %s: object %s", c->s->bucket, name);
	info.key = name + plen;
	return c->cb(&info, c->payload);
}

static int gcs_list(astra__store *st, const char *prefix,
        astra__store_list_cb cb, void *payload)
{
	gcs_store *s = (gcs_store *)st;
	char *full = full_key(s, prefix ? prefix : "");
	if (!full)
		return ASTRA_ENOMEM;
	list_ctx c = { s, cb, payload };
	int rc = list_raw(s, full, 0, list_item, &c);
	if (rc < 0 && prefix)
		astra__err_prefix(rc, "listing %s", prefix);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* DELETE, retention                                                   */
/* ------------------------------------------------------------------ */

static int delete_gen(gcs_store *s, const char *key, int64_t gen)
{
	astra_buf url = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = object_url(s, key, &url);
	if (!rc && gen > 0)
		rc = astra__buf_printf(
		        &url, "?generation=%lld", (long long)gen);
	gcs_req r = { 0 };
	r.method = "DELETE";
	r.url = url.ptr;
	r.max_body = 1 << 20;
	if (!rc)
		rc = gcs_send(s, &r, &resp);
	if (!rc && !(resp.status >= 200 && resp.status < 300) &&
	        resp.status != 404)
		rc = gcs_fail(s, &resp, "DELETE", key);
	astra_buf_dispose(&url);
	astra__http_response_dispose(&resp);
	return rc;
}

typedef struct {
	const char *full;
	int64_t *gens;
	size_t n, cap;
} gen_list;

static int gen_item(const astra__json *it, const char *name, void *p)
{
	gen_list *g = p;
	int64_t gen = 0;
	if (strcmp(name, g->full))
		return 0;
	if (json_i64(it, "generation", 0, &gen) || gen <= 0)
		return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		int64_t *ng = astra__reallocarray(g->gens, cap, sizeof(*ng));
		if (!ng)
			return ASTRA_ENOMEM;
		g->gens = ng;
		g->cap = cap;
	}
	g->gens[g->n++] = gen;
	return 0;
}

static int check_unlocked(
        gcs_store *s, const char *key, int64_t gen, int64_t now)
{
	astra__obj_info info;
	int rc = head_gen(s, key, gen, &info, NULL);
	if (rc == ASTRA_ENOTFOUND) {
		astra_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if (info.legal_hold)
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
		        "%s is under a hold (temporary or event-based) and "
		        "cannot be deleted",
		        key);
	if (info.retain_until > now) {
		char when[24];
		astra__fmt_utc(when, info.retain_until);
		return astra__err(ASTRA_EPOLICY, ASTRA_ERROR_STORE,
		        "%s is locked until %s (GCS %s) and cannot be deleted "
		        "before then",
		        key, when,
		        info.lock_mode == ASTRA_STORE_LOCK_GOVERNANCE
		                ? "object retention, Unlocked mode"
		                : "retention");
	}
	return 0;
}

/*
 * Deleting an absent object succeeds. In a versioned bucket every
 * generation goes. Where retention can apply (object retention or a
 * bucket retention policy), every generation is checked first: all or
 * nothing, ASTRA_EPOLICY naming the date.
 */
static int gcs_del(astra__store *st, const char *key)
{
	gcs_store *s = (gcs_store *)st;
	int guarded =
	        s->binfo.object_retention || s->binfo.retention_period > 0;
	if (!s->binfo.versioning) {
		if (guarded) {
			int rc = check_unlocked(
			        s, key, 0, astra__wall_ns() / 1000000000LL);
			if (rc)
				return rc;
		}
		return delete_gen(s, key, 0);
	}
	gen_list g = { 0 };
	g.full = NULL;
	char *full = full_key(s, key);
	if (!full)
		return ASTRA_ENOMEM;
	g.full = full;
	int rc = list_raw(s, full, 1, gen_item, &g);
	int64_t now = astra__wall_ns() / 1000000000LL;
	for (size_t i = 0; i < g.n && !rc && guarded; i++)
		rc = check_unlocked(s, key, g.gens[i], now);
	for (size_t i = 0; i < g.n && !rc; i++)
		rc = delete_gen(s, key, g.gens[i]);
	free(g.gens);
	free(full);
	return rc;
}

static int gcs_retain(
        astra__store *st, const char *key, int64_t until, unsigned mode)
{
	gcs_store *s = (gcs_store *)st;
	char when[24];
	astra__fmt_utc(when, until);
	astra_buf url = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	int rc = object_url(s, key, &url);
	if (!rc)
		rc = astra__buf_printf(&body,
		        "{\"retention\":{\"mode\":\"%s\",\"retainUntilTime\":"
		        "\"%s\"}}",
		        mode == ASTRA_STORE_LOCK_GOVERNANCE ? "Unlocked"
		                                            : "Locked",
		        when);
	if (!rc) {
		gcs_req r = { 0 };
		r.method = "PATCH";
		r.url = url.ptr;
		r.headers[0] = "Content-Type: application/json";
		r.body = body.ptr;
		r.body_len = body.size;
		r.max_body = 4 << 20;
		rc = gcs_call(s, &r, key, &resp);
		if (rc)
			astra__err_prefix(
			        rc, "extending the retention to %s", when);
	}
	astra_buf_dispose(&url);
	astra_buf_dispose(&body);
	astra__http_response_dispose(&resp);
	return rc;
}

static void gcs_free(astra__store *st)
{
	gcs_store *s = (gcs_store *)st;
	if (!s)
		return;
	astra__http_free(s->http);
	astra__http_free(s->token_http);
	free(s->bucket);
	free(s->prefix);
	free(s->endpoint);
	free(s->bucket_path);
	free(s->email);
	free(s->key_id);
	free(s->token_uri);
	free(s->scope);
	if (s->secret)
		astra__free_secret(s->secret, s->secret_len);
	astra__free_secret_str(s->client_id);
	astra__free_secret_str(s->client_secret);
	astra__free_secret_str(s->token);
	pthread_mutex_destroy(&s->mu);
	free(s->base.url);
	free(s);
}

/* An object under retention cannot be replaced or deleted, with or without
 * versioning; what an immutable vault needs is object retention (a bucket
 * retention policy alone cannot be extended per object). */
static int gcs_worm_check(astra__store *st, int err_class)
{
	if (st->caps & ASTRA_STORE_CAP_OBJECT_LOCK)
		return 0;
	return astra__err(ASTRA_ENOTSUPPORTED, err_class,
	        "vault %s: the bucket is not a WORM bucket: object "
	        "retention is not enabled; create the bucket with "
	        "object retention (gcloud storage buckets create "
	        "--enable-per-object-retention) for an immutable vault",
	        st->url);
}

static const astra__store_ops gcs_ops = {
	gcs_put,
	gcs_get,
	gcs_head,
	gcs_list,
	gcs_del,
	gcs_retain,
	gcs_free,
	NULL,
	gcs_worm_check,
};

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/* Bucket names: 3-63 characters (222 with dots) of a-z 0-9 - _ . */
static int valid_bucket(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 222 || (n > 63 && !strchr(b, '.')))
		return 0;
	for (const char *p = b; *p; p++)
		if (!(islower((unsigned char)*p) ||
		            isdigit((unsigned char)*p) || *p == '.' ||
		            *p == '-' || *p == '_'))
			return 0;
	return isalnum((unsigned char)b[0]) && isalnum((unsigned char)b[n - 1]);
}

static int set_endpoint(gcs_store *s, const char *url, const char *ep)
{
	char *scheme = NULL, *host = NULL;
	int rc = astra__objhttp_endpoint(url, ep, NULL, &scheme, &host);
	if (!rc) {
		s->endpoint = astra__aprintf("%s://%s", scheme, host);
		if (!s->endpoint)
			rc = ASTRA_ENOMEM;
	}
	free(scheme);
	free(host);
	return rc;
}

/* GET the bucket: checks bucket and credentials, reads the capabilities. */
static int probe_bucket(gcs_store *s)
{
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	astra__json *doc = NULL;
	gcs_req r = { 0 };
	r.method = "GET";
	r.url = s->bucket_path;
	r.max_body = 4 << 20;
	int rc = gcs_call(s, &r, NULL, &resp);
	if (!rc)
		rc = astra__json_parse(&doc, resp.body.ptr, resp.body.size,
		        "GCS bucket resource");
	if (!rc)
		rc = astra__gcs_parse_bucket(doc, &s->binfo);
	if (rc)
		goto done;
	if (s->binfo.versioning)
		s->base.caps |= ASTRA_STORE_CAP_VERSIONING;
	if (s->binfo.object_retention)
		s->base.caps |= ASTRA_STORE_CAP_OBJECT_LOCK;
done:
	astra__json_free(doc);
	astra__http_response_dispose(&resp);
	return rc;
}

static int gcs_open(
        astra__store **out, const char *url, const astra__store_opts *so)
{
	*out = NULL;
	gcs_store *s = astra__calloc(1, sizeof(*s));
	ASTRA_CHECK_ALLOC(s);
	pthread_mutex_init(&s->mu, NULL);
	gcs_opts o;
	memset(&o, 0, sizeof(o));
	int emulator = 0;
	char *ep_env = NULL;
	const char *q;
	int rc = astra__url_object(url, "bucket", "gs://bucket/prefix",
	        &s->bucket, &s->prefix, &q);
	if (rc)
		goto fail;
	if (!valid_bucket(s->bucket)) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: \"%s\" is not a valid bucket name", url,
		        s->bucket);
		goto fail;
	}
	if ((rc = parse_opts(url, q, &o)))
		goto fail;
	s->base.url = astra__url_display("gs", s->bucket, s->prefix);
	if (!s->base.url) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	s->base.ops = &gcs_ops;
	s->base.caps = ASTRA_STORE_CAP_CONDITIONAL;
	s->base.io_depth = 8;
	s->resumable_threshold = (size_t)o.threshold_mib * MIB;
	s->chunk = (size_t)o.chunk_mib * MIB; /* a multiple of 256 KiB */
	if (o.scope && !strcmp(o.scope, "read-write"))
		s->scope = astra__strdup(SCOPE_RW);
	else if (o.scope && !strcmp(o.scope, "full-control"))
		s->scope = astra__strdup(SCOPE_FULL);
	else if (o.scope && strncmp(o.scope, "https://", 8)) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: scope must be read-write, full-control "
		        "or an https:// scope URL, not \"%s\"",
		        url, o.scope);
		goto fail;
	} else
		s->scope = astra__strdup(o.scope ? o.scope : SCOPE_RW);
	if (!s->scope) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}

	/* endpoint: endpoint=, $STORAGE_EMULATOR_HOST, Google */
	const char *ep = o.endpoint;
	const char *emu = astra__objhttp_env("STORAGE_EMULATOR_HOST");
	emulator = emu != NULL;
	if (!ep && emu) {
		ep_env = strstr(emu, "://") ? astra__strdup(emu)
		                            : astra__aprintf("http://%s", emu);
		if (!ep_env) {
			rc = ASTRA_ENOMEM;
			goto fail;
		}
		ep = ep_env;
	}
	if ((rc = set_endpoint(s, url, ep ? ep : DEFAULT_ENDPOINT)))
		goto fail;
	s->bucket_path =
	        astra__aprintf("%s/storage/v1/b/%s", s->endpoint, s->bucket);
	if (!s->bucket_path) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}

	if ((rc = setup_auth(s, &o, emulator))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	astra__http_config cfg;
	astra__objhttp_config(&cfg, &o.net, so);
	if (s->auth == AUTH_SA || s->auth == AUTH_USER) {
		/* the token endpoint: no credentials, system CAs unless
		 * it is on the same custom endpoint */
		astra__http_config tc = cfg;
		size_t el = strlen(s->endpoint);
		if (strncmp(s->token_uri, s->endpoint, el) ||
		        (s->token_uri[el] && s->token_uri[el] != '/')) {
			tc.ca_file = NULL;
			tc.insecure = 0;
		}
		if ((rc = astra__http_new(&s->token_http, &tc)))
			goto fail;
	}
	cfg.auth = auth_line;
	cfg.auth_payload = s;
	if ((rc = astra__http_new(&s->http, &cfg)))
		goto fail;
	if ((rc = probe_bucket(s))) {
		astra__err_prefix(rc, "vault %s", s->base.url);
		goto fail;
	}
	astra__log_debug("gcs: %s at %s (credentials: %s)%s%s%s", s->base.url,
	        s->endpoint, s->source,
	        s->binfo.versioning ? ", versioned" : "",
	        s->binfo.object_retention ? ", object retention" : "",
	        s->binfo.retention_period ? ", bucket retention policy" : "");
	astra__url_opts_free(&gcs_options, &o);
	free(ep_env);
	*out = &s->base;
	return 0;
fail:
	astra__url_opts_free(&gcs_options, &o);
	free(ep_env);
	gcs_free(&s->base);
	return rc;
}

const astra__store_backend astra__store_gcs_backend = {
	.scheme = "gs://",
	.open = gcs_open,
	.ops = &gcs_ops,
	.options = &gcs_options,
};
