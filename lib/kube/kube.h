/*
 * The Kubernetes client used by the rest of the library: a REST client on
 * lib/net (credentials from the kubeconfig, exec plugins with caching,
 * API Status -> astra codes), discovery (aggregated where served, classic
 * otherwise; cached, refreshed on a lookup miss), and dynamic objects as
 * JSON (get, list with pagination, create, update, patch, server-side
 * apply, delete, watch).
 *
 * An astra__kube may be used from several threads at once.
 *
 * Error codes of API calls: ASTRA_ENOTFOUND (404), ASTRA_EEXISTS (409
 * AlreadyExists), ASTRA_ECONFLICT (409 Conflict, 410 Gone/Expired),
 * ASTRA_EAUTH (401, 403: with the verb, the resource and the server's
 * reason), ASTRA_EINVALID (400, 422), ASTRA_EBUSY (429 after retries),
 * ASTRA_ETIMEOUT (504, client timeouts), ASTRA_ENET (transport, 502/503
 * after retries), ASTRA_EPARSE (a garbage body), ASTRA_ERROR (other 5xx).
 * Messages start with 'cluster "<context>": <verb> <what>: '.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_KUBE_H
#define ASTRA_KUBE_KUBE_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"
#include "core/op.h"
#include "fmt/json.h"
#include "kube/kubeconfig.h"

typedef struct astra__kube astra__kube;

typedef struct {
	const char *kubeconfig; /* NULL: defaults (see kubeconfig.h) */
	const char *context; /* NULL: current-context */
	unsigned timeout_ms; /* per request; 0: 60 s */
	unsigned connect_timeout_ms; /* 0: 10 s */
	unsigned retry_budget_ms; /* 0: 30 s */
	double qps; /* 0: 100; < 0: unlimited */
	unsigned burst; /* 0: 200 */
	int http1; /* 1: do not negotiate HTTP/2 */
	int compress; /* -1: off, 0: the kubeconfig's choice, 1: on */
	unsigned exec_timeout_ms; /* credential plugins; 0: 120 s */
	astra_cancel *cancel; /* checked by every request; may be NULL */
} astra__kube_options;

/* Loads the kubeconfig and prepares the client; no network traffic. */
int astra__kube_open(astra__kube **out, const astra__kube_options *opts);
/* Takes ownership of cfg (also on failure). */
int astra__kube_open_config(astra__kube **out, astra__kubeconfig *cfg,
        const astra__kube_options *opts);
void astra__kube_free(astra__kube *k);

const astra__kubeconfig *astra__kube_config(const astra__kube *k);
/* The context's namespace, or "default". */
const char *astra__kube_namespace(const astra__kube *k);

/* ------------------------------------------------------------------ */
/* Raw requests                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *method; /* NULL: GET */
	const char *path; /* "/api/v1/namespaces?limit=5" (escaped) */
	const char *accept; /* NULL: application/json */
	const char *content_type; /* NULL: application/json with a body */
	const char *body;
	size_t body_len;
	/* for messages: "get", "list", "create"... and the object, e.g.
	 * 'configmaps "x" in namespace "y"' */
	const char *verb;
	const char *what;
	unsigned timeout_ms; /* 0: the client's */
	int idempotent; /* 1: safe to retry even if not GET/PUT/DELETE */
	/* stream a 2xx body instead of collecting it */
	int (*write)(void *payload, const char *data, size_t n);
	void *write_payload;
	astra__op *op;
} astra__kube_req;

/*
 * Performs the request. 2xx: 0, and the body in `out` (may be NULL), and
 * the Content-Type in `content_type` when not NULL (caller frees).
 * Otherwise a negative code with the server's Status in the message.
 */
int astra__kube_do(astra__kube *k, const astra__kube_req *req, astra_buf *out,
        char **content_type);

/* GET of a path, parsed as JSON. */
int astra__kube_get_json(
        astra__kube *k, const char *path, const char *what, astra__json **out);

/* gitVersion of /version, e.g. "v1.36.3". */
int astra__kube_server_version(astra__kube *k, astra_buf *out);

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

enum {
	ASTRA_KUBE_VERB_GET = 1 << 0,
	ASTRA_KUBE_VERB_LIST = 1 << 1,
	ASTRA_KUBE_VERB_WATCH = 1 << 2,
	ASTRA_KUBE_VERB_CREATE = 1 << 3,
	ASTRA_KUBE_VERB_UPDATE = 1 << 4,
	ASTRA_KUBE_VERB_PATCH = 1 << 5,
	ASTRA_KUBE_VERB_DELETE = 1 << 6,
	ASTRA_KUBE_VERB_DELETECOLLECTION = 1 << 7
};

typedef struct {
	char *group; /* "" for the core group */
	char *version;
	char *resource; /* plural, e.g. "deployments" */
	char *kind;
	char *singular;
	int namespaced;
	unsigned verbs; /* ASTRA_KUBE_VERB_* */
	int preferred; /* the group's preferred version */
	char **short_names;
	size_t nshort_names;
	char **categories;
	size_t ncategories;
	char **subresources; /* "status", "scale"... */
	size_t nsubresources;
} astra__kube_resource;

/* An immutable, reference-counted discovery result. */
typedef struct {
	astra__kube_resource *resources; /* every group/version/resource */
	size_t n;
	int aggregated; /* 1: from aggregated discovery */
	uint64_t fetched_ns; /* monotonic */
} astra__kube_discovery;

/*
 * The current discovery result (fetched on first use; `refresh` forces a
 * new one). Release with astra__kube_discovery_release().
 */
int astra__kube_discovery_get(
        astra__kube *k, int refresh, const astra__kube_discovery **out);
void astra__kube_discovery_release(
        astra__kube *k, const astra__kube_discovery *d);

/* Forces classic discovery (for tests); 0 restores the default. */
void astra__kube_discovery_force_classic(astra__kube *k, int classic);

/*
 * Looks up group + kind (version NULL: the preferred version, else the
 * first served). On a miss, discovery older than 0.5 s is refreshed once
 * (a freshly installed CRD; callers waiting for one retry after that).
 * Fills `out` with copies; clear with astra__kube_resource_clear().
 * ASTRA_ENOTFOUND naming group and kind.
 */
int astra__kube_find_kind(astra__kube *k, const char *group,
        const char *version, const char *kind, astra__kube_resource *out);

/* The same from an object's apiVersion ("apps/v1", "v1") and kind. */
int astra__kube_find_object(
        astra__kube *k, const astra__json *obj, astra__kube_resource *out);

/*
 * Looks up a name as kubectl accepts it: "deployments", "deployment",
 * "deploy", "Deployment", "deployments.apps", "deployments.v1.apps".
 */
int astra__kube_find_resource(
        astra__kube *k, const char *name, astra__kube_resource *out);

int astra__kube_resource_copy(
        astra__kube_resource *dst, const astra__kube_resource *src);
void astra__kube_resource_clear(astra__kube_resource *r);

/* Parses discovery documents (exposed for tests and fuzzing). */
int astra__kube_parse_aggregated(
        const char *text, size_t len, astra__kube_discovery *into);
int astra__kube_parse_resource_list(const char *text, size_t len,
        const char *group, const char *version, int preferred,
        astra__kube_discovery *into);
void astra__kube_discovery_clear(astra__kube_discovery *d);

/* ------------------------------------------------------------------ */
/* Dynamic objects                                                     */
/* ------------------------------------------------------------------ */

/* "/apis/G/V[/namespaces/NS]/RESOURCE[/NAME[/SUB]]" (escaped). ns is
 * ignored for cluster-scoped resources; NULL ns lists all namespaces. */
int astra__kube_path(astra_buf *out, const astra__kube_resource *r,
        const char *ns, const char *name, const char *subresource);

typedef struct {
	const char *label_selector;
	const char *field_selector;
	unsigned limit; /* page size; 0: 500 */
	const char *resource_version;
	const char *resource_version_match; /* NotOlderThan, Exact */
	unsigned timeout_seconds; /* watch: server-side timeout */
	int allow_bookmarks; /* watch */
	int send_initial_events; /* watch (with resource_version_match) */
	astra__op *op;
} astra__kube_list_options;

/* Called for every listed object (borrowed; it may be taken with
 * astra__json_take semantics only by copying). Non-zero stops: a negative
 * value is returned as the error, a positive one ends the list early. */
typedef int (*astra__kube_item_fn)(void *payload, astra__json *item);

/*
 * Lists with limit/continue pagination; `resource_version` (may be NULL)
 * receives the list's resourceVersion (caller frees). Items carry no
 * apiVersion/kind in a list; they are added so each object stands alone.
 */
int astra__kube_list(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *opts,
        astra__kube_item_fn fn, void *payload, char **resource_version);

/* Collects every item into a JSON array. */
int astra__kube_list_all(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *opts,
        astra__json **items);

int astra__kube_get(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const char *name, astra__json **out);

#define ASTRA_KUBE_GRACE_NOW ((int64_t)-1)

/* Options of writes; zero-initialised means the defaults. */
typedef struct {
	const char *field_manager; /* NULL: "libastra" */
	int dry_run;
	int force; /* server-side apply: take ownership of conflicts */
	const char *propagation; /* delete: Foreground, Background, Orphan */
	/* delete: seconds; 0: the object's default;
	 * ASTRA_KUBE_GRACE_NOW: immediately */
	int64_t grace_period_seconds;
	const char *subresource; /* e.g. "status" */
	astra__op *op;
} astra__kube_write_options;

/* out may be NULL. ns NULL: the object's metadata.namespace, else the
 * context's namespace. */
int astra__kube_create(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj,
        const astra__kube_write_options *opts, astra__json **out);
int astra__kube_update(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj,
        const astra__kube_write_options *opts, astra__json **out);

typedef enum {
	ASTRA_KUBE_PATCH_MERGE, /* application/merge-patch+json */
	ASTRA_KUBE_PATCH_JSON, /* application/json-patch+json */
	ASTRA_KUBE_PATCH_STRATEGIC, /* built-in types only */
	ASTRA_KUBE_PATCH_APPLY /* server-side apply */
} astra__kube_patch_type;

int astra__kube_patch(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const char *name, astra__kube_patch_type type,
        const char *patch, size_t len, const astra__kube_write_options *opts,
        astra__json **out);

/* Server-side apply of a whole object (name, namespace from it). */
int astra__kube_apply(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj,
        const astra__kube_write_options *opts, astra__json **out);

int astra__kube_delete(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const char *name,
        const astra__kube_write_options *opts);

/*
 * Watch event callback: type is ADDED, MODIFIED, DELETED or BOOKMARK; obj
 * is borrowed. Return 0 to continue, 1 to stop (the watch returns 0), or a
 * negative error code (returned).
 */
typedef int (*astra__kube_watch_fn)(
        void *payload, const char *type, astra__json *obj);

/*
 * Watches until the callback stops, the server ends the watch (after
 * timeout_seconds: returns 0), or an error. An ERROR event fails with its
 * Status (410 Gone: ASTRA_ECONFLICT, re-list and watch again).
 * `last_rv` (may be NULL) receives the last resourceVersion seen.
 */
int astra__kube_watch(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *opts,
        astra__kube_watch_fn fn, void *payload, char **last_rv);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Maps an HTTP status and an error body (a Status, or anything) to an
 * astra code and sets the message; exposed for tests and fuzzing.
 */
int astra__kube_status_error(const char *context, long status, const char *body,
        size_t len, const char *verb, const char *what);

#endif
