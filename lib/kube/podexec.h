/*
 * pods/exec: runs a command in a running container through the API server
 * over WebSocket with the Kubernetes channel subprotocols:
 * v5.channel.k8s.io (stdin half-close with the 255 close channel; servers
 * since 1.30) preferred, v4.channel.k8s.io (status channel with the exit
 * code; servers since 1.4) accepted. Channels: 0 stdin, 1 stdout, 2
 * stderr, 3 status (a metav1.Status JSON), 4 resize (never sent).
 *
 * SPDY, which kubectl used before 1.31, is not implemented: a server that
 * refuses the WebSocket upgrade fails with ASTRA_ENOTSUPPORTED naming the
 * status it answered.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_PODEXEC_H
#define ASTRA_KUBE_PODEXEC_H

#include <stddef.h>

#include "astra/common.h"
#include "core/op.h"
#include "kube/kube.h"

#define ASTRA_KUBE_EXEC_V5 "v5.channel.k8s.io"
#define ASTRA_KUBE_EXEC_V4 "v4.channel.k8s.io"

typedef struct {
	const char *ns;
	const char *pod;
	const char *container; /* NULL: the pod's only container */
	const char *const *argv; /* NULL-terminated, at least one */
	/* stdin: sent, then half-closed. Needs v5: when the server speaks
	 * only v4, the call fails with ASTRA_ENOTSUPPORTED and
	 * result->no_stdin_close = 1 before any stdin byte is sent (the
	 * command then sees an empty stdin); callers fall back to passing
	 * the input as an argument. */
	const void *stdin_data;
	size_t stdin_len;
	int use_stdin;
	unsigned timeout_ms; /* whole exchange; 0: 60 s */
	size_t max_stdout, max_stderr; /* kept bytes; 0: 64 KiB */
	/* protocols offered, NULL-terminated; NULL: v5 then v4 */
	const char *const *protocols;
	astra__op *op;
} astra__kube_exec_options;

typedef struct {
	int exit_code; /* -1 when the command did not report one */
	astra_buf out, err; /* captured, truncated to the limits */
	int out_truncated, err_truncated;
	char protocol[32]; /* negotiated subprotocol */
	char message[512]; /* the status channel's message on failure */
	int no_stdin_close; /* see use_stdin */
	unsigned duration_ms;
} astra__kube_exec_result;

void astra__kube_exec_result_dispose(astra__kube_exec_result *r);

/*
 * Runs the command. 0 when it ran to the end (exit_code 0 or not, or -1
 * with `message` when the runtime could not start it, e.g. no such
 * executable). Negative when it could not run or finish: ASTRA_ENOTFOUND
 * (pod or container), ASTRA_EINVALID (e.g. the pod is not running, with
 * the server's reason), ASTRA_ETIMEOUT (the stream was closed at the
 * deadline; the process may still run in the container), ASTRA_EAUTH,
 * ASTRA_ENOTSUPPORTED (see above).
 */
int astra__kube_pod_exec(astra__kube *k, const astra__kube_exec_options *o,
        astra__kube_exec_result *res);

/* Interprets a status channel message (exposed for tests): sets
 * exit_code (0 for Success) and message. ASTRA_EPARSE if not a Status. */
int astra__kube_exec_parse_status(
        const char *json, size_t len, astra__kube_exec_result *res);

#endif
