/*
 * The REST client: credentials, requests and API Status mapping.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/kube.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "fmt/yaml.h"
#include "kube/exec.h"
#include "kube/internal.h"
#include "kube/util.h"
#include "net/http.h"

#define TOKEN_FILE_TTL_NS (60ULL * 1000000000ULL)
#define EXEC_EXPIRY_SKEW_S 10

const astra__kubeconfig *astra__kube_config(const astra__kube *k)
{
	return k->cfg;
}

const char *astra__kube_namespace(const astra__kube *k)
{
	return k->cfg->namespace && *k->cfg->namespace ? k->cfg->namespace
	                                               : "default";
}

/* ------------------------------------------------------------------ */
/* Credentials                                                         */
/* ------------------------------------------------------------------ */

static int bearer(char **line, const char *token)
{
	*line = astra__aprintf("Authorization: Bearer %s", token);
	return *line ? 0 : ASTRA_ENOMEM;
}

static int read_token_file(astra__kube *k, int *changed)
{
	astra_buf b = ASTRA_BUF_INIT;
	*changed = 0;
	int rc = astra__fmt_read_file(&b, k->cfg->token_file, 1 << 20);
	if (rc) {
		astra_buf_dispose(&b);
		return astra__err_prefix(rc,
		        "cluster \"%s\": tokenFile of user "
		        "\"%s\"",
		        k->cfg->context,
		        k->cfg->user_name ? k->cfg->user_name : "");
	}
	while (b.size && isspace((unsigned char)b.ptr[b.size - 1]))
		b.ptr[--b.size] = '\0';
	if (b.size == 0) {
		astra_buf_dispose(&b);
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_KUBE,
		        "cluster \"%s\": tokenFile %s is empty",
		        k->cfg->context, k->cfg->token_file);
	}
	char *tok = astra__buf_detach(&b);
	if (!tok)
		return ASTRA_ENOMEM;
	*changed = !k->file_token || strcmp(k->file_token, tok) != 0;
	astra__free_secret_str(k->file_token);
	k->file_token = tok;
	k->file_token_ns = astra__mono_ns();
	return 0;
}

static int run_exec(astra__kube *k)
{
	astra__kube_cred c;
	int rc = astra__kube_exec_run(k->cfg, k->exec_timeout_ms, &c);
	if (rc)
		return astra__err_prefix(rc, "cluster \"%s\"", k->cfg->context);
	astra__kube_cred_clear(&k->cred);
	k->cred = c;
	k->have_cred = 1;
	if (c.cert_pem) {
		rc = astra__http_set_client_cert(
		        k->http, c.cert_pem, c.cert_len, c.key_pem, c.key_len);
		if (rc)
			return rc;
	}
	astra__log_debug("cluster \"%s\": credential plugin \"%s\" gave a "
	                 "credential%s",
	        k->cfg->context, k->cfg->exec->command,
	        c.expiry ? " with an expiry" : " without expiry");
	return 0;
}

static int kube_auth(void *p, int refresh, char **line)
{
	astra__kube *k = p;
	const astra__kubeconfig *cfg = k->cfg;
	int rc = 0;
	*line = NULL;
	pthread_mutex_lock(&k->auth_mu);
	if (cfg->exec) {
		if (refresh) {
			rc = run_exec(k);
			rc = rc ? rc : 1;
			goto done;
		}
		int64_t now = astra__wall_ns() / 1000000000LL;
		if (!k->have_cred ||
		        (k->cred.expiry &&
		                now + EXEC_EXPIRY_SKEW_S >= k->cred.expiry)) {
			if ((rc = run_exec(k)))
				goto done;
		}
		if (k->cred.token)
			rc = bearer(line, k->cred.token);
	} else if (cfg->token) {
		rc = refresh ? 0 : bearer(line, cfg->token);
	} else if (cfg->token_file) {
		int changed = 0;
		if (refresh || !k->file_token ||
		        astra__mono_ns() - k->file_token_ns >
		                TOKEN_FILE_TTL_NS) {
			if ((rc = read_token_file(k, &changed)))
				goto done;
		}
		if (refresh) {
			rc = changed;
			goto done;
		}
		rc = bearer(line, k->file_token);
	} else if (cfg->username && cfg->password && !refresh) {
		char *up =
		        astra__aprintf("%s:%s", cfg->username, cfg->password);
		astra_buf b = ASTRA_BUF_INIT;
		if (!up) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		rc = astra__kube_b64encode(&b, up, strlen(up));
		astra__free_secret_str(up);
		if (!rc) {
			*line = astra__aprintf(
			        "Authorization: Basic %s", b.ptr);
			if (!*line)
				rc = ASTRA_ENOMEM;
		}
		astra_buf_dispose(&b);
	}
done:
	pthread_mutex_unlock(&k->auth_mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Open / free                                                         */
/* ------------------------------------------------------------------ */

int astra__kube_open(astra__kube **out, const astra__kube_options *opts)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	astra__kubeconfig *cfg = NULL;
	int rc = astra__kubeconfig_load(&cfg, opts ? opts->kubeconfig : NULL,
	        opts ? opts->context : NULL);
	if (rc)
		return rc;
	return astra__kube_open_config(out, cfg, opts);
}

/* Appends "name: value". A value with a control character (CR/LF would
 * start a header of its own) is refused. */
static int add_header(astra__kube *k, const char *name, const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
			        "kubeconfig %s: user \"%s\": the value for %s "
			        "contains a control character",
			        k->cfg->source ? k->cfg->source : "",
			        k->cfg->user_name ? k->cfg->user_name : "",
			        name);
	char **h = astra__reallocarray(
	        k->extra_headers, k->nextra_headers + 2, sizeof(char *));
	ASTRA_CHECK_ALLOC(h);
	k->extra_headers = h;
	h[k->nextra_headers] = astra__aprintf("%s: %s", name, v);
	ASTRA_CHECK_ALLOC(h[k->nextra_headers]);
	h[++k->nextra_headers] = NULL;
	return 0;
}

/* "Impersonate-Extra-<key>": characters that may not appear in a header
 * name are percent-encoded, as the API server expects. */
static int add_extra_header(astra__kube *k, const char *key, const char *v)
{
	static const char tchar[] = "!#$&'*+-.^_`|~";
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__buf_puts(&b, "Impersonate-Extra-");
	for (const unsigned char *p = (const unsigned char *)key; !rc && *p;
	        p++) {
		if (isalnum(*p) || (*p != '%' && strchr(tchar, *p)))
			rc = astra__buf_put(&b, (const char *)p, 1);
		else
			rc = astra__buf_printf(&b, "%%%02X", *p);
	}
	if (!rc)
		rc = add_header(k, b.ptr, v);
	astra_buf_dispose(&b);
	return rc;
}

/* The impersonation headers of kubeconfig as, as-uid, as-groups and
 * as-user-extra (the Kubernetes impersonation API). */
static int add_impersonation(astra__kube *k)
{
	const astra__kubeconfig *cfg = k->cfg;
	int rc = 0;
	if (!cfg->impersonate_user &&
	        (cfg->impersonate_uid || cfg->nimpersonate_groups ||
	                cfg->nimpersonate_extra))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: user \"%s\": as-uid, as-groups and "
		        "as-user-extra need as (the user to impersonate)",
		        cfg->source ? cfg->source : "",
		        cfg->user_name ? cfg->user_name : "");
	if (cfg->impersonate_user &&
	        (rc = add_header(k, "Impersonate-User", cfg->impersonate_user)))
		return rc;
	if (cfg->impersonate_uid &&
	        (rc = add_header(k, "Impersonate-Uid", cfg->impersonate_uid)))
		return rc;
	for (size_t i = 0; i < cfg->nimpersonate_groups; i++)
		if ((rc = add_header(k, "Impersonate-Group",
		             cfg->impersonate_groups[i])))
			return rc;
	for (size_t i = 0; i < cfg->nimpersonate_extra; i++)
		if ((rc = add_extra_header(k, cfg->impersonate_extra[i].name,
		             cfg->impersonate_extra[i].value)))
			return rc;
	return 0;
}

/* Loud about the switches that turn transport security off. */
static void warn_insecure(const astra__kubeconfig *cfg)
{
	char url[512], what[800];
	astra__http_redact_url(cfg->server, url, sizeof(url));
	snprintf(what, sizeof(what),
	        "cluster \"%s\" (%s, insecure-skip-tls-verify)",
	        cfg->cluster_name ? cfg->cluster_name : cfg->context, url);
	if (cfg->insecure)
		astra__http_warn_insecure(what);
	if (cfg->allow_plain_http_credentials &&
	        !strncmp(cfg->server, "http://", 7))
		astra__log_warn("cluster \"%s\": credentials go unencrypted to "
		                "%s (allowed by the kubeconfig extension %s)",
		        cfg->cluster_name ? cfg->cluster_name : cfg->context,
		        url, ASTRA_KUBE_EXT_PLAIN_HTTP);
}

int astra__kube_open_config(
        astra__kube **out, astra__kubeconfig *cfg, const astra__kube_options *o)
{
	ASTRA_ASSERT_ARG(out && cfg);
	*out = NULL;
	astra__kube_options def;
	memset(&def, 0, sizeof(def));
	if (!o)
		o = &def;
	astra__kube *k = astra__calloc(1, sizeof(*k));
	if (!k) {
		astra__kubeconfig_free(cfg);
		return ASTRA_ENOMEM;
	}
	k->cfg = cfg;
	pthread_mutex_init(&k->auth_mu, NULL);
	pthread_mutex_init(&k->disc_mu, NULL);
	k->exec_timeout_ms = o->exec_timeout_ms ? o->exec_timeout_ms : 120000;
	k->cancel = o->cancel;

	astra__http_config hc;
	astra__http_config_init(&hc);
	hc.ca_pem = cfg->ca_data;
	hc.ca_pem_len = cfg->ca_data_len;
	hc.insecure = cfg->insecure;
	hc.cert_pem = cfg->cert_data;
	hc.cert_pem_len = cfg->cert_data_len;
	hc.key_pem = cfg->key_data;
	hc.key_pem_len = cfg->key_data_len;
	hc.tls_server_name = cfg->tls_server_name;
	hc.proxy = cfg->proxy_url;
	if (o->timeout_ms)
		hc.timeout_ms = o->timeout_ms;
	if (o->connect_timeout_ms)
		hc.connect_timeout_ms = o->connect_timeout_ms;
	if (o->retry_budget_ms)
		hc.retry_budget_ms = o->retry_budget_ms;
	hc.qps = o->qps == 0 ? 100.0 : o->qps;
	hc.burst = o->burst ? o->burst : 200;
	hc.http2 = !o->http1;
	hc.compress = o->compress > 0 ||
	              (o->compress == 0 && !cfg->disable_compression);
	hc.auth = kube_auth;
	hc.auth_payload = k;
	int rc = astra__http_new(&k->http, &hc);
	if (rc)
		goto fail;
	if ((rc = add_impersonation(k)))
		goto fail;
	warn_insecure(cfg);
	*out = k;
	return 0;
fail:
	astra__kube_free(k);
	return rc;
}

void astra__kube_free(astra__kube *k)
{
	if (!k)
		return;
	astra__http_free(k->http);
	astra__kube_disc_drop(k);
	astra__kube_cred_clear(&k->cred);
	astra__free_secret_str(k->file_token);
	for (size_t i = 0; i < k->nextra_headers; i++)
		free(k->extra_headers[i]);
	free(k->extra_headers);
	astra__kubeconfig_free(k->cfg);
	pthread_mutex_destroy(&k->auth_mu);
	pthread_mutex_destroy(&k->disc_mu);
	free(k);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Copies at most n printable characters of s. */
static void printable(char *dst, size_t dn, const char *s, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < dn; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[j++] = (c >= 32 && c < 127) ? (char)c : ' ';
	}
	dst[j] = '\0';
}

int astra__kube_status_error(const char *context, long status, const char *body,
        size_t len, const char *verb, const char *what)
{
	astra__json *j = NULL;
	const char *reason = NULL, *message = NULL;
	char raw[256] = "";
	int saved_code = astra_error_last()->code;
	(void)saved_code;
	if (body && len && astra__json_parse(&j, body, len, "status") == 0 &&
	        astra__json_type_of(j) == ASTRA_JSON_OBJECT) {
		reason = astra__json_str(j, "reason");
		message = astra__json_str(j, "message");
	}
	if (!message && body && len)
		printable(raw, sizeof(raw), body, len);
	int code;
	const char *shortmsg;
	switch (status) {
	case 400:
		code = ASTRA_EINVALID;
		shortmsg = "bad request";
		break;
	case 401:
		code = ASTRA_EAUTH;
		shortmsg = "unauthorized: the server rejected the credentials";
		break;
	case 403:
		code = ASTRA_EAUTH;
		shortmsg = "forbidden";
		break;
	case 404:
		code = ASTRA_ENOTFOUND;
		shortmsg = "not found";
		break;
	case 405:
	case 406:
	case 415:
		code = ASTRA_ENOTSUPPORTED;
		shortmsg = "not supported by the server";
		break;
	case 409:
		if (reason && !strcmp(reason, "AlreadyExists")) {
			code = ASTRA_EEXISTS;
			shortmsg = "already exists";
		} else {
			code = ASTRA_ECONFLICT;
			shortmsg = "conflict";
		}
		break;
	case 410:
		code = ASTRA_ECONFLICT;
		shortmsg = "expired (resource version too old)";
		break;
	case 413:
		code = ASTRA_EINVALID;
		shortmsg = "request too large";
		break;
	case 422:
		code = ASTRA_EINVALID;
		shortmsg = "invalid";
		break;
	case 429:
		code = ASTRA_EBUSY;
		shortmsg = "too many requests (server throttling)";
		break;
	case 502:
	case 503:
		code = ASTRA_ENET;
		shortmsg = "service unavailable";
		break;
	case 504:
		code = ASTRA_ETIMEOUT;
		shortmsg = "server timeout";
		break;
	default:
		code = status >= 500 ? ASTRA_ERROR : ASTRA_EINVALID;
		shortmsg = status >= 500 ? "server error" : "request failed";
		break;
	}
	astra__err(code, ASTRA_ERROR_KUBE,
	        "cluster \"%s\": %s %s: %s (HTTP %ld%s%s: %.500s)",
	        context ? context : "", verb ? verb : "request",
	        what ? what : "", shortmsg, status, reason ? " " : "",
	        reason ? reason : "", message ? message : raw);
	astra__json_free(j);
	return code;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

int astra__kube_do(astra__kube *k, const astra__kube_req *rq, astra_buf *out,
        char **content_type)
{
	ASTRA_ASSERT_ARG(k && rq && rq->path);
	if (content_type)
		*content_type = NULL;
	const char *method = rq->method ? rq->method : "GET";
	char *url = astra__aprintf("%s%s", k->cfg->server, rq->path);
	char *accept = astra__aprintf(
	        "Accept: %s", rq->accept ? rq->accept : "application/json");
	char *ctype = NULL;
	if (rq->body)
		ctype = astra__aprintf("Content-Type: %s",
		        rq->content_type ? rq->content_type
		                         : "application/json");
	const char **hdrs =
	        astra__calloc(k->nextra_headers + 3, sizeof(char *));
	int rc = 0;
	if (!url || !accept || (rq->body && !ctype) || !hdrs) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	size_t nh = 0;
	hdrs[nh++] = accept;
	if (ctype)
		hdrs[nh++] = ctype;
	for (size_t i = 0; i < k->nextra_headers; i++)
		hdrs[nh++] = k->extra_headers[i];
	hdrs[nh] = NULL;

	astra__http_request hr;
	memset(&hr, 0, sizeof(hr));
	hr.method = method;
	hr.url = url;
	hr.headers = hdrs;
	hr.body = rq->body;
	hr.body_len = rq->body_len;
	hr.write = rq->write;
	hr.write_payload = rq->write_payload;
	hr.timeout_ms = rq->timeout_ms;
	hr.retry = rq->idempotent ? ASTRA_HTTP_RETRY_IDEMPOTENT
	                          : ASTRA_HTTP_RETRY_AUTO;
	hr.op = rq->op;
	astra__op defop;
	if (!hr.op && k->cancel) {
		astra__op_init(&defop, NULL, NULL, k->cancel);
		hr.op = &defop;
	}
	astra__http_response resp = ASTRA_HTTP_RESPONSE_INIT;
	rc = astra__http_do(k->http, &hr, &resp);
	if (rc) {
		rc = astra__err_prefix(rc, "cluster \"%s\": %s %s",
		        k->cfg->context, rq->verb ? rq->verb : method,
		        rq->what ? rq->what : rq->path);
		goto resp_done;
	}
	if (resp.status >= 200 && resp.status < 300) {
		if (content_type) {
			const char *ct =
			        astra__http_header(&resp, "Content-Type");
			*content_type = astra__strdup(ct ? ct : "");
			if (!*content_type) {
				rc = ASTRA_ENOMEM;
				goto resp_done;
			}
		}
		if (out) {
			astra_buf_dispose(out);
			*out = resp.body;
			memset(&resp.body, 0, sizeof(resp.body));
			if (!out->ptr)
				rc = astra__buf_grow(out, 0);
		}
		goto resp_done;
	}
	rc = astra__kube_status_error(k->cfg->context, resp.status,
	        resp.body.ptr, resp.body.size, rq->verb ? rq->verb : method,
	        rq->what ? rq->what : rq->path);
	if (resp.status == 401) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", astra_error_last()->message);
		astra__err(rc, ASTRA_ERROR_KUBE,
		        "%s; the credentials of user \"%s\" (%s) were rejected: "
		        "expired or wrong",
		        msg, k->cfg->user_name ? k->cfg->user_name : "",
		        k->cfg->exec         ? "exec plugin"
		        : k->cfg->token      ? "token"
		        : k->cfg->token_file ? "token file"
		        : k->cfg->cert_data  ? "client certificate"
		        : k->cfg->username   ? "basic auth"
		                             : "anonymous");
	}
resp_done:
	astra__http_response_dispose(&resp);
done:
	free(url);
	free(accept);
	free(ctype);
	free(hdrs);
	return rc;
}

int astra__kube_get_json(
        astra__kube *k, const char *path, const char *what, astra__json **out)
{
	astra_buf b = ASTRA_BUF_INIT;
	*out = NULL;
	astra__kube_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.path = path;
	rq.verb = "get";
	rq.what = what ? what : path;
	int rc = astra__kube_do(k, &rq, &b, NULL);
	if (!rc) {
		char name[512];
		snprintf(name, sizeof(name), "cluster \"%s\": response of %s",
		        k->cfg->context, path);
		rc = astra__json_parse(out, b.ptr, b.size, name);
	}
	astra_buf_dispose(&b);
	return rc;
}

int astra__kube_server_version(astra__kube *k, astra_buf *out)
{
	astra__json *j;
	int rc = astra__kube_get_json(k, "/version", "the server version", &j);
	if (rc)
		return rc;
	const char *v = astra__json_str(j, "gitVersion");
	if (!v)
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "cluster \"%s\": /version has no gitVersion",
		        k->cfg->context);
	else
		rc = astra__buf_puts(out, v);
	astra__json_free(j);
	return rc;
}
