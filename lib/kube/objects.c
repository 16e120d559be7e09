/*
 * Dynamic objects as JSON: get, list, create, update, patch, apply,
 * delete, watch.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "kube/internal.h"
#include "kube/kube.h"
#include "net/http.h"

#define DEFAULT_PAGE 500
#define DEFAULT_FIELD_MANAGER "libastra"
#define WATCH_LINE_MAX ((size_t)256 << 20)

/* ------------------------------------------------------------------ */
/* Paths and messages                                                  */
/* ------------------------------------------------------------------ */

int astra__kube_path(astra_buf *b, const astra__kube_resource *r,
        const char *ns, const char *name, const char *sub)
{
	int rc;
	if (r->group && *r->group)
		rc = astra__buf_printf(b, "/apis/%s/%s", r->group, r->version);
	else
		rc = astra__buf_printf(b, "/api/%s", r->version);
	if (!rc && r->namespaced && ns && *ns) {
		rc = astra__buf_puts(b, "/namespaces/");
		if (!rc)
			rc = astra__http_escape(b, ns);
	}
	if (!rc)
		rc = astra__buf_printf(b, "/%s", r->resource);
	if (!rc && name) {
		rc = astra__buf_putc(b, '/');
		if (!rc)
			rc = astra__http_escape(b, name);
	}
	if (!rc && sub && *sub)
		rc = astra__buf_printf(b, "/%s", sub);
	return rc;
}

static int add_q(astra_buf *b, const char *name, const char *value)
{
	if (!value)
		return 0;
	int rc = astra__buf_printf(b,
	        "%c%s=", strchr(b->ptr ? b->ptr : "", '?') ? '&' : '?', name);
	return rc ? rc : astra__http_escape(b, value);
}

static int add_qu(astra_buf *b, const char *name, uint64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRIu64, v);
	return add_q(b, name, s);
}

/* 'configmaps "x" in namespace "y"' */
static void describe(char *out, size_t n, const astra__kube_resource *r,
        const char *ns, const char *name)
{
	char res[300];
	if (r->group && *r->group)
		snprintf(res, sizeof(res), "%s.%s", r->resource, r->group);
	else
		snprintf(res, sizeof(res), "%s", r->resource);
	if (name && r->namespaced && ns)
		snprintf(
		        out, n, "%s \"%s\" in namespace \"%s\"", res, name, ns);
	else if (name)
		snprintf(out, n, "%s \"%s\"", res, name);
	else if (r->namespaced && ns)
		snprintf(out, n, "%s in namespace \"%s\"", res, ns);
	else if (r->namespaced)
		snprintf(out, n, "%s in all namespaces", res);
	else
		snprintf(out, n, "%s", res);
}

static int parse_body(
        astra__kube *k, astra_buf *b, const char *what, astra__json **out)
{
	char name[600];
	snprintf(name, sizeof(name), "cluster \"%s\": response for %s",
	        k->cfg->context, what);
	return astra__json_parse(out, b->ptr, b->size, name);
}

static const char *ns_for(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj)
{
	if (!r->namespaced)
		return NULL;
	if (ns && *ns)
		return ns;
	const char *o =
	        astra__json_str(astra__json_get(obj, "metadata"), "namespace");
	return o && *o ? o : astra__kube_namespace(k);
}

/* ------------------------------------------------------------------ */
/* Get and list                                                        */
/* ------------------------------------------------------------------ */

int astra__kube_get(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const char *name, astra__json **out)
{
	ASTRA_ASSERT_ARG(k && r && name && out);
	*out = NULL;
	if (r->namespaced && !ns)
		ns = astra__kube_namespace(k);
	astra_buf path = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	char what[600];
	describe(what, sizeof(what), r, ns, name);
	int rc = astra__kube_path(&path, r, ns, name, NULL);
	if (!rc) {
		astra__kube_req rq;
		memset(&rq, 0, sizeof(rq));
		rq.path = path.ptr;
		rq.verb = "get";
		rq.what = what;
		rc = astra__kube_do(k, &rq, &body, NULL);
	}
	if (!rc)
		rc = parse_body(k, &body, what, out);
	astra_buf_dispose(&path);
	astra_buf_dispose(&body);
	return rc;
}

static int list_query(astra_buf *b, const astra__kube_list_options *o)
{
	int rc = 0;
	if (!o)
		return 0;
	if (o->label_selector && *o->label_selector)
		rc = add_q(b, "labelSelector", o->label_selector);
	if (!rc && o->field_selector && *o->field_selector)
		rc = add_q(b, "fieldSelector", o->field_selector);
	if (!rc && o->resource_version)
		rc = add_q(b, "resourceVersion", o->resource_version);
	if (!rc && o->resource_version_match)
		rc = add_q(
		        b, "resourceVersionMatch", o->resource_version_match);
	return rc;
}

static int set_type_meta(
        astra__json *item, const astra__kube_resource *r, const char *av)
{
	int rc = 0;
	if (!astra__json_get(item, "apiVersion"))
		rc = astra__json_set_str(item, "apiVersion", av);
	if (!rc && !astra__json_get(item, "kind"))
		rc = astra__json_set_str(item, "kind", r->kind);
	return rc;
}

/* The path of one page. */
static int page_path(astra_buf *path, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *o, const char *cont)
{
	astra__buf_clear(path);
	int rc;
	if ((rc = astra__kube_path(path, r, ns, NULL, NULL)) ||
	        (rc = add_qu(path, "limit",
	                 o && o->limit ? o->limit : DEFAULT_PAGE)))
		return rc;
	if (!cont)
		return list_query(path, o);
	/* later pages: the token, and the selectors again */
	if ((rc = add_q(path, "continue", cont)))
		return rc;
	if (o && o->label_selector && *o->label_selector &&
	        (rc = add_q(path, "labelSelector", o->label_selector)))
		return rc;
	if (o && o->field_selector && *o->field_selector &&
	        (rc = add_q(path, "fieldSelector", o->field_selector)))
		return rc;
	return 0;
}

/*
 * The next page is fetched on a helper thread while the current one is
 * parsed and handed to the callback, so that parsing overlaps the server's
 * work. The continue token is read ahead from the head of the body (the
 * server writes metadata before items); the parsed token is checked
 * against it and a mismatching prefetch is discarded.
 */
typedef struct {
	astra__kube *k;
	astra__kube_req rq;
	astra_buf path;
	astra_buf body;
	char *cont;
	int rc;
	int klass;
	char msg[1024];
	pthread_t th;
	int running;
} prefetch;

static void *prefetch_main(void *p)
{
	prefetch *f = p;
	f->rc = astra__kube_do(f->k, &f->rq, &f->body, NULL);
	if (f->rc) {
		/* the error is thread-local: carry it over */
		f->klass = astra_error_last()->klass;
		snprintf(f->msg, sizeof(f->msg), "%s",
		        astra_error_last()->message);
	}
	return NULL;
}

static void prefetch_join(prefetch *f)
{
	if (f->running) {
		pthread_join(f->th, NULL);
		f->running = 0;
	}
}

static void prefetch_clear(prefetch *f)
{
	prefetch_join(f);
	astra_buf_dispose(&f->path);
	astra_buf_dispose(&f->body);
	free(f->cont);
	f->cont = NULL;
	f->rc = 0;
}

/* The continue token in the head of a list body, or NULL. */
static char *peek_continue(const astra_buf *b)
{
	if (!b->ptr)
		return NULL;
	size_t head = b->size < 4096 ? b->size : 4096;
	const char *items = memmem(b->ptr, head, "\"items\":", 8);
	if (!items)
		return NULL;
	const char *c =
	        memmem(b->ptr, (size_t)(items - b->ptr), "\"continue\":\"", 12);
	if (!c)
		return NULL;
	c += 12;
	const char *e = memchr(c, '"', (size_t)(items - c));
	if (!e || e == c || memchr(c, '\\', (size_t)(e - c)))
		return NULL;
	return astra__strndup(c, (size_t)(e - c));
}

int astra__kube_list(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *o,
        astra__kube_item_fn fn, void *payload, char **rv_out)
{
	ASTRA_ASSERT_ARG(k && r && fn);
	if (rv_out)
		*rv_out = NULL;
	char what[600], av[300];
	describe(what, sizeof(what), r, ns, NULL);
	if (r->group && *r->group)
		snprintf(av, sizeof(av), "%s/%s", r->group, r->version);
	else
		snprintf(av, sizeof(av), "%s", r->version);
	char *cont = NULL;
	int rc = 0, page = 0, stopped = 0, have_next = 0;
	astra_buf path = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	prefetch pf;
	memset(&pf, 0, sizeof(pf));
	do {
		astra_buf_dispose(&body);
		if (have_next) {
			/* the prefetched page */
			body = pf.body;
			memset(&pf.body, 0, sizeof(pf.body));
			have_next = 0;
		} else {
			if ((rc = page_path(&path, r, ns, o, cont)))
				break;
			astra__kube_req rq;
			memset(&rq, 0, sizeof(rq));
			rq.path = path.ptr;
			rq.verb = "list";
			rq.what = what;
			rq.op = o ? o->op : NULL;
			if ((rc = astra__kube_do(k, &rq, &body, NULL)))
				break;
		}
		/* start fetching the next page */
		prefetch_clear(&pf);
		pf.cont = peek_continue(&body);
		if (pf.cont) {
			if ((rc = page_path(&pf.path, r, ns, o, pf.cont)))
				break;
			pf.k = k;
			memset(&pf.rq, 0, sizeof(pf.rq));
			pf.rq.path = pf.path.ptr;
			pf.rq.verb = "list";
			pf.rq.what = what;
			pf.rq.op = o ? o->op : NULL;
			pf.running = pthread_create(&pf.th, NULL, prefetch_main,
			                     &pf) == 0;
		}

		astra__json *list;
		if ((rc = parse_body(k, &body, what, &list)))
			break;
		const astra__json *meta = astra__json_get(list, "metadata");
		const astra__json *items = astra__json_get(list, "items");
		if (astra__json_type_of(list) != ASTRA_JSON_OBJECT ||
		        (items &&
		                astra__json_type_of(items) !=
		                        ASTRA_JSON_ARRAY &&
		                astra__json_type_of(items) !=
		                        ASTRA_JSON_NULL)) {
			astra__json_free(list);
			rc = astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
			        "cluster \"%s\": list %s: the response is not a "
			        "list",
			        k->cfg->context, what);
			break;
		}
		if (page == 0 && rv_out) {
			const char *rv =
			        astra__json_str(meta, "resourceVersion");
			if (rv && !(*rv_out = astra__strdup(rv))) {
				astra__json_free(list);
				rc = ASTRA_ENOMEM;
				break;
			}
		}
		for (astra__json *it = astra__json_first(items); it;
		        it = astra__json_next(it)) {
			if (astra__json_type_of(it) != ASTRA_JSON_OBJECT)
				continue;
			if ((rc = set_type_meta(it, r, av)))
				break;
			int r2 = fn(payload, it);
			if (r2 < 0) {
				rc = r2;
				break;
			}
			if (r2 > 0) {
				stopped = 1;
				break;
			}
		}
		free(cont);
		cont = NULL;
		const char *c = astra__json_str(meta, "continue");
		if (!rc && !stopped && c && *c && !(cont = astra__strdup(c)))
			rc = ASTRA_ENOMEM;
		astra__json_free(list);
		page++;
		if (rc || stopped || !cont)
			break;
		/* use the prefetched page if it followed the same token */
		if (pf.running && pf.cont && !strcmp(pf.cont, cont)) {
			prefetch_join(&pf);
			if (pf.rc) {
				rc = astra__err(pf.rc, pf.klass, "%s", pf.msg);
				break;
			}
			have_next = 1;
		} else {
			prefetch_clear(&pf);
		}
	} while (!rc && !stopped && cont);
	prefetch_clear(&pf);
	free(cont);
	astra_buf_dispose(&path);
	astra_buf_dispose(&body);
	if (rc && rv_out) {
		free(*rv_out);
		*rv_out = NULL;
	}
	return rc;
}

static int collect_item(void *p, astra__json *item)
{
	astra__json *d = astra__json_dup(item);
	if (!d)
		return ASTRA_ENOMEM;
	return astra__json_push(p, d);
}

int astra__kube_list_all(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *o, astra__json **out)
{
	*out = astra__json_new_array();
	ASTRA_CHECK_ALLOC(*out);
	int rc = astra__kube_list(k, r, ns, o, collect_item, *out, NULL);
	if (rc) {
		astra__json_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writes                                                              */
/* ------------------------------------------------------------------ */

static int write_query(astra_buf *b, const astra__kube_write_options *o,
        int with_manager, int force)
{
	int rc = 0;
	const char *fm = o && o->field_manager ? o->field_manager
	                                       : DEFAULT_FIELD_MANAGER;
	if (with_manager)
		rc = add_q(b, "fieldManager", fm);
	if (!rc && o && o->dry_run)
		rc = add_q(b, "dryRun", "All");
	if (!rc && force && o && o->force)
		rc = add_q(b, "force", "true");
	return rc;
}

static int send_obj(astra__kube *k, const char *method, const char *verb,
        const char *path, const char *what, const char *ctype, const char *body,
        size_t len, int idempotent, astra__op *op, astra__json **out)
{
	astra_buf resp = ASTRA_BUF_INIT;
	astra__kube_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.verb = verb;
	rq.what = what;
	rq.content_type = ctype;
	rq.body = body ? body : "";
	rq.body_len = len;
	rq.idempotent = idempotent;
	rq.op = op;
	int rc = astra__kube_do(k, &rq, &resp, NULL);
	if (!rc && out)
		rc = parse_body(k, &resp, what, out);
	astra_buf_dispose(&resp);
	return rc;
}

static const char *obj_name(const astra__json *obj)
{
	return astra__json_str(astra__json_get(obj, "metadata"), "name");
}

int astra__kube_create(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj,
        const astra__kube_write_options *o, astra__json **out)
{
	ASTRA_ASSERT_ARG(k && r && obj);
	if (out)
		*out = NULL;
	ns = ns_for(k, r, ns, obj);
	const char *name = obj_name(obj);
	char what[600];
	describe(what, sizeof(what), r, ns, name);
	astra_buf path = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	int rc = astra__kube_path(&path, r, ns, NULL, NULL);
	if (!rc)
		rc = write_query(&path, o, 1, 0);
	if (!rc)
		rc = astra__json_print_buf(&body, obj, 0);
	if (!rc)
		rc = send_obj(k, "POST", "create", path.ptr, what, NULL,
		        body.ptr, body.size, 0, o ? o->op : NULL, out);
	astra_buf_dispose(&path);
	astra_buf_dispose(&body);
	return rc;
}

int astra__kube_update(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj,
        const astra__kube_write_options *o, astra__json **out)
{
	ASTRA_ASSERT_ARG(k && r && obj);
	if (out)
		*out = NULL;
	const char *name = obj_name(obj);
	if (!name || !*name)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "update of %s: the object has no metadata.name",
		        r->resource);
	ns = ns_for(k, r, ns, obj);
	char what[600];
	describe(what, sizeof(what), r, ns, name);
	astra_buf path = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	int rc =
	        astra__kube_path(&path, r, ns, name, o ? o->subresource : NULL);
	if (!rc)
		rc = write_query(&path, o, 1, 0);
	if (!rc)
		rc = astra__json_print_buf(&body, obj, 0);
	if (!rc)
		rc = send_obj(k, "PUT", "update", path.ptr, what, NULL,
		        body.ptr, body.size, 1, o ? o->op : NULL, out);
	astra_buf_dispose(&path);
	astra_buf_dispose(&body);
	return rc;
}

int astra__kube_patch(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const char *name, astra__kube_patch_type type,
        const char *patch, size_t len, const astra__kube_write_options *o,
        astra__json **out)
{
	ASTRA_ASSERT_ARG(k && r && name && patch);
	if (out)
		*out = NULL;
	if (r->namespaced && !ns)
		ns = astra__kube_namespace(k);
	static const char *const ctypes[] = { "application/merge-patch+json",
		"application/json-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml" };
	if ((unsigned)type > ASTRA_KUBE_PATCH_APPLY)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "unknown patch type %d", (int)type);
	char what[600];
	describe(what, sizeof(what), r, ns, name);
	astra_buf path = ASTRA_BUF_INIT;
	int apply = type == ASTRA_KUBE_PATCH_APPLY;
	int rc =
	        astra__kube_path(&path, r, ns, name, o ? o->subresource : NULL);
	if (!rc)
		rc = write_query(
		        &path, o, apply || (o && o->field_manager), apply);
	if (!rc)
		rc = send_obj(k, "PATCH", apply ? "apply" : "patch", path.ptr,
		        what, ctypes[type], patch, len, apply, o ? o->op : NULL,
		        out);
	astra_buf_dispose(&path);
	return rc;
}

int astra__kube_apply(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__json *obj,
        const astra__kube_write_options *o, astra__json **out)
{
	ASTRA_ASSERT_ARG(k && r && obj);
	if (out)
		*out = NULL;
	const char *name = obj_name(obj);
	if (!name || !*name)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_KUBE,
		        "apply of %s: the object has no metadata.name",
		        r->resource);
	ns = ns_for(k, r, ns, obj);
	astra_buf body = ASTRA_BUF_INIT;
	int rc = astra__json_print_buf(&body, obj, 0);
	if (!rc)
		rc = astra__kube_patch(k, r, ns, name, ASTRA_KUBE_PATCH_APPLY,
		        body.ptr, body.size, o, out);
	astra_buf_dispose(&body);
	return rc;
}

int astra__kube_delete(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const char *name, const astra__kube_write_options *o)
{
	ASTRA_ASSERT_ARG(k && r && name);
	if (r->namespaced && !ns)
		ns = astra__kube_namespace(k);
	char what[600];
	describe(what, sizeof(what), r, ns, name);
	astra_buf path = ASTRA_BUF_INIT, body = ASTRA_BUF_INIT;
	int rc = astra__kube_path(&path, r, ns, name, NULL);
	if (!rc)
		rc = write_query(&path, o, 0, 0);
	if (!rc && o && (o->propagation || o->grace_period_seconds)) {
		rc = astra__buf_puts(&body,
		        "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"");
		if (!rc && o->propagation)
			rc = astra__buf_printf(&body,
			        ",\"propagationPolicy\":\"%s\"",
			        o->propagation);
		if (!rc && o->grace_period_seconds)
			rc = astra__buf_printf(&body,
			        ",\"gracePeriodSeconds\":%" PRId64,
			        o->grace_period_seconds > 0
			                ? o->grace_period_seconds
			                : 0);
		if (!rc)
			rc = astra__buf_putc(&body, '}');
	}
	if (!rc) {
		astra__kube_req rq;
		memset(&rq, 0, sizeof(rq));
		rq.method = "DELETE";
		rq.path = path.ptr;
		rq.verb = "delete";
		rq.what = what;
		rq.body = body.ptr;
		rq.body_len = body.size;
		rq.op = o ? o->op : NULL;
		rc = astra__kube_do(k, &rq, NULL, NULL);
	}
	astra_buf_dispose(&path);
	astra_buf_dispose(&body);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Watch                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
	astra__kube *k;
	const astra__kube_resource *r;
	const char *what;
	char av[300];
	astra__kube_watch_fn fn;
	void *payload;
	astra_buf line;
	char *last_rv;
	int stopped;
	int err; /* an error raised while handling events */
	char errmsg[1024];
	int errklass;
} watch_state;

static int watch_event(watch_state *w, const char *text, size_t len)
{
	astra__json *ev;
	char name[700];
	snprintf(name, sizeof(name), "cluster \"%s\": watch event of %s",
	        w->k->cfg->context, w->what);
	int rc = astra__json_parse(&ev, text, len, name);
	if (rc)
		return rc;
	const char *type = astra__json_str(ev, "type");
	astra__json *obj = astra__json_get(ev, "object");
	if (!type || astra__json_type_of(obj) != ASTRA_JSON_OBJECT) {
		astra__json_free(ev);
		return astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		        "%s: an event without type or object", name);
	}
	if (!strcmp(type, "ERROR")) {
		long code = (long)astra__json_int(obj, "code", 500);
		char *s = NULL;
		rc = astra__json_print(&s, obj, 0);
		if (!rc)
			rc = astra__kube_status_error(w->k->cfg->context, code,
			        s, strlen(s), "watch", w->what);
		free(s);
		astra__json_free(ev);
		return rc;
	}
	const char *rv = astra__json_str(
	        astra__json_get(obj, "metadata"), "resourceVersion");
	if (rv) {
		char *d = astra__strdup(rv);
		if (!d) {
			astra__json_free(ev);
			return ASTRA_ENOMEM;
		}
		free(w->last_rv);
		w->last_rv = d;
	}
	if (strcmp(type, "BOOKMARK"))
		rc = set_type_meta(obj, w->r, w->av);
	if (!rc)
		rc = w->fn(w->payload, type, obj);
	astra__json_free(ev);
	if (rc > 0) {
		w->stopped = 1;
		return ASTRA_ECANCELLED; /* ends the transfer */
	}
	return rc;
}

static int watch_write(void *p, const char *data, size_t n)
{
	watch_state *w = p;
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (w->line.size + take > WATCH_LINE_MAX)
			return astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
			        "cluster \"%s\": watch of %s: an event larger "
			        "than %zu bytes",
			        w->k->cfg->context, w->what, WATCH_LINE_MAX);
		int rc = astra__buf_put(&w->line, data, take);
		if (rc)
			return rc;
		data += take;
		n -= take;
		if (!nl)
			break;
		data++;
		n--;
		if (w->line.size) {
			rc = watch_event(w, w->line.ptr, w->line.size);
			astra__buf_clear(&w->line);
			if (rc) {
				if (!w->stopped) {
					/* kept from the transfer's prefixes */
					w->err = rc;
					w->errklass = astra_error_last()->klass;
					snprintf(w->errmsg, sizeof(w->errmsg),
					        "%s",
					        astra_error_last()->message);
				}
				return rc;
			}
		}
	}
	return 0;
}

int astra__kube_watch(astra__kube *k, const astra__kube_resource *r,
        const char *ns, const astra__kube_list_options *o,
        astra__kube_watch_fn fn, void *payload, char **last_rv)
{
	ASTRA_ASSERT_ARG(k && r && fn);
	if (last_rv)
		*last_rv = NULL;
	char what[600];
	describe(what, sizeof(what), r, ns, NULL);
	watch_state w;
	memset(&w, 0, sizeof(w));
	w.k = k;
	w.r = r;
	w.what = what;
	w.fn = fn;
	w.payload = payload;
	if (r->group && *r->group)
		snprintf(w.av, sizeof(w.av), "%s/%s", r->group, r->version);
	else
		snprintf(w.av, sizeof(w.av), "%s", r->version);
	astra_buf path = ASTRA_BUF_INIT;
	int rc = astra__kube_path(&path, r, ns, NULL, NULL);
	if (!rc)
		rc = add_q(&path, "watch", "1");
	if (!rc)
		rc = list_query(&path, o);
	if (!rc && o && o->timeout_seconds)
		rc = add_qu(&path, "timeoutSeconds", o->timeout_seconds);
	if (!rc && o && o->allow_bookmarks)
		rc = add_q(&path, "allowWatchBookmarks", "true");
	if (!rc && o && o->send_initial_events)
		rc = add_q(&path, "sendInitialEvents", "true");
	if (!rc) {
		astra__kube_req rq;
		memset(&rq, 0, sizeof(rq));
		rq.path = path.ptr;
		rq.verb = "watch";
		rq.what = what;
		rq.write = watch_write;
		rq.write_payload = &w;
		rq.op = o ? o->op : NULL;
		rq.timeout_ms = o && o->timeout_seconds
		                        ? (o->timeout_seconds + 30) * 1000
		                        : ASTRA_HTTP_NO_TIMEOUT;
		rc = astra__kube_do(k, &rq, NULL, NULL);
		if (rc && w.stopped) {
			astra_error_clear();
			rc = 0;
		} else if (rc && w.err == rc) {
			astra__err(rc, w.errklass, "%s", w.errmsg);
		}
		/* a final event without a newline */
		if (!rc && !w.stopped && w.line.size) {
			rc = watch_event(&w, w.line.ptr, w.line.size);
			if (w.stopped)
				rc = 0;
		}
	}
	if (last_rv && !rc) {
		*last_rv = w.last_rv;
		w.last_rv = NULL;
	}
	free(w.last_rv);
	astra_buf_dispose(&w.line);
	astra_buf_dispose(&path);
	return rc;
}
