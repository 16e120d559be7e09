/*
 * AWS credentials, resolved the way the AWS SDKs and CLI do:
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   2. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (EKS IRSA),
 *      or role_arn + web_identity_token_file in the profile, exchanged with
 *      STS AssumeRoleWithWebIdentity and refreshed before they expire;
 *   3. the profile (AWS_PROFILE, else "default") in the shared credentials
 *      file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), then in
 *      the config file (AWS_CONFIG_FILE, else ~/.aws/config).
 * The region comes from AWS_REGION, AWS_DEFAULT_REGION or the profile.
 * Secrets never appear in messages or logs.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_AWSCREDS_H
#define ASTRA_STORE_AWSCREDS_H

#include <stdint.h>

#include "astra/common.h"
#include "store/sigv4.h"

/* Owned credentials; release with astra__aws_keys_clear. */
typedef struct {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL when none */
	int64_t expires; /* Unix seconds; 0 = does not expire */
} astra__aws_keys;

void astra__aws_keys_clear(astra__aws_keys *k);
/* A signer view of k (borrowed). */
astra__aws_creds astra__aws_keys_view(const astra__aws_keys *k);

typedef struct astra__aws_provider astra__aws_provider;

typedef struct {
	const char *profile; /* NULL: $AWS_PROFILE, else "default" */
	/* TLS for STS: a CA bundle; verification is never turned off */
	const char *ca_file;
	const char *proxy;
	/* send the web identity token to a plain http:// STS endpoint that
	 * is not on loopback (?allow-plain-http=1 of the vault URL) */
	int allow_plain_http;
	/* STS endpoint; NULL: $AWS_ENDPOINT_URL_STS, else the regional
	 * https://sts.<region>.amazonaws.com */
	const char *sts_endpoint;
	const char *region; /* for STS; NULL: resolved as above */
	/* refresh this long before expiry; 0 = 300 s */
	unsigned refresh_margin_s;
} astra__aws_provider_opts;

/* Resolves the source of credentials (reading files, not calling STS
 * yet). ASTRA_EAUTH when no source is configured, naming what was tried. */
int astra__aws_provider_new(
        astra__aws_provider **out, const astra__aws_provider_opts *o);
/* A copy of valid credentials, refreshed when near expiry. `force` drops
 * cached temporary credentials first (after ExpiredToken). Thread-safe. */
int astra__aws_provider_get(
        astra__aws_provider *p, int force, astra__aws_keys *out);
/* Where the credentials come from ("environment", "profile default",
 * "web identity arn:..."), for messages. */
const char *astra__aws_provider_source(const astra__aws_provider *p);
void astra__aws_provider_free(astra__aws_provider *p);

/* The region configured for the profile (env first); NULL if none. */
char *astra__aws_default_region(const char *profile);

/* ---- helpers, exposed for tests ---- */

/* Value of `key` in [section] of an INI text (AWS shared-file syntax), as
 * a new string, or NULL. */
char *astra__aws_ini_get(
        const char *text, const char *section, const char *key);
/* Parses STS AssumeRoleWithWebIdentity XML into keys. */
int astra__aws_parse_sts(const char *xml, size_t n, astra__aws_keys *out);
/* The same for the response of STS action `action` ("AssumeRole"). */
int astra__aws_parse_sts_action(
        const char *xml, size_t n, const char *action, astra__aws_keys *out);
/* ISO 8601 ("2026-11-22T01:02:03Z", fractions allowed) or RFC 1123
 * ("Sun, 22 Nov 2026 01:02:03 GMT") into Unix seconds; ASTRA_EPARSE. */
int astra__aws_parse_time(const char *s, int64_t *out);

#endif
