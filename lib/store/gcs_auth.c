/*
 * Credentials of the gs:// store: the credential chain (token, token file,
 * service-account or authorized-user key file, gcloud's application
 * default credentials, none for emulators), the service-account JWT
 * (RS256), the exchange for an OAuth 2.0 access token and its cache.
 * Secrets never reach messages.
 * SPDX-License-Identifier: Apache-2.0
 */
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
#include "store/gcs.h"
#include "store/objhttp.h"

#define MIB ((size_t)1 << 20)
#define TOKEN_LIFETIME 3600
#define TOKEN_MARGIN 300 /* refresh this many seconds before expiry */
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define SCOPE_RW "https://www.googleapis.com/auth/devstorage.read_write"
#define SCOPE_FULL "https://www.googleapis.com/auth/devstorage.full_control"
#define AUTH_NONE ASTRA__GCS_AUTH_NONE
#define AUTH_TOKEN ASTRA__GCS_AUTH_TOKEN
#define AUTH_SA ASTRA__GCS_AUTH_SA
#define AUTH_USER ASTRA__GCS_AUTH_USER

/* ------------------------------------------------------------------ */
/* Service-account JWT (gcs.h)                                         */
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
static int fetch_token(astra__gcs_auth *s)
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
int astra__gcs_auth_line(void *payload, int refresh, char **line)
{
	astra__gcs_auth *s = payload;
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
static int load_key_file(
        astra__gcs_auth *s, const char *path, const char *origin)
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

static int load_token_file(astra__gcs_auth *s, const char *path)
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

/* The access token of $GOOGLE_OAUTH_ACCESS_TOKEN. */
static int env_token(astra__gcs_auth *s, const char *tok)
{
	s->auth = AUTH_TOKEN;
	s->secret = astra__strdup(tok);
	s->secret_len = strlen(tok);
	snprintf(s->source, sizeof(s->source), "$GOOGLE_OAUTH_ACCESS_TOKEN");
	return s->secret ? 0 : ASTRA_ENOMEM;
}

/*
 * The credential chain (docs/gcs.md): auth=none; a token (token-file=,
 * $GOOGLE_OAUTH_ACCESS_TOKEN); a key file (credentials=,
 * $GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default
 * credentials); none when $STORAGE_EMULATOR_HOST is set.
 */
int astra__gcs_auth_setup(
        astra__gcs_auth *s, const astra__gcs_auth_opts *o, int emulator)
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
		return env_token(s, tok_env);
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
		return env_token(s, tok_env);
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

int astra__gcs_auth_scope(
        astra__gcs_auth *s, const char *url, const char *scope)
{
	if (scope && !strcmp(scope, "read-write"))
		s->scope = astra__strdup(SCOPE_RW);
	else if (scope && !strcmp(scope, "full-control"))
		s->scope = astra__strdup(SCOPE_FULL);
	else if (scope && strncmp(scope, "https://", 8))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "vault URL %s: scope must be read-write, full-control "
		        "or an https:// scope URL, not \"%s\"",
		        url, scope);
	else
		s->scope = astra__strdup(scope ? scope : SCOPE_RW);
	return s->scope ? 0 : ASTRA_ENOMEM;
}

int astra__gcs_auth_http(astra__gcs_auth *s, int allow_plain_http,
        const char *endpoint, const astra__http_config *cfg)
{
	if (s->auth != AUTH_SA && s->auth != AUTH_USER)
		return 0;
	if (strncasecmp(s->token_uri, "http://", 7) == 0 &&
	        !astra__http_url_is_loopback(s->token_uri) && !allow_plain_http)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_STORE,
		        "credentials %s: the token endpoint %s is plain "
		        "http:// and not on loopback, so the signed grant "
		        "would cross the network unencrypted; use https://, or "
		        "allow it with allow-plain-http=1",
		        s->source, s->token_uri);
	/* the token endpoint: no credentials, system CAs unless it is on
	 * the same custom endpoint */
	astra__http_config tc = *cfg;
	size_t el = strlen(endpoint);
	if (strncmp(s->token_uri, endpoint, el) ||
	        (s->token_uri[el] && s->token_uri[el] != '/')) {
		tc.ca_file = NULL;
		tc.insecure = 0;
	}
	return astra__http_new(&s->token_http, &tc);
}

void astra__gcs_auth_free(astra__gcs_auth *s)
{
	astra__http_free(s->token_http);
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
}
