/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/kubeconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/map.h"
#include "fmt/json.h"
#include "fmt/yaml.h"
#include "kube/util.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct {
	char *path;
	char *dir;
	astra__json *doc;
	astra__yaml_lines *lines;
} kfile;

typedef struct {
	kfile *f;
	const astra__json *entry; /* {name, cluster|user|context} */
} named;

typedef struct {
	kfile **files; /* each allocated: entries point at them */
	size_t nfiles;
	astra__map clusters, users, contexts; /* name -> named* */
	const char *current; /* borrowed from a document */
	kfile *current_file;
} merged;

static void exec_free(astra__kube_exec *e)
{
	if (!e)
		return;
	free(e->api_version);
	free(e->command);
	for (size_t i = 0; i < e->nargs; i++)
		free(e->args[i]);
	free(e->args);
	for (size_t i = 0; i < e->nenv; i++) {
		free(e->env[i].name);
		astra__free_secret_str(e->env[i].value);
	}
	free(e->env);
	free(e->install_hint);
	free(e->interactive_mode);
	free(e->dir);
	free(e);
}

void astra__kubeconfig_free(astra__kubeconfig *c)
{
	if (!c)
		return;
	free(c->context);
	free(c->source);
	free(c->namespace);
	for (size_t i = 0; i < c->ncontexts; i++)
		free(c->contexts[i]);
	free(c->contexts);
	free(c->cluster_name);
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->tls_server_name);
	free(c->proxy_url);
	free(c->user_name);
	astra__free_secret_str(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	astra__free_secret(c->key_data, c->key_data_len);
	free(c->username);
	astra__free_secret_str(c->password);
	exec_free(c->exec);
	free(c->impersonate_user);
	free(c->impersonate_uid);
	for (size_t i = 0; i < c->nimpersonate_groups; i++)
		free(c->impersonate_groups[i]);
	free(c->impersonate_groups);
	for (size_t i = 0; i < c->nimpersonate_extra; i++) {
		free(c->impersonate_extra[i].name);
		free(c->impersonate_extra[i].value);
	}
	free(c->impersonate_extra);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static size_t line_of(const kfile *f, const astra__json *node)
{
	return f ? astra__yaml_line(f->lines, node) : 0;
}

static int bad(const kfile *f, const astra__json *node, const char *fmt, ...)
        ASTRA_PRINTF(3, 4);

/* ASTRA_EPARSE "FILE: line N: message" */
static int bad(const kfile *f, const astra__json *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t line = line_of(f, node);
	if (line)
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: line %zu: %s", f->path, line, msg);
	return astra__err(ASTRA_EPARSE, ASTRA_ERROR_CONFIG, "kubeconfig %s: %s",
	        f ? f->path : "(input)", msg);
}

/* A string member; NULL when absent or null. EPARSE when another type. */
static int get_str(const kfile *f, const astra__json *obj, const char *key,
        const char *where, const char **out)
{
	*out = NULL;
	const astra__json *m = astra__json_get(obj, key);
	if (!m || astra__json_type_of(m) == ASTRA_JSON_NULL)
		return 0;
	if (astra__json_type_of(m) != ASTRA_JSON_STRING)
		return bad(f, m, "%s.%s must be a string", where, key);
	*out = astra__json_string_value(m);
	return 0;
}

static int get_bool(const kfile *f, const astra__json *obj, const char *key,
        const char *where, int *out)
{
	*out = 0;
	const astra__json *m = astra__json_get(obj, key);
	if (!m || astra__json_type_of(m) == ASTRA_JSON_NULL)
		return 0;
	if (astra__json_type_of(m) != ASTRA_JSON_BOOL)
		return bad(f, m, "%s.%s must be true or false", where, key);
	*out = astra__json_bool(obj, key, 0);
	return 0;
}

static int dup_str(char **dst, const char *s)
{
	*dst = NULL;
	if (!s || !*s)
		return 0;
	*dst = astra__strdup(s);
	return *dst ? 0 : ASTRA_ENOMEM;
}

/* Resolves a relative path against dir. */
static int resolve_path(char **dst, const char *dir, const char *p)
{
	*dst = NULL;
	if (!p || !*p)
		return 0;
	if (p[0] == '/' || !dir)
		*dst = astra__strdup(p);
	else
		*dst = astra__aprintf("%s/%s", dir, p);
	return *dst ? 0 : ASTRA_ENOMEM;
}

static int b64_field(const kfile *f, const astra__json *obj, const char *key,
        const char *where, char **out, size_t *outlen)
{
	const char *v;
	*out = NULL;
	*outlen = 0;
	int rc = get_str(f, obj, key, where, &v);
	if (rc || !v || !*v)
		return rc;
	astra_buf b = ASTRA_BUF_INIT;
	rc = astra__kube_b64decode(&b, v, strlen(v));
	if (rc == -1) {
		astra_buf_dispose(&b);
		return bad(f, astra__json_get(obj, key),
		        "%s.%s is not valid base64", where, key);
	}
	if (rc) {
		astra_buf_dispose(&b);
		return rc;
	}
	*outlen = b.size;
	*out = astra__buf_detach(&b);
	return *out ? 0 : ASTRA_ENOMEM;
}

static int read_pem(const char *path, const char *what, const char *owner,
        char **out, size_t *len)
{
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__fmt_read_file(&b, path, 16 << 20);
	if (rc) {
		astra_buf_dispose(&b);
		return astra__err_prefix(rc, "%s of %s", what, owner);
	}
	*len = b.size;
	*out = astra__buf_detach(&b);
	return *out ? 0 : ASTRA_ENOMEM;
}

static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		char cwd[4096];
		if (getcwd(cwd, sizeof(cwd)))
			return astra__strdup(cwd);
		return astra__strdup(".");
	}
	if (slash == path)
		return astra__strdup("/");
	return astra__strndup(path, (size_t)(slash - path));
}

/* ------------------------------------------------------------------ */
/* Merging                                                             */
/* ------------------------------------------------------------------ */

static void merged_free(merged *m)
{
	const char *k;
	void *v;
	size_t pos;
	astra__map *maps[] = { &m->clusters, &m->users, &m->contexts };
	for (int i = 0; i < 3; i++) {
		pos = 0;
		while (astra__map_next(maps[i], &pos, &k, &v))
			free(v);
		astra__map_free(maps[i]);
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		free(m->files[i]->path);
		free(m->files[i]->dir);
		astra__json_free(m->files[i]->doc);
		astra__yaml_lines_free(m->files[i]->lines);
		free(m->files[i]);
	}
	free(m->files);
}

/* Adds the named entries of one list (clusters, users, contexts). */
static int merge_list(merged *m, kfile *f, const char *list, const char *inner,
        astra__map *into)
{
	const astra__json *arr = astra__json_get(f->doc, list);
	if (!arr || astra__json_type_of(arr) == ASTRA_JSON_NULL)
		return 0;
	if (astra__json_type_of(arr) != ASTRA_JSON_ARRAY)
		return bad(f, arr, "%s must be a list", list);
	astra__map seen = ASTRA_MAP_INIT;
	int rc = 0;
	for (size_t i = 0; i < astra__json_size(arr); i++) {
		const astra__json *e = astra__json_at(arr, i);
		if (astra__json_type_of(e) != ASTRA_JSON_OBJECT) {
			rc = bad(f, e, "%s[%zu] must be a mapping", list, i);
			break;
		}
		const char *name = astra__json_str(e, "name");
		if (!name || !*name) {
			rc = bad(f, e, "%s[%zu] has no name", list, i);
			break;
		}
		const astra__json *body = astra__json_get(e, inner);
		if (body && astra__json_type_of(body) != ASTRA_JSON_OBJECT &&
		        astra__json_type_of(body) != ASTRA_JSON_NULL) {
			rc = bad(f, body, "%s[%zu].%s must be a mapping", list,
			        i, inner);
			break;
		}
		if (astra__map_has(&seen, name)) {
			rc = bad(f, e, "%s[%zu]: duplicate name \"%s\"", list,
			        i, name);
			break;
		}
		if ((rc = astra__map_set(&seen, name, NULL, NULL)))
			break;
		if (astra__map_has(into, name))
			continue; /* an earlier file wins */
		named *n = astra__malloc(sizeof(*n));
		if (!n) {
			rc = ASTRA_ENOMEM;
			break;
		}
		n->f = f;
		n->entry = e;
		if ((rc = astra__map_set(into, name, n, NULL))) {
			free(n);
			break;
		}
	}
	astra__map_free(&seen);
	(void)m;
	return rc;
}

static int add_text(merged *m, const char *text, size_t len, const char *path,
        const char *dir)
{
	kfile **nf = astra__reallocarray(m->files, m->nfiles + 1, sizeof(*nf));
	ASTRA_CHECK_ALLOC(nf);
	m->files = nf;
	kfile *f = astra__calloc(1, sizeof(*f));
	ASTRA_CHECK_ALLOC(f);
	nf[m->nfiles++] = f;
	f->path = astra__strdup(path);
	f->dir = dir ? astra__strdup(dir) : dirname_of(path);
	if (!f->path || !f->dir)
		return ASTRA_ENOMEM;
	char what[4200];
	snprintf(what, sizeof(what), "kubeconfig %s", path);
	int rc = astra__yaml_parse_lines(&f->doc, &f->lines, text, len, what);
	if (rc)
		return rc;
	astra__json_type t = astra__json_type_of(f->doc);
	if (t == ASTRA_JSON_NULL)
		return 0; /* an empty file */
	if (t != ASTRA_JSON_OBJECT)
		return bad(f, f->doc, "the document must be a mapping");
	const char *kind;
	if ((rc = get_str(f, f->doc, "kind", "kubeconfig", &kind)))
		return rc;
	if (kind && strcmp(kind, "Config"))
		return bad(f, astra__json_get(f->doc, "kind"),
		        "kind is \"%.40s\", expected \"Config\"", kind);
	const char *cur;
	if ((rc = get_str(f, f->doc, "current-context", "kubeconfig", &cur)))
		return rc;
	if (cur && *cur && !m->current) {
		m->current = cur;
		m->current_file = f;
	}
	if ((rc = merge_list(m, f, "clusters", "cluster", &m->clusters)) ||
	        (rc = merge_list(m, f, "users", "user", &m->users)) ||
	        (rc = merge_list(m, f, "contexts", "context", &m->contexts)))
		return rc;
	return 0;
}

static int add_file(merged *m, const char *path, int must_exist, int *found)
{
	struct stat st;
	*found = 0;
	if (stat(path, &st) != 0) {
		if (!must_exist && errno == ENOENT)
			return 0;
		return astra__err_os("kubeconfig %s", path);
	}
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__fmt_read_file(&b, path, 0);
	if (rc) {
		astra_buf_dispose(&b);
		return astra__err_prefix(rc, "kubeconfig");
	}
	*found = 1;
	rc = add_text(m, b.ptr, b.size, path, NULL);
	astra_buf_dispose(&b);
	return rc;
}

/* Splits a ':' list and loads every file; returns how many exist. */
static int add_list(merged *m, const char *list, int must_exist, int *nfound)
{
	*nfound = 0;
	char *copy = astra__strdup(list);
	ASTRA_CHECK_ALLOC(copy);
	astra__map seen = ASTRA_MAP_INIT;
	int rc = 0;
	char *save = NULL;
	for (char *p = strtok_r(copy, ":", &save); p && !rc;
	        p = strtok_r(NULL, ":", &save)) {
		if (!*p || astra__map_has(&seen, p))
			continue;
		if ((rc = astra__map_set(&seen, p, NULL, NULL)))
			break;
		int found;
		rc = add_file(m, p, must_exist, &found);
		*nfound += found;
	}
	astra__map_free(&seen);
	free(copy);
	return rc;
}

static const char *file_list(const merged *m, char *buf, size_t n)
{
	buf[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < m->nfiles && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
		        i ? ", " : "", m->files[i]->path);
	return m->nfiles ? buf : "(no files)";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int context_names(const merged *m, astra__kubeconfig *c)
{
	size_t n = m->contexts.n, i = 0, pos = 0;
	const char *k;
	void *v;
	c->contexts = astra__calloc(n ? n : 1, sizeof(char *));
	ASTRA_CHECK_ALLOC(c->contexts);
	while (astra__map_next(&m->contexts, &pos, &k, &v) && i < n) {
		c->contexts[i] = astra__strdup(k);
		ASTRA_CHECK_ALLOC(c->contexts[i]);
		c->ncontexts = ++i;
	}
	qsort(c->contexts, c->ncontexts, sizeof(char *), cmp_str);
	return 0;
}

static void join_names(const astra__kubeconfig *c, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < c->ncontexts && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s",
		        i ? ", " : "", c->contexts[i]);
}

/* ------------------------------------------------------------------ */
/* Resolution of one context                                           */
/* ------------------------------------------------------------------ */

/* cluster.extensions: [{name, extension}]; only ours is read. */
static int resolve_extensions(astra__kubeconfig *c, kfile *f,
        const astra__json *cl, const char *where)
{
	const astra__json *ext = astra__json_get(cl, "extensions");
	if (!ext || astra__json_type_of(ext) == ASTRA_JSON_NULL)
		return 0;
	if (astra__json_type_of(ext) != ASTRA_JSON_ARRAY)
		return bad(f, ext, "%s.extensions must be a list", where);
	for (astra__json *it = astra__json_first(ext); it;
	        it = astra__json_next(it)) {
		const char *name = astra__json_str(it, "name");
		if (!name || strcmp(name, ASTRA_KUBE_EXT_PLAIN_HTTP))
			continue;
		const astra__json *v = astra__json_get(it, "extension");
		if (astra__json_type_of(v) != ASTRA_JSON_OBJECT)
			return bad(f, it,
			        "%s: extension %s must be a mapping "
			        "({allowCredentials: true})",
			        where, name);
		char w[400];
		snprintf(w, sizeof(w), "%s.extensions[%s]", where, name);
		int rc = get_bool(f, v, "allowCredentials", w,
		        &c->allow_plain_http_credentials);
		if (rc)
			return rc;
	}
	return 0;
}

/* 1 when the host of URL `u` (scheme://[userinfo@]host[:port]/...) is
 * localhost, an address in 127.0.0.0/8 or ::1. */
static int url_is_loopback(const char *u)
{
	const char *p = strstr(u, "://");
	if (!p)
		return 0;
	p += 3;
	size_t n = strcspn(p, "/?#");
	char auth[300];
	if (n >= sizeof(auth))
		return 0;
	memcpy(auth, p, n);
	auth[n] = '\0';
	char *host = strrchr(auth, '@');
	host = host ? host + 1 : auth;
	if (*host == '[') {
		char *end = strchr(host, ']');
		if (!end)
			return 0;
		*end = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, host + 1, &a6) == 1 &&
		       !memcmp(&a6, &in6addr_loopback, sizeof(a6));
	}
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
	if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		return 1;
	struct in_addr a4;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

/*
 * Credentials never go unencrypted over the network by accident: a user
 * with a token, a password or an exec plugin and a plain http:// server
 * that is not on loopback needs the cluster's explicit opt-in.
 */
static int check_plain_http(
        const astra__kubeconfig *c, const named *cl, const named *u)
{
	const char *kind = c->exec                      ? "an exec plugin"
	                   : c->token || c->token_file  ? "a bearer token"
	                   : c->username || c->password ? "a username and "
	                                                  "password"
	                                                : NULL;
	if (!kind || strncmp(c->server, "http://", 7) ||
	        url_is_loopback(c->server) || c->allow_plain_http_credentials)
		return 0;
	const astra__json *srv = astra__json_get(
	        astra__json_get(cl->entry, "cluster"), "server");
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
	        "kubeconfig %s: line %zu: cluster \"%s\" has the plain "
	        "http:// server %.200s and user \"%s\" (%s, line %zu) has %s "
	        "credential, which would cross the network unencrypted; use "
	        "https://, or allow it with the cluster extension \"%s\" "
	        "{allowCredentials: true}",
	        cl->f->path, line_of(cl->f, srv), c->cluster_name, c->server,
	        c->user_name ? c->user_name : "", u->f->path,
	        line_of(u->f, u->entry), kind, ASTRA_KUBE_EXT_PLAIN_HTTP);
}

static int resolve_cluster(astra__kubeconfig *c, const named *n)
{
	kfile *f = n->f;
	const astra__json *cl = astra__json_get(n->entry, "cluster");
	char where[300];
	snprintf(where, sizeof(where), "cluster \"%.200s\"", c->cluster_name);
	const char *server, *ca, *tsn, *proxy;
	int rc;
	if ((rc = get_str(f, cl, "server", where, &server)) ||
	        (rc = get_str(f, cl, "certificate-authority", where, &ca)) ||
	        (rc = get_str(f, cl, "tls-server-name", where, &tsn)) ||
	        (rc = get_str(f, cl, "proxy-url", where, &proxy)) ||
	        (rc = get_bool(f, cl, "insecure-skip-tls-verify", where,
	                 &c->insecure)) ||
	        (rc = get_bool(f, cl, "disable-compression", where,
	                 &c->disable_compression)))
		return rc;
	if (!server || !*server)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: line %zu: %s has no server", f->path,
		        line_of(f, n->entry), where);
	const astra__json *cad =
	        astra__json_get(cl, "certificate-authority-data");
	if (c->insecure && ((ca && *ca) || (cad && astra__json_type_of(cad) !=
	                                                   ASTRA_JSON_NULL)))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: line %zu: %s sets both "
		        "insecure-skip-tls-verify and certificate-authority%s: "
		        "a CA to verify the server with and no verification "
		        "contradict each other (kubectl refuses this too); "
		        "remove one of them",
		        f->path,
		        line_of(f, astra__json_get(
		                           cl, "insecure-skip-tls-verify")),
		        where, ca && *ca ? "" : "-data");
	if ((rc = resolve_extensions(c, f, cl, where)))
		return rc;
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
		return bad(f, astra__json_get(cl, "server"),
		        "%s: server \"%.200s\" is not an http(s) URL", where,
		        server);
	if ((rc = dup_str(&c->server, server)) ||
	        (rc = dup_str(&c->tls_server_name, tsn)) ||
	        (rc = dup_str(&c->proxy_url, proxy)) ||
	        (rc = resolve_path(&c->ca_file, f->dir, ca)) ||
	        (rc = b64_field(f, cl, "certificate-authority-data", where,
	                 &c->ca_data, &c->ca_data_len)))
		return rc;
	size_t sl = strlen(c->server);
	while (sl > 0 && c->server[sl - 1] == '/')
		c->server[--sl] = '\0';
	if (!c->ca_data && c->ca_file) {
		if ((rc = read_pem(c->ca_file, "certificate-authority", where,
		             &c->ca_data, &c->ca_data_len)))
			return rc;
	}
	return 0;
}

static int resolve_exec(astra__kubeconfig *c, kfile *f, const astra__json *ex,
        const char *where)
{
	if (astra__json_type_of(ex) != ASTRA_JSON_OBJECT)
		return bad(f, ex, "%s.exec must be a mapping", where);
	astra__kube_exec *e = astra__calloc(1, sizeof(*e));
	ASTRA_CHECK_ALLOC(e);
	c->exec = e;
	const char *api, *cmd, *hint, *mode;
	int rc;
	if ((rc = get_str(f, ex, "apiVersion", where, &api)) ||
	        (rc = get_str(f, ex, "command", where, &cmd)) ||
	        (rc = get_str(f, ex, "installHint", where, &hint)) ||
	        (rc = get_str(f, ex, "interactiveMode", where, &mode)) ||
	        (rc = get_bool(f, ex, "provideClusterInfo", where,
	                 &e->provide_cluster_info)))
		return rc;
	if (!cmd || !*cmd)
		return bad(f, ex, "%s.exec has no command", where);
	if (!api ||
	        (strcmp(api, "client.authentication.k8s.io/v1") &&
	                strcmp(api, "client.authentication.k8s.io/v1beta1")))
		return bad(f, ex,
		        "%s.exec.apiVersion \"%.80s\" is not supported "
		        "(client.authentication.k8s.io/v1 or v1beta1)",
		        where, api ? api : "");
	if (mode && strcmp(mode, "Never") && strcmp(mode, "IfAvailable") &&
	        strcmp(mode, "Always"))
		return bad(f, astra__json_get(ex, "interactiveMode"),
		        "%s.exec.interactiveMode \"%.40s\" must be Never, "
		        "IfAvailable or Always",
		        where, mode);
	if ((rc = dup_str(&e->api_version, api)) ||
	        (rc = dup_str(&e->install_hint, hint)) ||
	        (rc = dup_str(
	                 &e->interactive_mode, mode ? mode : "IfAvailable")))
		return rc;
	e->dir = astra__strdup(f->dir);
	ASTRA_CHECK_ALLOC(e->dir);
	/* a command with a '/' is a path, relative to the kubeconfig */
	if (strchr(cmd, '/'))
		rc = resolve_path(&e->command, f->dir, cmd);
	else
		rc = dup_str(&e->command, cmd);
	if (rc)
		return rc;
	const astra__json *args = astra__json_get(ex, "args");
	if (args && astra__json_type_of(args) != ASTRA_JSON_NULL) {
		if (astra__json_type_of(args) != ASTRA_JSON_ARRAY)
			return bad(
			        f, args, "%s.exec.args must be a list", where);
		size_t n = astra__json_size(args);
		e->args = astra__calloc(n ? n : 1, sizeof(char *));
		ASTRA_CHECK_ALLOC(e->args);
		for (size_t i = 0; i < n; i++) {
			const char *a = astra__json_string_value(
			        astra__json_at(args, i));
			if (!a)
				return bad(f, astra__json_at(args, i),
				        "%s.exec.args[%zu] must be a string",
				        where, i);
			e->args[i] = astra__strdup(a);
			ASTRA_CHECK_ALLOC(e->args[i]);
			e->nargs = i + 1;
		}
	}
	const astra__json *env = astra__json_get(ex, "env");
	if (env && astra__json_type_of(env) != ASTRA_JSON_NULL) {
		if (astra__json_type_of(env) != ASTRA_JSON_ARRAY)
			return bad(f, env, "%s.exec.env must be a list", where);
		size_t n = astra__json_size(env);
		e->env = astra__calloc(n ? n : 1, sizeof(*e->env));
		ASTRA_CHECK_ALLOC(e->env);
		for (size_t i = 0; i < n; i++) {
			const astra__json *v = astra__json_at(env, i);
			const char *name = astra__json_str(v, "name");
			const char *val = astra__json_str(v, "value");
			if (!name || !*name || strchr(name, '=') || !val)
				return bad(f, v,
				        "%s.exec.env[%zu] needs a name and a "
				        "string value",
				        where, i);
			e->env[i].name = astra__strdup(name);
			e->env[i].value = astra__strdup(val);
			e->nenv = i + 1;
			if (!e->env[i].name || !e->env[i].value)
				return ASTRA_ENOMEM;
		}
	}
	return 0;
}

/* as-user-extra: a mapping of keys to lists of strings */
static int resolve_extra(astra__kubeconfig *c, kfile *f,
        const astra__json *extra, const char *where)
{
	if (astra__json_type_of(extra) != ASTRA_JSON_OBJECT)
		return bad(f, extra,
		        "%s.as-user-extra must be a mapping of keys to lists "
		        "of strings",
		        where);
	size_t total = 0;
	for (astra__json *it = astra__json_first(extra); it;
	        it = astra__json_next(it)) {
		if (astra__json_type_of(it) != ASTRA_JSON_ARRAY)
			return bad(f, it,
			        "%s.as-user-extra.%.100s must be a list of "
			        "strings",
			        where, astra__json_key(it));
		total += astra__json_size(it);
	}
	c->impersonate_extra =
	        astra__calloc(total ? total : 1, sizeof(*c->impersonate_extra));
	ASTRA_CHECK_ALLOC(c->impersonate_extra);
	for (astra__json *it = astra__json_first(extra); it;
	        it = astra__json_next(it)) {
		const char *key = astra__json_key(it);
		if (!key || !*key)
			return bad(f, it, "%s.as-user-extra has an empty key",
			        where);
		for (astra__json *v = astra__json_first(it); v;
		        v = astra__json_next(v)) {
			const char *s = astra__json_string_value(v);
			if (!s)
				return bad(f, v,
				        "%s.as-user-extra.%.100s: values must "
				        "be strings",
				        where, key);
			astra__kube_env *e =
			        &c->impersonate_extra[c->nimpersonate_extra];
			e->name = astra__strdup(key);
			e->value = astra__strdup(s);
			c->nimpersonate_extra++;
			if (!e->name || !e->value)
				return ASTRA_ENOMEM;
		}
	}
	return 0;
}

static int resolve_user(astra__kubeconfig *c, const named *n)
{
	kfile *f = n->f;
	const astra__json *u = astra__json_get(n->entry, "user");
	char where[300];
	snprintf(where, sizeof(where), "user \"%.200s\"", c->user_name);
	const char *token, *token_file, *cert, *key, *user, *pass, *as, *as_uid;
	int rc;
	if ((rc = get_str(f, u, "token", where, &token)) ||
	        (rc = get_str(f, u, "tokenFile", where, &token_file)) ||
	        (rc = get_str(f, u, "client-certificate", where, &cert)) ||
	        (rc = get_str(f, u, "client-key", where, &key)) ||
	        (rc = get_str(f, u, "username", where, &user)) ||
	        (rc = get_str(f, u, "password", where, &pass)) ||
	        (rc = get_str(f, u, "as", where, &as)) ||
	        (rc = get_str(f, u, "as-uid", where, &as_uid)))
		return rc;
	if ((rc = dup_str(&c->token, token)) ||
	        (rc = resolve_path(&c->token_file, f->dir, token_file)) ||
	        (rc = resolve_path(&c->cert_file, f->dir, cert)) ||
	        (rc = resolve_path(&c->key_file, f->dir, key)) ||
	        (rc = dup_str(&c->username, user)) ||
	        (rc = dup_str(&c->password, pass)) ||
	        (rc = dup_str(&c->impersonate_user, as)) ||
	        (rc = dup_str(&c->impersonate_uid, as_uid)) ||
	        (rc = b64_field(f, u, "client-certificate-data", where,
	                 &c->cert_data, &c->cert_data_len)) ||
	        (rc = b64_field(f, u, "client-key-data", where, &c->key_data,
	                 &c->key_data_len)))
		return rc;
	if (!c->cert_data && c->cert_file &&
	        (rc = read_pem(c->cert_file, "client-certificate", where,
	                 &c->cert_data, &c->cert_data_len)))
		return rc;
	if (!c->key_data && c->key_file &&
	        (rc = read_pem(c->key_file, "client-key", where, &c->key_data,
	                 &c->key_data_len)))
		return rc;
	if (!!c->cert_data != !!c->key_data)
		return bad(f, u,
		        "%s has a client certificate without a key, or a key "
		        "without a certificate",
		        where);
	if (!c->token && c->token_file && access(c->token_file, R_OK) != 0)
		return astra__err_os(
		        "tokenFile %s of %s", c->token_file, where);
	const astra__json *groups = astra__json_get(u, "as-groups");
	if (groups && astra__json_type_of(groups) == ASTRA_JSON_ARRAY) {
		size_t ng = astra__json_size(groups);
		c->impersonate_groups =
		        astra__calloc(ng ? ng : 1, sizeof(char *));
		ASTRA_CHECK_ALLOC(c->impersonate_groups);
		for (size_t i = 0; i < ng; i++) {
			const char *g = astra__json_string_value(
			        astra__json_at(groups, i));
			if (!g)
				return bad(f, astra__json_at(groups, i),
				        "%s.as-groups[%zu] must be a string",
				        where, i);
			c->impersonate_groups[i] = astra__strdup(g);
			ASTRA_CHECK_ALLOC(c->impersonate_groups[i]);
			c->nimpersonate_groups = i + 1;
		}
	}
	const astra__json *extra = astra__json_get(u, "as-user-extra");
	if (extra && astra__json_type_of(extra) != ASTRA_JSON_NULL &&
	        (rc = resolve_extra(c, f, extra, where)))
		return rc;
	const astra__json *ap = astra__json_get(u, "auth-provider");
	if (ap && astra__json_type_of(ap) == ASTRA_JSON_OBJECT) {
		const char *name = astra__json_str(ap, "name");
		const char *idt = astra__json_str(
		        astra__json_get(ap, "config"), "id-token");
		if (name && !strcmp(name, "oidc") && idt && !c->token) {
			if ((rc = dup_str(&c->token, idt)))
				return rc;
		} else if (!astra__json_get(u, "exec")) {
			return astra__err(ASTRA_ENOTSUPPORTED,
			        ASTRA_ERROR_CONFIG,
			        "kubeconfig %s: line %zu: %s uses auth-provider "
			        "\"%.40s\", which is not supported; use an exec "
			        "credential plugin (e.g. gke-gcloud-auth-plugin, "
			        "kubelogin)",
			        f->path, line_of(f, ap), where,
			        name ? name : "?");
		}
	}
	const astra__json *ex = astra__json_get(u, "exec");
	if (ex && astra__json_type_of(ex) != ASTRA_JSON_NULL)
		return resolve_exec(c, f, ex, where);
	return 0;
}

static int resolve(merged *m, const char *want, astra__kubeconfig **out)
{
	char files[1024], names[1024];
	astra__kubeconfig *c = astra__calloc(1, sizeof(*c));
	ASTRA_CHECK_ALLOC(c);
	int rc = context_names(m, c);
	if (rc)
		goto fail;
	join_names(c, names, sizeof(names));
	file_list(m, files, sizeof(files));
	const char *name = want && *want ? want : m->current;
	if (!name) {
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: current-context is not set and no "
		        "context was given; %s%s",
		        files,
		        c->ncontexts ? "contexts: " : "there are no contexts",
		        names);
		goto fail;
	}
	const named *ctx = astra__map_get(&m->contexts, name);
	if (!ctx) {
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: context \"%s\" not found; %s%s", files,
		        name,
		        c->ncontexts ? "known contexts: "
		                     : "there are no contexts",
		        names);
		goto fail;
	}
	const astra__json *body = astra__json_get(ctx->entry, "context");
	char where[300];
	snprintf(where, sizeof(where), "context \"%.200s\"", name);
	const char *cluster, *user, *ns;
	if ((rc = get_str(ctx->f, body, "cluster", where, &cluster)) ||
	        (rc = get_str(ctx->f, body, "user", where, &user)) ||
	        (rc = get_str(ctx->f, body, "namespace", where, &ns)))
		goto fail;
	if ((rc = dup_str(&c->context, name)) ||
	        (rc = dup_str(&c->source, ctx->f->path)) ||
	        (rc = dup_str(&c->namespace, ns)) ||
	        (rc = dup_str(&c->cluster_name, cluster)) ||
	        (rc = dup_str(&c->user_name, user)))
		goto fail;
	if (!cluster || !*cluster) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: line %zu: %s names no cluster",
		        ctx->f->path, line_of(ctx->f, ctx->entry), where);
		goto fail;
	}
	const named *cl = astra__map_get(&m->clusters, cluster);
	if (!cl) {
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_CONFIG,
		        "kubeconfig %s: line %zu: cluster \"%s\" was not found "
		        "for %s",
		        ctx->f->path, line_of(ctx->f, ctx->entry), cluster,
		        where);
		goto fail;
	}
	if ((rc = resolve_cluster(c, cl)))
		goto fail;
	if (user && *user) {
		const named *u = astra__map_get(&m->users, user);
		if (!u) {
			rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_CONFIG,
			        "kubeconfig %s: line %zu: user \"%s\" was not "
			        "found for %s",
			        ctx->f->path, line_of(ctx->f, ctx->entry), user,
			        where);
			goto fail;
		}
		if ((rc = resolve_user(c, u)) ||
		        (rc = check_plain_http(c, cl, u)))
			goto fail;
	}
	*out = c;
	return 0;
fail:
	astra__kubeconfig_free(c);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

int astra__kubeconfig_parse(astra__kubeconfig **out, const char *text,
        size_t len, const char *what, const char *dir, const char *context)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	merged m;
	memset(&m, 0, sizeof(m));
	int rc = add_text(
	        &m, text, len, what ? what : "(input)", dir ? dir : ".");
	if (!rc)
		rc = resolve(&m, context, out);
	merged_free(&m);
	return rc;
}

static int read_trimmed(const char *path, char **out)
{
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__fmt_read_file(&b, path, 1 << 20);
	if (rc) {
		astra_buf_dispose(&b);
		return rc;
	}
	while (b.size &&
	        (b.ptr[b.size - 1] == '\n' || b.ptr[b.size - 1] == '\r' ||
	                b.ptr[b.size - 1] == ' '))
		b.ptr[--b.size] = '\0';
	*out = astra__buf_detach(&b);
	return *out ? 0 : ASTRA_ENOMEM;
}

int astra__kubeconfig_in_cluster(astra__kubeconfig **out, const char *sa_dir)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_CONFIG,
		        "not running inside a Kubernetes cluster "
		        "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
		        "are not set)");
	if (!sa_dir)
		sa_dir = SA_DIR;
	astra__kubeconfig *c = astra__calloc(1, sizeof(*c));
	ASTRA_CHECK_ALLOC(c);
	int rc = 0;
	char *ca = NULL, *ns = NULL;
	int v6 = strchr(host, ':') != NULL;
	c->server = astra__aprintf(
	        v6 ? "https://[%s]:%s" : "https://%s:%s", host, port);
	c->token_file = astra__aprintf("%s/token", sa_dir);
	c->context = astra__strdup("in-cluster");
	c->source = astra__strdup("in-cluster");
	c->cluster_name = astra__strdup("in-cluster");
	c->user_name = astra__strdup("service-account");
	c->contexts = astra__calloc(1, sizeof(char *));
	if (!c->server || !c->token_file || !c->context || !c->source ||
	        !c->cluster_name || !c->user_name || !c->contexts) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	c->contexts[0] = astra__strdup("in-cluster");
	if (!c->contexts[0]) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	c->ncontexts = 1;
	if (access(c->token_file, R_OK) != 0) {
		rc = astra__err_os(
		        "in-cluster service account token %s", c->token_file);
		goto fail;
	}
	ca = astra__aprintf("%s/ca.crt", sa_dir);
	if (!ca) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	if (access(ca, R_OK) == 0) {
		c->ca_file = ca;
		ca = NULL;
		if ((rc = read_pem(c->ca_file, "certificate-authority",
		             "the in-cluster service account", &c->ca_data,
		             &c->ca_data_len)))
			goto fail;
	}
	char *nsf = astra__aprintf("%s/namespace", sa_dir);
	if (!nsf) {
		rc = ASTRA_ENOMEM;
		goto fail;
	}
	if (access(nsf, R_OK) == 0 && read_trimmed(nsf, &ns) == 0 && *ns) {
		c->namespace = ns;
		ns = NULL;
	}
	free(nsf);
	free(ns);
	free(ca);
	*out = c;
	return 0;
fail:
	free(ca);
	free(ns);
	astra__kubeconfig_free(c);
	return rc;
}

static char *home_config(void)
{
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return NULL;
	return astra__aprintf("%s/.kube/config", home);
}

int astra__kubeconfig_load(
        astra__kubeconfig **out, const char *paths, const char *context)
{
	ASTRA_ASSERT_ARG(out);
	*out = NULL;
	merged m;
	memset(&m, 0, sizeof(m));
	int rc, nfound = 0;
	char *home = NULL;
	if (paths && *paths) {
		rc = add_list(&m, paths, 1, &nfound);
		if (rc)
			goto done;
	} else {
		const char *env = getenv("KUBECONFIG");
		if (env && *env) {
			rc = add_list(&m, env, 0, &nfound);
			if (rc)
				goto done;
		} else {
			home = home_config();
			if (home) {
				rc = add_file(&m, home, 0, &nfound);
				if (rc)
					goto done;
			}
		}
		if (nfound == 0 || (m.contexts.n == 0 && !m.current)) {
			/* nothing configured: the in-cluster account */
			const char *h = getenv("KUBERNETES_SERVICE_HOST");
			if (h && *h &&
			        (!context || !*context ||
			                !strcmp(context, "in-cluster"))) {
				rc = astra__kubeconfig_in_cluster(out, NULL);
				goto done;
			}
			if (nfound == 0) {
				rc = astra__err(ASTRA_ENOTFOUND,
				        ASTRA_ERROR_CONFIG,
				        "no kubeconfig found: %s%s%s, and not "
				        "running inside a cluster",
				        env && *env ? "no file of $KUBECONFIG "
				                      "exists ("
				                    : "",
				        env && *env ? env
				                    : (home ? home
				                            : "~/.kube/config"),
				        env && *env ? ")" : " does not exist");
				goto done;
			}
		}
	}
	rc = resolve(&m, context, out);
done:
	free(home);
	merged_free(&m);
	return rc;
}
