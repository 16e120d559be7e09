/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kube/podexec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "fmt/json.h"
#include "kube/internal.h"
#include "net/http.h"
#include "net/ws.h"

#define CH_STDIN 0
#define CH_STDOUT 1
#define CH_STDERR 2
#define CH_STATUS 3
#define CH_CLOSE 255
#define DEFAULT_KEEP ((size_t)64 << 10)
#define STDIN_CHUNK ((size_t)32 << 10)

void astra__kube_exec_result_dispose(astra__kube_exec_result *r)
{
	if (!r)
		return;
	astra_buf_dispose(&r->out);
	astra_buf_dispose(&r->err);
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
}

int astra__kube_exec_parse_status(
        const char *json, size_t len, astra__kube_exec_result *res)
{
	astra__json *j = NULL;
	int rc = astra__json_parse(&j, json, len, "exec status");
	if (rc)
		return rc;
	const char *status = astra__json_str(j, "status");
	const char *msg = astra__json_str(j, "message");
	const char *reason = astra__json_str(j, "reason");
	if (!status) {
		rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "exec status without a \"status\" field");
		goto done;
	}
	snprintf(res->message, sizeof(res->message), "%s", msg ? msg : "");
	if (!strcmp(status, "Success")) {
		res->exit_code = 0;
		goto done;
	}
	res->exit_code = -1;
	if (reason && !strcmp(reason, "NonZeroExitCode")) {
		const astra__json *causes =
		        astra__json_path(j, "details.causes");
		for (size_t i = 0; i < astra__json_size(causes); i++) {
			const astra__json *c = astra__json_at(causes, i);
			const char *cr = astra__json_str(c, "reason");
			const char *cm = astra__json_str(c, "message");
			if (cr && cm && !strcmp(cr, "ExitCode")) {
				char *end = NULL;
				long v = strtol(cm, &end, 10);
				if (end != cm && !*end && v >= 0 && v < 1 << 16)
					res->exit_code = (int)v;
			}
		}
	}
	if (!res->message[0])
		snprintf(res->message, sizeof(res->message), "%s",
		        reason ? reason : "command failed");
done:
	astra__json_free(j);
	return rc;
}

static int build_url(astra__kube *k, const astra__kube_exec_options *o,
        int with_stdin, char **url, char *what, size_t wn)
{
	astra_buf b = ASTRA_BUF_INIT;
	int rc = astra__buf_printf(&b, "%s/api/v1/namespaces/", k->cfg->server);
	if (!rc)
		rc = astra__http_escape(&b, o->ns);
	if (!rc)
		rc = astra__buf_puts(&b, "/pods/");
	if (!rc)
		rc = astra__http_escape(&b, o->pod);
	if (!rc)
		rc = astra__buf_puts(&b, "/exec?");
	for (size_t i = 0; !rc && o->argv[i]; i++) {
		rc = astra__buf_puts(&b, "command=");
		if (!rc)
			rc = astra__http_escape(&b, o->argv[i]);
		if (!rc)
			rc = astra__buf_putc(&b, '&');
	}
	if (!rc && o->container) {
		rc = astra__buf_puts(&b, "container=");
		if (!rc)
			rc = astra__http_escape(&b, o->container);
		if (!rc)
			rc = astra__buf_putc(&b, '&');
	}
	if (!rc)
		rc = astra__buf_printf(&b, "%sstdout=true&stderr=true",
		        with_stdin ? "stdin=true&" : "");
	if (rc) {
		astra_buf_dispose(&b);
		return rc;
	}
	*url = astra__buf_detach(&b);
	snprintf(what, wn, "exec in pod %s/%s%s%s", o->ns, o->pod,
	        o->container ? " container " : "",
	        o->container ? o->container : "");
	return *url ? 0 : ASTRA_ENOMEM;
}

static int keep(
        astra_buf *b, const uint8_t *p, size_t n, size_t max, int *truncated)
{
	if (b->size >= max) {
		*truncated |= n > 0;
		return 0;
	}
	size_t take = n;
	if (take > max - b->size) {
		take = max - b->size;
		*truncated = 1;
	}
	return astra__buf_put(b, p, take);
}

/* One message from the server; *have_status set by the status channel. */
static int on_message(astra__kube_exec_result *res, const astra_buf *msg,
        size_t max_out, size_t max_err, int *have_status)
{
	if (msg->size == 0)
		return 0;
	const uint8_t *p = (const uint8_t *)msg->ptr;
	size_t n = msg->size - 1;
	int rc = 0;
	switch (p[0]) {
	case CH_STDOUT:
		rc = keep(&res->out, p + 1, n, max_out, &res->out_truncated);
		break;
	case CH_STDERR:
		rc = keep(&res->err, p + 1, n, max_err, &res->err_truncated);
		break;
	case CH_STATUS:
		if (n == 0)
			break;
		rc = astra__kube_exec_parse_status((const char *)p + 1, n, res);
		*have_status = rc == 0;
		break;
	default:
		break; /* empty channel announcements, resize */
	}
	return rc;
}

static int send_channel(
        astra__ws *ws, int ch, const void *data, size_t n, uint64_t deadline)
{
	uint8_t *m = astra__malloc(n + 1);
	if (!m)
		return astra__err_oom();
	m[0] = (uint8_t)ch;
	if (n)
		memcpy(m + 1, data, n);
	int rc = astra__ws_send(ws, ASTRA_WS_BINARY, m, n + 1, deadline);
	free(m);
	return rc;
}

/*
 * One exec: astra__kube_pod_exec takes these steps (libgit2's clone is the
 * model):
 *
 *   exec_connect         the WebSocket upgrade, a refusal mapped to an error
 *   exec_check_protocol  a subprotocol that reports exit codes
 *   exec_send_stdin      stdin in chunks, then closing it (v5 only)
 *   exec_read_to_end     output and status until the server closes
 *   exec_finish          the status must have come; empty outputs allocated
 *
 * The caller closes the stream and frees the URL and message buffer.
 */
typedef struct {
	astra__kube *k;
	const astra__kube_exec_options *o;
	astra__kube_exec_result *res;
	unsigned tmo;
	uint64_t deadline;
	size_t max_out, max_err;
	char what[512]; /* "exec in pod ns/pod[ container c]" */
	char *url;
	astra__op defop; /* from k->cancel when the caller gave no op */
	astra__ws *ws;
	astra_buf msg;
	int have_status;
} exec_call;

/*
 * Opens the exec stream on x->url offering the caller's subprotocols (or
 * v5 and v4). Post, on 0: x->ws is open. On failure x->ws is NULL and the
 * error names the cluster and the exec: a refusal with an error status is
 * mapped from the server's Status, any other refusal is
 * ASTRA_ENOTSUPPORTED (SPDY is not implemented).
 */
static int exec_connect(exec_call *x)
{
	static const char *const def_protocols[] = { ASTRA_KUBE_EXEC_V5,
		ASTRA_KUBE_EXEC_V4, NULL };
	astra__kube *k = x->k;
	const astra__kube_exec_options *o = x->o;
	astra__op *op = o->op;
	if (!op && k->cancel) {
		astra__op_init(&x->defop, NULL, NULL, k->cancel);
		op = &x->defop;
	}
	astra__ws_options wo = { 0 };
	wo.url = x->url;
	wo.protocols = o->protocols ? o->protocols : def_protocols;
	wo.headers = (const char *const *)k->extra_headers;
	wo.timeout_ms = x->tmo;
	wo.op = op;
	astra__ws_refusal ref;
	int rc = astra__ws_connect(k->http, &wo, &x->ws, &ref);
	if (rc == ASTRA_ENOTSUPPORTED && ref.status) {
		if (ref.status == 400 || ref.status == 403 ||
		        ref.status == 404 || ref.status == 401 ||
		        ref.status >= 500 || ref.status == 422)
			rc = astra__kube_status_error(k->cfg->context,
			        ref.status, ref.body.ptr, ref.body.size,
			        "exec in", x->what + strlen("exec in "));
		else
			rc = astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
			        "cluster \"%s\": %s: the API server refused "
			        "the WebSocket upgrade (HTTP %ld); exec over "
			        "SPDY is not implemented",
			        k->cfg->context, x->what, ref.status);
		astra__ws_refusal_dispose(&ref);
		return rc;
	}
	astra__ws_refusal_dispose(&ref);
	if (rc)
		astra__err_prefix(
		        rc, "cluster \"%s\": %s", k->cfg->context, x->what);
	return rc;
}

/* Records the chosen subprotocol in res->protocol; fails with
 * ASTRA_ENOTSUPPORTED unless it is v5 or v4. *v5 says which. */
static int exec_check_protocol(exec_call *x, int *v5)
{
	astra__kube_exec_result *res = x->res;
	snprintf(res->protocol, sizeof(res->protocol), "%s",
	        astra__ws_protocol(x->ws));
	*v5 = !strcmp(res->protocol, ASTRA_KUBE_EXEC_V5);
	if (!*v5 && strcmp(res->protocol, ASTRA_KUBE_EXEC_V4))
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "cluster \"%s\": %s: the server chose subprotocol "
		        "\"%s\"; only %s and %s report exit codes",
		        x->k->cfg->context, x->what,
		        res->protocol[0] ? res->protocol : "(none)",
		        ASTRA_KUBE_EXEC_V5, ASTRA_KUBE_EXEC_V4);
	return 0;
}

/*
 * Sends o->stdin_data in STDIN_CHUNK messages, taking in what the server
 * sent meanwhile, then closes stdin (unless the stream already ended).
 * Needs v5 (v4 cannot close stdin: res->no_stdin_close set, error). On
 * failure the error is prefixed with the exec; output read so far is in
 * res.
 */
static int exec_send_stdin(exec_call *x, int v5)
{
	const astra__kube_exec_options *o = x->o;
	astra__kube_exec_result *res = x->res;
	int rc = 0;
	if (!v5) {
		res->no_stdin_close = 1;
		return astra__err(ASTRA_ENOTSUPPORTED, ASTRA_ERROR_KUBE,
		        "cluster \"%s\": %s: the server speaks only %s, "
		        "which cannot close stdin",
		        x->k->cfg->context, x->what, res->protocol);
	}
	const uint8_t *p = o->stdin_data;
	size_t left = o->stdin_len;
	int ended = 0;
	while (!rc && left && !ended) {
		size_t n = left < STDIN_CHUNK ? left : STDIN_CHUNK;
		rc = send_channel(x->ws, CH_STDIN, p, n, x->deadline);
		p += n;
		left -= n;
		/* take what already arrived (a deadline in the past
		 * does not wait), so that a command writing while it
		 * reads cannot stall both sides */
		while (!rc) {
			int mop = 0;
			int r = astra__ws_recv(x->ws, &mop, &x->msg, 1, NULL);
			if (r == ASTRA_ETIMEOUT) {
				astra_error_clear();
				break;
			}
			if (r <= 0) {
				rc = r;
				ended = r == 0; /* done without reading */
				break;
			}
			rc = on_message(res, &x->msg, x->max_out, x->max_err,
			        &x->have_status);
		}
	}
	uint8_t c = CH_STDIN;
	if (!rc && !ended)
		rc = send_channel(x->ws, CH_CLOSE, &c, 1, x->deadline);
	if (rc)
		astra__err_prefix(rc, "%s: stdin", x->what);
	return rc;
}

/* Reads messages into res until the server closes the stream. Fails with
 * ASTRA_ETIMEOUT past the deadline, or the stream's or a message's error
 * prefixed with the exec. */
static int exec_read_to_end(exec_call *x)
{
	for (;;) {
		int mop = 0, close_code = 0;
		int r = astra__ws_recv(
		        x->ws, &mop, &x->msg, x->deadline, &close_code);
		if (r < 0) {
			if (r == ASTRA_ETIMEOUT)
				astra__err(ASTRA_ETIMEOUT, ASTRA_ERROR_KUBE,
				        "%s: no result within %u ms; the stream "
				        "was closed",
				        x->what, x->tmo);
			else
				astra__err_prefix(r, "%s", x->what);
			return r;
		}
		if (r == 0)
			return 0; /* the server closed the stream */
		int rc = on_message(x->res, &x->msg, x->max_out, x->max_err,
		        &x->have_status);
		if (rc) {
			astra__err_prefix(rc, "%s", x->what);
			return rc;
		}
	}
}

/* Fails with ASTRA_ENET when no status came; otherwise makes res->out and
 * res->err allocated (empty when nothing came). */
static int exec_finish(exec_call *x)
{
	astra__kube_exec_result *res = x->res;
	if (!x->have_status)
		return astra__err(ASTRA_ENET, ASTRA_ERROR_KUBE,
		        "%s: the stream ended without the command's status",
		        x->what);
	int rc = 0;
	if (!res->out.ptr)
		rc = astra__buf_grow(&res->out, 0);
	if (!rc && !res->err.ptr)
		rc = astra__buf_grow(&res->err, 0);
	return rc;
}

int astra__kube_pod_exec(astra__kube *k, const astra__kube_exec_options *o,
        astra__kube_exec_result *res)
{
	ASTRA_ASSERT_ARG(k && o && res);
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (!o->ns || !*o->ns || !o->pod || !*o->pod || !o->argv ||
	        !o->argv[0] || !*o->argv[0])
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "exec: namespace, pod and a command are required");
	uint64_t t0 = astra__mono_ns();
	exec_call x = { .k = k, .o = o, .res = res, .msg = ASTRA_BUF_INIT };
	x.tmo = o->timeout_ms ? o->timeout_ms : 60000;
	x.deadline = t0 + (uint64_t)x.tmo * 1000000ULL;
	x.max_out = o->max_stdout ? o->max_stdout : DEFAULT_KEEP;
	x.max_err = o->max_stderr ? o->max_stderr : DEFAULT_KEEP;
	int rc = build_url(k, o, o->use_stdin, &x.url, x.what, sizeof(x.what));
	if (rc)
		return rc;
	int v5 = 0;
	rc = exec_connect(&x);
	if (rc)
		goto done;
	rc = exec_check_protocol(&x, &v5);
	if (rc)
		goto done;
	if (o->use_stdin) {
		rc = exec_send_stdin(&x, v5);
		if (rc)
			goto done;
	}
	rc = exec_read_to_end(&x);
	if (rc)
		goto done;
	rc = exec_finish(&x);
done:
	res->duration_ms = (unsigned)((astra__mono_ns() - t0) / 1000000ULL);
	astra__ws_close(x.ws, 0);
	astra_buf_dispose(&x.msg);
	free(x.url);
	astra__log_debug("exec: %s (%s) -> rc %d, exit %d in %u ms", x.what,
	        res->protocol, rc, res->exit_code, res->duration_ms);
	return rc;
}
