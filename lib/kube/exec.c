/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "fmt/json.h"
#include "kube/util.h"

extern char **environ;

#define OUT_MAX ((size_t)1 << 20)
#define ERR_MAX ((size_t)64 << 10)

void astra__kube_cred_clear(astra__kube_cred *c)
{
	if (!c)
		return;
	astra__free_secret_str(c->token);
	free(c->cert_pem);
	astra__free_secret(c->key_pem, c->key_len);
	memset(c, 0, sizeof(*c));
}

int astra__kube_exec_parse(const char *text, size_t len,
        const char *api_version, const char *command, astra__kube_cred *out)
{
	astra__json *j = NULL;
	char what[512];
	memset(out, 0, sizeof(*out));
	snprintf(what, sizeof(what), "output of exec plugin \"%.200s\"",
	        command);
	int rc = astra__json_parse(&j, text, len, what);
	if (rc)
		return rc;
	const char *kind = astra__json_str(j, "kind");
	const char *api = astra__json_str(j, "apiVersion");
	if (!kind || strcmp(kind, "ExecCredential")) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: kind is \"%.60s\", expected \"ExecCredential\"",
		        what, kind ? kind : "");
		goto done;
	}
	if (!api || strcmp(api, api_version)) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: apiVersion is \"%.80s\", but \"%s\" was requested",
		        what, api ? api : "", api_version);
		goto done;
	}
	const astra__json *st = astra__json_get(j, "status");
	if (astra__json_type_of(st) != ASTRA_JSON_OBJECT) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: no status in the ExecCredential", what);
		goto done;
	}
	const char *token = astra__json_str(st, "token");
	const char *cert = astra__json_str(st, "clientCertificateData");
	const char *key = astra__json_str(st, "clientKeyData");
	const char *exp = astra__json_str(st, "expirationTimestamp");
	if ((!token || !*token) && (!cert || !*cert)) {
		rc = astra__err(ASTRA_EAUTH, ASTRA_ERROR_KUBE,
		        "%s: the ExecCredential has neither a token nor a "
		        "client certificate",
		        what);
		goto done;
	}
	if (cert && *cert && (!key || !*key)) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: clientCertificateData without clientKeyData",
		        what);
		goto done;
	}
	if (exp && *exp && astra__kube_parse_time(exp, &out->expiry)) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: expirationTimestamp \"%.60s\" is not an RFC 3339 "
		        "time",
		        what, exp);
		goto done;
	}
	if (token && *token && !(out->token = astra__strdup(token))) {
		rc = ASTRA_ENOMEM;
		goto done;
	}
	if (cert && *cert) {
		out->cert_pem = astra__strdup(cert);
		out->key_pem = astra__strdup(key);
		if (!out->cert_pem || !out->key_pem) {
			rc = ASTRA_ENOMEM;
			goto done;
		}
		out->cert_len = strlen(cert);
		out->key_len = strlen(key);
	}
done:
	if (rc)
		astra__kube_cred_clear(out);
	/* the document holds the token: wipe it */
	if (j) {
		const astra__json *stw = astra__json_get(j, "status");
		const char *t = astra__json_str(stw, "token");
		if (t)
			astra__wipe((void *)t, strlen(t));
		t = astra__json_str(stw, "clientKeyData");
		if (t)
			astra__wipe((void *)t, strlen(t));
	}
	astra__json_free(j);
	return rc;
}

/* KUBERNETES_EXEC_INFO=<json> */
static char *exec_info(const astra__kubeconfig *cfg)
{
	const astra__kube_exec *e = cfg->exec;
	astra__json *j = astra__json_new_object();
	astra__json *spec = astra__json_new_object();
	char *s = NULL, *out = NULL;
	if (!j || !spec)
		goto done;
	if (astra__json_set_str(j, "apiVersion", e->api_version) ||
	        astra__json_set_str(j, "kind", "ExecCredential") ||
	        astra__json_set_bool(spec, "interactive", 0))
		goto done;
	if (e->provide_cluster_info) {
		astra__json *cl = astra__json_new_object();
		if (!cl || astra__json_set(spec, "cluster", cl))
			goto done;
		if (astra__json_set_str(cl, "server", cfg->server))
			goto done;
		if (cfg->tls_server_name &&
		        astra__json_set_str(
		                cl, "tls-server-name", cfg->tls_server_name))
			goto done;
		if (cfg->insecure &&
		        astra__json_set_bool(cl, "insecure-skip-tls-verify", 1))
			goto done;
		if (cfg->proxy_url &&
		        astra__json_set_str(cl, "proxy-url", cfg->proxy_url))
			goto done;
		if (cfg->ca_data) {
			astra_buf b = ASTRA_BUF_INIT;
			int rc = astra__kube_b64encode(
			        &b, cfg->ca_data, cfg->ca_data_len);
			if (!rc)
				rc = astra__json_set_str(cl,
				        "certificate-authority-data", b.ptr);
			astra_buf_dispose(&b);
			if (rc)
				goto done;
		}
	}
	if (astra__json_set(j, "spec", spec)) {
		spec = NULL;
		goto done;
	}
	spec = NULL;
	if (astra__json_print(&s, j, 0))
		goto done;
	out = astra__aprintf("KUBERNETES_EXEC_INFO=%s", s);
done:
	free(s);
	astra__json_free(spec);
	astra__json_free(j);
	return out;
}

/*
 * The plugin does not inherit the whole environment: astra's own variables
 * (ASTRA_VAULT_PASSWORD...) and the storage back-ends' secrets
 * (AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_KEY...) stay in this process. It
 * gets only what a credential plugin needs to run and to find its own
 * configuration: these names, and every name starting with one of the
 * prefixes below. The kubeconfig's exec.env entries and
 * KUBERNETES_EXEC_INFO are added on top (docs/user-guide.md).
 */
static const char *const env_allow[] = {
	/* the process */
	"PATH",
	"HOME",
	"USER",
	"LOGNAME",
	"SHELL",
	"LANG",
	"LANGUAGE",
	"TZ",
	"TMPDIR",
	"KUBECONFIG",
	"XDG_CONFIG_HOME",
	"XDG_CACHE_HOME",
	"XDG_RUNTIME_DIR",
	/* proxies the plugin's own HTTP client needs to reach its IdP */
	"HTTP_PROXY",
	"HTTPS_PROXY",
	"NO_PROXY",
	"http_proxy",
	"https_proxy",
	"no_proxy",
	/* AWS (aws eks get-token, aws-iam-authenticator): where to find the
	 * profile, never the keys themselves */
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE",
	"AWS_REGION",
	"AWS_DEFAULT_REGION",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN",
	"AWS_ROLE_SESSION_NAME",
	"AWS_STS_REGIONAL_ENDPOINTS",
	"AWS_CA_BUNDLE",
	/* TLS trust for the plugin's own HTTP client */
	"SSL_CERT_FILE",
	"SSL_CERT_DIR",
	/* Google (gke-gcloud-auth-plugin) */
	"GOOGLE_APPLICATION_CREDENTIALS",
	/* Azure (kubelogin) */
	"AZURE_CONFIG_DIR",
};

static const char *const env_allow_prefix[] = {
	"LC_", "CLOUDSDK_", /* gcloud's configuration (CLOUDSDK_CONFIG...) */
};

/* 1 when `entry` ("NAME=value") may be passed on to the plugin. */
static int env_allowed(const char *entry)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
	for (size_t i = 0; i < sizeof(env_allow) / sizeof(env_allow[0]); i++)
		if (strlen(env_allow[i]) == n &&
		        !strncmp(entry, env_allow[i], n))
			return 1;
	for (size_t i = 0;
	        i < sizeof(env_allow_prefix) / sizeof(env_allow_prefix[0]);
	        i++) {
		size_t pl = strlen(env_allow_prefix[i]);
		if (n > pl && !strncmp(entry, env_allow_prefix[i], pl))
			return 1;
	}
	return 0;
}

static int env_overridden(const astra__kube_exec *e, const char *entry)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);
	if (n == strlen("KUBERNETES_EXEC_INFO") &&
	        !strncmp(entry, "KUBERNETES_EXEC_INFO", n))
		return 1;
	for (size_t i = 0; i < e->nenv; i++)
		if (strlen(e->env[i].name) == n &&
		        !strncmp(entry, e->env[i].name, n))
			return 1;
	return 0;
}

static void free_env(char **env, size_t from)
{
	if (!env)
		return;
	for (size_t i = from; env[i]; i++)
		astra__free_secret_str(env[i]);
	free(env);
}

/* The allowed part of environ + the plugin's env + KUBERNETES_EXEC_INFO;
 * entries from index `*own` on are allocated. */
static char **build_env(const astra__kubeconfig *cfg, size_t *own)
{
	const astra__kube_exec *e = cfg->exec;
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = astra__calloc(n + e->nenv + 2, sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (env_allowed(environ[i]) && !env_overridden(e, environ[i]))
			env[k++] = environ[i];
	*own = k;
	for (size_t i = 0; i < e->nenv; i++) {
		env[k] = astra__aprintf(
		        "%s=%s", e->env[i].name, e->env[i].value);
		if (!env[k++])
			goto oom;
	}
	env[k] = exec_info(cfg);
	if (!env[k])
		goto oom;
	return env;
oom:
	free_env(env, *own);
	return NULL;
}

static const char *last_line(astra_buf *b)
{
	if (!b->ptr)
		return "";
	while (b->size &&
	        (b->ptr[b->size - 1] == '\n' || b->ptr[b->size - 1] == '\r' ||
	                b->ptr[b->size - 1] == ' '))
		b->ptr[--b->size] = '\0';
	const char *nl = strrchr(b->ptr, '\n');
	const char *s = nl ? nl + 1 : b->ptr;
	return s;
}

/*
 * Running a credential plugin: astra__kube_exec_run takes these steps
 * (libgit2's clone is the model):
 *
 *   plugin_spawn    pipes, the filtered environment, argv, the child
 *   plugin_collect  read stdout and stderr until both close or the deadline
 *   plugin_reap     kill the child when needed, wait for it
 *   plugin_verdict  the child's exit status as an error, or 0
 *   plugin_end      close and free everything, wiping the output
 */
typedef struct {
	const astra__kube_exec *e;
	const char *user; /* for messages */
	int outp[2], errp[2];
	size_t own; /* env entries from here on are allocated */
	char **env, **argv;
	astra_buf ob, eb; /* the child's stdout and stderr */
	posix_spawn_file_actions_t fa;
	int fa_init;
	pid_t pid; /* -1: none running */
} plugin;

/*
 * Starts the plugin with stdin on /dev/null and stdout and stderr on
 * pipes; only the read ends stay open here. On failure (no pipe, no
 * memory, the command cannot be started) the error is set, p->pid is -1,
 * and what was made stays in p for plugin_end.
 */
static int plugin_spawn(plugin *p, const astra__kubeconfig *cfg)
{
	const astra__kube_exec *e = p->e;
	if (pipe2(p->outp, O_CLOEXEC) || pipe2(p->errp, O_CLOEXEC))
		return astra__err_os("exec plugin \"%s\": pipe", e->command);
	p->env = build_env(cfg, &p->own);
	p->argv = astra__calloc(e->nargs + 2, sizeof(char *));
	if (!p->env || !p->argv)
		return ASTRA_ENOMEM;
	p->argv[0] = e->command;
	for (size_t i = 0; i < e->nargs; i++)
		p->argv[i + 1] = e->args[i];
	if (posix_spawn_file_actions_init(&p->fa))
		return ASTRA_ENOMEM;
	p->fa_init = 1;
	posix_spawn_file_actions_addopen(&p->fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&p->fa, p->outp[1], 1);
	posix_spawn_file_actions_adddup2(&p->fa, p->errp[1], 2);
	int serr = strchr(e->command, '/')
	                   ? posix_spawn(&p->pid, e->command, &p->fa, NULL,
	                             p->argv, p->env)
	                   : posix_spawnp(&p->pid, e->command, &p->fa, NULL,
	                             p->argv, p->env);
	if (serr) {
		p->pid = -1;
		if (serr == ENOENT || serr == EACCES || serr == ENOEXEC)
			return astra__err(
			        serr == ENOENT ? ASTRA_ENOTFOUND : ASTRA_EAUTH,
			        ASTRA_ERROR_KUBE,
			        "exec plugin \"%s\" of user \"%s\" could not be "
			        "started: %s%s%s",
			        e->command, p->user, strerror(serr),
			        e->install_hint ? "; " : "",
			        e->install_hint ? e->install_hint : "");
		return astra__err(ASTRA_EIO, ASTRA_ERROR_KUBE,
		        "exec plugin \"%s\": spawn failed: %s", e->command,
		        strerror(serr));
	}
	close(p->outp[1]);
	close(p->errp[1]);
	p->outp[1] = p->errp[1] = -1;
	return 0;
}

/*
 * Reads the child's stdout (kept up to OUT_MAX) and stderr (up to ERR_MAX;
 * more is read and dropped) until both are closed or timeout_ms passes
 * (*timed_out set, 0 returned). Fails only when poll fails or memory runs
 * out (error set); the child is then still running.
 */
static int plugin_collect(plugin *p, unsigned timeout_ms, int *timed_out)
{
	int rc = 0;
	uint64_t deadline =
	        astra__mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int open_out = 1, open_err = 1;
	while (open_out || open_err) {
		struct pollfd pf[2];
		int np = 0;
		if (open_out)
			pf[np++] = (struct pollfd){ p->outp[0], POLLIN, 0 };
		if (open_err)
			pf[np++] = (struct pollfd){ p->errp[0], POLLIN, 0 };
		uint64_t now = astra__mono_ns();
		if (now >= deadline) {
			*timed_out = 1;
			break;
		}
		int wait = (int)((deadline - now) / 1000000ULL) + 1;
		int r = poll(pf, (nfds_t)np, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = astra__err_os(
			        "exec plugin \"%s\": poll", p->e->command);
			break;
		}
		for (int i = 0; i < np; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int is_out = pf[i].fd == p->outp[0];
			astra_buf *b = is_out ? &p->ob : &p->eb;
			char tmp[8192];
			ssize_t n = read(pf[i].fd, tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (is_out)
					open_out = 0;
				else
					open_err = 0;
				continue;
			}
			size_t cap = is_out ? OUT_MAX : ERR_MAX;
			if (b->size + (size_t)n <= cap &&
			        astra__buf_put(b, tmp, (size_t)n)) {
				rc = ASTRA_ENOMEM;
				break;
			}
		}
		if (rc)
			break;
	}
	return rc;
}

/* Kills the child when `kill_it`, then waits for it. Post: p->pid is -1
 * and *status is its wait status. */
static void plugin_reap(plugin *p, int kill_it, int *status)
{
	if (kill_it)
		kill(p->pid, SIGKILL);
	*status = 0;
	while (waitpid(p->pid, status, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
}

/* 0 when the plugin exited with status 0 in time; otherwise the error
 * (ASTRA_ETIMEOUT, or ASTRA_EAUTH with the last line of its stderr or the
 * signal that killed it), its message set. */
static int plugin_verdict(
        plugin *p, unsigned timeout_ms, int timed_out, int status)
{
	const astra__kube_exec *e = p->e;
	if (timed_out)
		return astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
		        "exec plugin \"%s\" of user \"%s\" did not finish within "
		        "%u ms",
		        e->command, p->user, timeout_ms);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *why = last_line(&p->eb);
		if (WIFEXITED(status))
			return astra__err(ASTRA_EAUTH, ASTRA_ERROR_KUBE,
			        "exec plugin \"%s\" of user \"%s\" failed with "
			        "exit status %d%s%.300s",
			        e->command, p->user, WEXITSTATUS(status),
			        *why ? ": " : "", why);
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_KUBE,
		        "exec plugin \"%s\" of user \"%s\" was killed by "
		        "signal %d",
		        e->command, p->user, WTERMSIG(status));
	}
	return 0;
}

/* Kills and reaps a child still running, closes the pipes, frees argv and
 * the environment (wiping the allocated entries) and the output buffers
 * (wiping the credential). */
static void plugin_end(plugin *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (p->fa_init)
		posix_spawn_file_actions_destroy(&p->fa);
	for (int i = 0; i < 2; i++) {
		if (p->outp[i] >= 0)
			close(p->outp[i]);
		if (p->errp[i] >= 0)
			close(p->errp[i]);
	}
	free(p->argv);
	free_env(p->env, p->own);
	astra_buf_dispose(&p->ob); /* wipes the credential */
	astra_buf_dispose(&p->eb);
}

int astra__kube_exec_run(const astra__kubeconfig *cfg, unsigned timeout_ms,
        astra__kube_cred *out)
{
	const astra__kube_exec *e = cfg->exec;
	ASTRA_ASSERT_ARG(e && out);
	memset(out, 0, sizeof(*out));
	const char *user = cfg->user_name ? cfg->user_name : "";
	if (e->interactive_mode && !strcmp(e->interactive_mode, "Always"))
		return astra__err(ASTRA_EAUTH, ASTRA_ERROR_KUBE,
		        "exec plugin \"%s\" of user \"%s\" requires "
		        "interactiveMode Always, but libastra runs plugins "
		        "without a terminal",
		        e->command, user);

	plugin p = { .e = e,
		.user = user,
		.outp = { -1, -1 },
		.errp = { -1, -1 },
		.ob = ASTRA_BUF_INIT,
		.eb = ASTRA_BUF_INIT,
		.pid = -1 };
	int rc = plugin_spawn(&p, cfg);
	if (rc)
		goto done;
	int timed_out = 0, status = 0;
	rc = plugin_collect(&p, timeout_ms, &timed_out);
	plugin_reap(&p, timed_out || rc, &status);
	if (rc)
		goto done;
	rc = plugin_verdict(&p, timeout_ms, timed_out, status);
	if (rc)
		goto done;
	rc = astra__kube_exec_parse(p.ob.ptr ? p.ob.ptr : "", p.ob.size,
	        e->api_version, e->command, out);
done:
	plugin_end(&p);
	return rc;
}
