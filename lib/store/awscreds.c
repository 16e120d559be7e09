/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/awscreds.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "fmt/xml.h"
#include "net/http.h"

#define MAX_FILE (1u << 20)

void astra__aws_keys_clear(astra__aws_keys *k)
{
	if (!k)
		return;
	astra__free_secret_str(k->access_key);
	astra__free_secret_str(k->secret_key);
	astra__free_secret_str(k->session_token);
	memset(k, 0, sizeof(*k));
}

astra__aws_creds astra__aws_keys_view(const astra__aws_keys *k)
{
	astra__aws_creds c = { k->access_key, k->secret_key, k->session_token };
	return c;
}

static int keys_copy(astra__aws_keys *dst, const astra__aws_keys *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->access_key = astra__strdup(src->access_key);
	dst->secret_key = astra__strdup(src->secret_key);
	dst->session_token =
	        src->session_token ? astra__strdup(src->session_token) : NULL;
	dst->expires = src->expires;
	if (!dst->access_key || !dst->secret_key ||
	        (src->session_token && !dst->session_token)) {
		astra__aws_keys_clear(dst);
		return ASTRA_ENOMEM;
	}
	return 0;
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int civil(int y, int mo, int d, int h, int mi, int s, int64_t *out)
{
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	       h * 3600 + mi * 60 + s;
	return 0;
}

int astra__aws_parse_time(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec;
	if (!s)
		goto bad;
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	if (n >= 20 && s[4] == '-' && s[7] == '-' &&
	        (s[10] == 'T' || s[10] == 't') && s[13] == ':' &&
	        s[16] == ':') {
		if (digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
		        digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
		        digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
			goto bad;
		const char *t = s + 19;
		if (*t == '.') {
			t++;
			if (!isdigit((unsigned char)*t))
				goto bad;
			while (isdigit((unsigned char)*t))
				t++;
		}
		if ((*t != 'Z' && *t != 'z') || t[1])
			goto bad;
		if (civil(y, mo, d, h, mi, sec, out))
			goto bad;
		return 0;
	}
	/* RFC 1123: "Sun, 22 Nov 2026 01:02:03 GMT" */
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	if (n == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' &&
	        s[11] == ' ' && s[16] == ' ' && s[19] == ':' && s[22] == ':' &&
	        !strcmp(s + 25, " GMT")) {
		mo = 0;
		for (int i = 0; i < 12; i++)
			if (!strncmp(s + 8, mons[i], 3))
				mo = i + 1;
		if (!mo || digits(s + 5, 2, &d) || digits(s + 12, 4, &y) ||
		        digits(s + 17, 2, &h) || digits(s + 20, 2, &mi) ||
		        digits(s + 23, 2, &sec))
			goto bad;
		if (civil(y, mo, d, h, mi, sec, out))
			goto bad;
		return 0;
	}
bad:
	return astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
	        "invalid date \"%.40s\"", s ? s : "");
}

/* ---- INI files ---- */

static const char *trim(const char *s, const char *e, const char **end)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*end = e;
	return s;
}

char *astra__aws_ini_get(const char *text, const char *section, const char *key)
{
	int in = 0;
	char *found = NULL;
	size_t sl = strlen(section), kl = strlen(key);
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		const char *eol = nl ? nl : p + strlen(p);
		int indented = p < eol && (*p == ' ' || *p == '\t');
		const char *e;
		const char *s = trim(p, eol, &e);
		p = nl ? nl + 1 : NULL;
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			if (!close)
				continue;
			const char *ne;
			const char *name = trim(s + 1, close, &ne);
			in = (size_t)(ne - name) == sl &&
			     !memcmp(name, section, sl);
			continue;
		}
		if (!in || indented)
			continue; /* nested sub-settings are not ours */
		const char *eq = memchr(s, '=', (size_t)(e - s));
		if (!eq)
			continue;
		const char *ke;
		const char *k = trim(s, eq, &ke);
		if ((size_t)(ke - k) != kl || strncasecmp(k, key, kl))
			continue;
		const char *ve;
		const char *v = trim(eq + 1, e, &ve);
		astra__free_secret_str(found);
		found = astra__strndup(v, (size_t)(ve - v)); /* last wins */
	}
	return found;
}

static int read_small_file(const char *path, char **out, int *missing)
{
	*out = NULL;
	*missing = 0;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		return astra__err_os("cannot read %s", path);
	}
	astra_buf b = ASTRA_BUF_INIT;
	char chunk[4096];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.size + n > MAX_FILE) {
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
			        "%s is larger than 1 MiB", path);
			break;
		}
		if ((rc = astra__buf_put(&b, chunk, n)))
			break;
	}
	if (!rc && ferror(f))
		rc = astra__err_os("cannot read %s", path);
	fclose(f);
	astra__wipe(chunk, sizeof(chunk));
	if (rc) {
		astra_buf_dispose(&b);
		return rc;
	}
	if (!b.ptr)
		rc = astra__buf_puts(&b, "");
	*out = astra__buf_detach(&b);
	return rc;
}

static char *file_path(const char *env, const char *name)
{
	const char *e = getenv(env);
	if (e && *e)
		return astra__strdup(e);
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	return astra__aprintf("%s/.aws/%s", home, name);
}

/* Value from the credentials file [profile] or config [profile p]. */
static char *profile_value(const char *profile, const char *key, int files)
{
	char *v = NULL;
	if (files & 1) {
		char *path =
		        file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
		char *text = NULL;
		int missing;
		if (path && read_small_file(path, &text, &missing) == 0 && text)
			v = astra__aws_ini_get(text, profile, key);
		astra__free_secret_str(text);
		free(path);
	}
	if (!v && (files & 2)) {
		char *path = file_path("AWS_CONFIG_FILE", "config");
		char *text = NULL;
		int missing;
		if (path && read_small_file(path, &text, &missing) == 0 &&
		        text) {
			char sect[300];
			snprintf(sect, sizeof(sect), "profile %s", profile);
			v = astra__aws_ini_get(text, sect, key);
			if (!v && !strcmp(profile, "default"))
				v = astra__aws_ini_get(text, "default", key);
		}
		astra__free_secret_str(text);
		free(path);
	}
	astra_error_clear();
	return v;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static const char *profile_name(const char *given)
{
	if (given && *given)
		return given;
	const char *e = env_nonempty("AWS_PROFILE");
	return e ? e : "default";
}

char *astra__aws_default_region(const char *profile)
{
	const char *e = env_nonempty("AWS_REGION");
	if (!e)
		e = env_nonempty("AWS_DEFAULT_REGION");
	if (e)
		return astra__strdup(e);
	return profile_value(profile_name(profile), "region", 2);
}

/* ---- STS ---- */

int astra__aws_parse_sts_action(
        const char *xml, size_t n, const char *action, astra__aws_keys *out)
{
	memset(out, 0, sizeof(*out));
	astra__xml *doc = NULL;
	int rc = astra__xml_parse(&doc, xml, n, "STS response");
	if (rc)
		return rc;
	char path[128], root[128];
	snprintf(path, sizeof(path), "%sResult/Credentials", action);
	snprintf(root, sizeof(root), "%sResponse", action);
	const astra__xml *c = astra__xml_path(doc, path);
	const char *ak = astra__xml_child_text(c, "AccessKeyId");
	const char *sk = astra__xml_child_text(c, "SecretAccessKey");
	const char *tok = astra__xml_child_text(c, "SessionToken");
	const char *exp = astra__xml_child_text(c, "Expiration");
	if (strcmp(astra__xml_name(doc), root) || !ak || !*ak || !sk || !*sk ||
	        !tok || !*tok || !exp) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_STORE,
		        "STS response has no credentials (expected "
		        "%s/Credentials with AccessKeyId, SecretAccessKey, "
		        "SessionToken and Expiration)",
		        path);
		goto done;
	}
	if ((rc = astra__aws_parse_time(exp, &out->expires)))
		goto done;
	out->access_key = astra__strdup(ak);
	out->secret_key = astra__strdup(sk);
	out->session_token = astra__strdup(tok);
	if (!out->access_key || !out->secret_key || !out->session_token)
		rc = ASTRA_ENOMEM;
done:
	if (rc)
		astra__aws_keys_clear(out);
	astra__xml_free(doc);
	return rc;
}

int astra__aws_parse_sts(const char *xml, size_t n, astra__aws_keys *out)
{
	return astra__aws_parse_sts_action(
	        xml, n, "AssumeRoleWithWebIdentity", out);
}

enum { SRC_STATIC = 1, SRC_WEB_IDENTITY = 2 };

struct astra__aws_provider {
	pthread_mutex_t mu;
	int kind;
	char source[512];
	astra__aws_keys keys; /* static, or the cached temporary ones */
	char *role_arn, *token_file, *session_name, *sts_url;
	astra__http *http;
	unsigned margin;
};

void astra__aws_provider_free(astra__aws_provider *p)
{
	if (!p)
		return;
	astra__aws_keys_clear(&p->keys);
	free(p->role_arn);
	free(p->token_file);
	free(p->session_name);
	free(p->sts_url);
	astra__http_free(p->http);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

const char *astra__aws_provider_source(const astra__aws_provider *p)
{
	return p->source;
}

static int set_static(astra__aws_provider *p, const char *ak, const char *sk,
        const char *tok, const char *source)
{
	p->kind = SRC_STATIC;
	p->keys.access_key = astra__strdup(ak);
	p->keys.secret_key = astra__strdup(sk);
	p->keys.session_token = tok && *tok ? astra__strdup(tok) : NULL;
	snprintf(p->source, sizeof(p->source), "%s", source);
	if (!p->keys.access_key || !p->keys.secret_key ||
	        (tok && *tok && !p->keys.session_token))
		return ASTRA_ENOMEM;
	return 0;
}

static int setup_web_identity(astra__aws_provider *p,
        const astra__aws_provider_opts *o, const char *arn,
        const char *token_file, const char *session, const char *profile)
{
	p->kind = SRC_WEB_IDENTITY;
	p->role_arn = astra__strdup(arn);
	p->token_file = astra__strdup(token_file);
	p->session_name =
	        session && *session
	                ? astra__strdup(session)
	                : astra__aprintf("libastra-%ld-%lld", (long)getpid(),
	                          (long long)time(NULL));
	if (!p->role_arn || !p->token_file || !p->session_name)
		return ASTRA_ENOMEM;
	const char *ep = o->sts_endpoint;
	if (!ep)
		ep = env_nonempty("AWS_ENDPOINT_URL_STS");
	if (ep) {
		p->sts_url = astra__strdup(ep);
	} else {
		char *region = o->region ? astra__strdup(o->region)
		                         : astra__aws_default_region(profile);
		p->sts_url =
		        region ? astra__aprintf("https://sts.%s.amazonaws.com/",
		                         region)
		               : astra__strdup("https://sts.amazonaws.com/");
		free(region);
	}
	if (!p->sts_url)
		return ASTRA_ENOMEM;
	if (strncasecmp(p->sts_url, "http://", 7) == 0 &&
	        !astra__http_url_is_loopback(p->sts_url) &&
	        !o->allow_plain_http)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
		        "web identity %s: the STS endpoint %s is plain http:// "
		        "and not on loopback, so the web identity token would "
		        "cross the network unencrypted; use https://, or allow "
		        "it with allow-plain-http=1 on the vault URL",
		        arn, p->sts_url);
	snprintf(p->source, sizeof(p->source), "web identity %s (token %s)",
	        arn, token_file);
	astra__http_config cfg;
	astra__http_config_init(&cfg);
	cfg.ca_file = o->ca_file;
	cfg.insecure = 0;
	cfg.proxy = o->proxy;
	cfg.http2 = 0;
	return astra__http_new(&p->http, &cfg);
}

int astra__aws_provider_new(
        astra__aws_provider **out, const astra__aws_provider_opts *o)
{
	static const astra__aws_provider_opts none = { 0 };
	*out = NULL;
	if (!o)
		o = &none;
	astra__aws_provider *p = astra__calloc(1, sizeof(*p));
	ASTRA_CHECK_ALLOC(p);
	pthread_mutex_init(&p->mu, NULL);
	p->margin = o->refresh_margin_s ? o->refresh_margin_s : 300;
	const char *profile = profile_name(o->profile);
	int rc = 0;
	const char *ak = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *arn = env_nonempty("AWS_ROLE_ARN");
	const char *tf = env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
	if (ak && sk && !o->profile) {
		rc = set_static(p, ak, sk, getenv("AWS_SESSION_TOKEN"),
		        "environment (AWS_ACCESS_KEY_ID)");
	} else if (ak && !sk && !o->profile) {
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
		        "is not");
	} else if (arn && tf && !o->profile) {
		rc = setup_web_identity(p, o, arn, tf,
		        env_nonempty("AWS_ROLE_SESSION_NAME"), profile);
	} else {
		char *pak = profile_value(profile, "aws_access_key_id", 3);
		char *psk = profile_value(profile, "aws_secret_access_key", 3);
		char *ptok = profile_value(profile, "aws_session_token", 3);
		char *parn = profile_value(profile, "role_arn", 2);
		char *ptf =
		        profile_value(profile, "web_identity_token_file", 2);
		char *psn = profile_value(profile, "role_session_name", 2);
		char src[300];
		snprintf(src, sizeof(src), "profile %s", profile);
		if (pak && psk)
			rc = set_static(p, pak, psk, ptok, src);
		else if (parn && ptf)
			rc = setup_web_identity(p, o, parn, ptf, psn, profile);
		else if (pak || psk)
			rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "AWS profile %s has only one of "
			        "aws_access_key_id and aws_secret_access_key",
			        profile);
		else if (parn)
			rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_STORE,
			        "AWS profile %s assumes role %s from another "
			        "source; only web_identity_token_file is "
			        "supported",
			        profile, parn);
		else
			rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
			        "no AWS credentials: set AWS_ACCESS_KEY_ID and "
			        "AWS_SECRET_ACCESS_KEY, AWS_ROLE_ARN and "
			        "AWS_WEB_IDENTITY_TOKEN_FILE, or keys for "
			        "profile %s in ~/.aws/credentials",
			        profile);
		astra__free_secret_str(pak);
		astra__free_secret_str(psk);
		astra__free_secret_str(ptok);
		free(parn);
		free(ptf);
		free(psn);
	}
	if (rc) {
		astra__aws_provider_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int form_param(astra_buf *b, const char *k, const char *v)
{
	int rc = astra__buf_printf(b, "%s%s=", b->size ? "&" : "", k);
	return rc ? rc : astra__sigv4_encode(b, v, strlen(v), 0);
}

static int assume_role(astra__aws_provider *p)
{
	char *token = NULL;
	int missing = 0;
	int rc = read_small_file(p->token_file, &token, &missing);
	if (!rc && missing)
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_STORE,
		        "web identity token file %s does not exist",
		        p->token_file);
	if (rc)
		return rc;
	size_t tl = strlen(token);
	while (tl && isspace((unsigned char)token[tl - 1]))
		token[--tl] = '\0';
	astra_buf body = ASTRA_BUF_INIT;
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	rc = form_param(&body, "Action", "AssumeRoleWithWebIdentity");
	if (!rc)
		rc = form_param(&body, "Version", "2011-06-15");
	if (!rc)
		rc = form_param(&body, "RoleArn", p->role_arn);
	if (!rc)
		rc = form_param(&body, "RoleSessionName", p->session_name);
	if (!rc)
		rc = form_param(&body, "WebIdentityToken", token);
	astra__free_secret_str(token);
	if (rc)
		goto done;
	static const char *const hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/xml", NULL
	};
	astra__http_request req = { 0 };
	req.method = "POST";
	req.url = p->sts_url;
	req.headers = hdrs;
	req.body = body.ptr;
	req.body_len = body.size;
	req.max_body = 1 << 20;
	req.retry = ASTRA_HTTP_RETRY_IDEMPOTENT;
	if ((rc = astra__http_do(p->http, &req, &resp))) {
		astra__err_prefix(rc, "assuming role %s", p->role_arn);
		goto done;
	}
	if (resp.status != 200) {
		astra__xml *doc = NULL;
		const char *code = NULL, *msg = NULL;
		if (resp.body.size &&
		        astra__xml_parse(&doc, resp.body.ptr, resp.body.size,
		                "STS error") == 0) {
			const astra__xml *e = astra__xml_child(doc, "Error");
			code = astra__xml_child_text(e, "Code");
			msg = astra__xml_child_text(e, "Message");
		}
		astra_error_clear();
		rc = astra__err(resp.status >= 500 ? ASTRA_ENET : ASTRA_EAUTH,
		        ASTRA_ERROR_STORE,
		        "assuming role %s with web identity at %s: HTTP %ld "
		        "%s%s%s",
		        p->role_arn, p->sts_url, resp.status, code ? code : "",
		        msg ? ": " : "", msg ? msg : "");
		astra__xml_free(doc);
		goto done;
	}
	astra__aws_keys k;
	if ((rc = astra__aws_parse_sts(resp.body.ptr, resp.body.size, &k))) {
		astra__err_prefix(rc, "assuming role %s", p->role_arn);
		goto done;
	}
	astra__aws_keys_clear(&p->keys);
	p->keys = k;
	astra__log_debug("s3: assumed role %s until %lld", p->role_arn,
	        (long long)k.expires);
done:
	astra_buf_dispose(&body);
	astra__http_response_dispose(&resp);
	return rc;
}

int astra__aws_provider_get(
        astra__aws_provider *p, int force, astra__aws_keys *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->mu);
	int rc = 0;
	if (p->kind == SRC_WEB_IDENTITY) {
		int64_t now = astra__wall_ns() / 1000000000LL;
		if (force || !p->keys.access_key ||
		        (p->keys.expires &&
		                now + (int64_t)p->margin >= p->keys.expires))
			rc = assume_role(p);
	} else if (force) {
		astra__log_debug("s3: static credentials from %s cannot be "
		                 "refreshed",
		        p->source);
	}
	if (!rc)
		rc = keys_copy(out, &p->keys);
	pthread_mutex_unlock(&p->mu);
	return rc;
}
