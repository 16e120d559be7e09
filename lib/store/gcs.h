/*
 * Pieces of the gs:// store shared by gcs.c (the store) and gcs_auth.c
 * (credentials), and the pure logic exposed for the unit tests: the
 * service-account JWT, the parsing of bucket and object resources, and the
 * mapping of error responses.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_GCS_H
#define ASTRA_STORE_GCS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"
#include "fmt/json.h"
#include "net/http.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* Credentials (gcs_auth.c)                                            */
/* ------------------------------------------------------------------ */

enum {
	ASTRA__GCS_AUTH_AUTO,
	ASTRA__GCS_AUTH_NONE,
	ASTRA__GCS_AUTH_TOKEN, /* a given access token */
	ASTRA__GCS_AUTH_SA, /* service account: JWT bearer grant */
	ASTRA__GCS_AUTH_USER /* authorized user: refresh token */
};

/* A store's credentials; mu (initialised by the caller) guards the cached
 * token. */
typedef struct {
	int auth; /* ASTRA__GCS_AUTH_* */
	char source[300]; /* where the credentials came from */
	char *email, *key_id, *token_uri, *scope;
	char *secret; /* private key PEM, refresh token, or the token */
	size_t secret_len;
	char *client_id, *client_secret;
	astra__http *token_http; /* for the token endpoint */
	pthread_mutex_t mu;
	char *token; /* cached access token */
	int64_t token_expiry; /* Unix seconds */
} astra__gcs_auth;

/* The URL options that choose them (NULL: not given). */
typedef struct {
	char *auth, *credentials, *token_file, *scope;
} astra__gcs_auth_opts;

/* The OAuth scope from scope= (read-write, full-control or a URL). */
int astra__gcs_auth_scope(
        astra__gcs_auth *s, const char *url, const char *scope);
/*
 * The credential chain (docs/gcs.md): auth=none; a token (token-file=,
 * $GOOGLE_OAUTH_ACCESS_TOKEN); a key file (credentials=,
 * $GOOGLE_APPLICATION_CREDENTIALS, gcloud's application default
 * credentials); none when emulator ($STORAGE_EMULATOR_HOST is set).
 */
int astra__gcs_auth_setup(
        astra__gcs_auth *s, const astra__gcs_auth_opts *o, int emulator);
/* The HTTP client for the token endpoint, when the credentials need one
 * (cfg: the store's; its CA is kept only for a token endpoint on the
 * store's own endpoint). A plain http:// token endpoint not on loopback
 * is refused (ASTRA_EINVALID) unless allow_plain_http. */
int astra__gcs_auth_http(astra__gcs_auth *s, int allow_plain_http,
        const char *endpoint, const astra__http_config *cfg);
/* astra__http_auth_fn: the Authorization line (payload: the auth). */
int astra__gcs_auth_line(void *payload, int refresh, char **line);
void astra__gcs_auth_free(astra__gcs_auth *s);

/*
 * A signed JWT ("header.claims.signature", base64url without padding,
 * RS256) asserting a Google service account for the OAuth 2.0 JWT bearer
 * grant: iss = email, scope, aud = the token URI, iat = now, exp = now +
 * lifetime. key_id (the key file's private_key_id) goes into the header's
 * "kid" when given. Appended to *out.
 */
int astra__gcs_jwt(const char *email, const char *key_id, const char *key_pem,
        size_t key_len, const char *scope, const char *aud, int64_t now,
        unsigned lifetime, astra_buf *out);

/* base64url without padding (RFC 7515 section 2), appended to *out. */
int astra__gcs_b64url(astra_buf *out, const void *data, size_t n);

/* A JSON member that is a decimal string (GCS sends int64 as strings) or
 * a number; `def` when absent. ASTRA_EPARSE otherwise. */
int astra__gcs_json_i64(
        const astra__json *o, const char *k, int64_t def, int64_t *out);

/* What a bucket resource says about immutability and versioning. */
typedef struct {
	int versioning; /* versioning.enabled */
	int object_retention; /* objectRetention.mode == "Enabled" */
	int64_t retention_period; /* retentionPolicy.retentionPeriod, s */
	int retention_locked; /* retentionPolicy.isLocked */
} astra__gcs_bucket;

int astra__gcs_parse_bucket(const astra__json *b, astra__gcs_bucket *out);

/*
 * An object resource into info (key not set): size, updated, retention
 * (the later of retention.retainUntilTime and retentionExpirationTime, the
 * bucket policy's), lock mode (Locked = compliance, Unlocked = governance)
 * and holds (temporaryHold, eventBasedHold as legal_hold). *generation
 * receives the generation when not NULL. ASTRA_EPARSE when size is
 * missing.
 */
int astra__gcs_parse_object(
        const astra__json *o, astra__obj_info *info, int64_t *generation);

/* The object resource sent with an upload (*out allocated, JSON): name,
 * contentType, md5Hash of data (when data is not NULL) and retention
 * (Locked = compliance, Unlocked = governance) when opts->retain_until. */
int astra__gcs_object_meta(const char *name, const void *data, size_t n,
        const astra__put_opts *opts, char **out);

/* Error details of a JSON API (or OAuth 2.0 token endpoint) response. */
typedef struct {
	char reason[96]; /* errors[0].reason, or the OAuth "error" */
	char message[320];
} astra__gcs_err;

void astra__gcs_parse_error(const char *body, size_t n, astra__gcs_err *e);

/* The astra code for a failed response: 401/403 ASTRA_EAUTH (403 about
 * retention or holds: ASTRA_EPOLICY), 404 ASTRA_ENOTFOUND, 412
 * ASTRA_EEXISTS, 409 ASTRA_ECONFLICT, 416 ASTRA_ECORRUPT, 429/5xx
 * ASTRA_ENET, 400 ASTRA_EINVALID, ... */
int astra__gcs_error_code(long status, const astra__gcs_err *e);

#endif
