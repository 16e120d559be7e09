/*
 * Execution hooks: definitions, matching, ordering, running a stage, and
 * the public astra_hook_* calls.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "hook/hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/options.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "kube/cluster_internal.h"
#include "kube/podexec.h"

static const char *const stage_names[] = { "pre-snapshot", "post-snapshot",
	"pre-backup", "post-backup", "pre-restore", "post-restore", "verify",
	NULL };
static const char *const re_keys[4] = { "namespaceRegex", "podRegex",
	"containerRegex", "imageRegex" };
static const char *const re_what[4] = { "namespace", "pod", "container",
	"image" };

static int stage_index(const char *stage)
{
	for (int i = 0; stage && stage_names[i]; i++)
		if (!strcmp(stage, stage_names[i]))
			return i;
	return -1;
}

int astra__hook_stage_valid(const char *stage)
{
	return stage_index(stage) >= 0;
}

static int dns_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		            (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return s[0] != '-' && s[n - 1] != '-';
}

void astra__hook_clear(astra__hook *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->stage);
	free(h->script);
	for (size_t i = 0; i < h->nargs; i++)
		free(h->args[i]);
	free(h->args);
	for (int i = 0; i < 4; i++) {
		free(h->re_text[i]);
		if (h->has_re[i])
			regfree(&h->re[i]);
	}
	free(h->selector_text);
	astra__selector_free(h->selector);
	memset(h, 0, sizeof(*h));
}

static int bad(const char *name, const char *fmt, ...) ASTRA_PRINTF(2, 3);
static int bad(const char *name, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
	        "hook \"%s\": %s", name ? name : "", msg);
}

int astra__hook_parse(astra__hook *h, const astra__json *def,
        const char *script, size_t script_len)
{
	memset(h, 0, sizeof(*h));
	const char *name = astra__json_str(def, "name");
	if (!dns_label(name))
		return bad(name, "the name must be a DNS label (lower-case "
		                 "letters, digits and '-', at most 63)");
	int rc = ASTRA_ENOMEM;
	if (!(h->name = astra__strdup(name)))
		goto fail;
	const char *stage = astra__json_str(def, "stage");
	if (!astra__hook_stage_valid(stage)) {
		rc = bad(name,
		        "stage \"%s\" is not one of pre-snapshot, "
		        "post-snapshot, pre-backup, post-backup, pre-restore, "
		        "post-restore, verify",
		        stage ? stage : "");
		goto fail;
	}
	if (!(h->stage = astra__strdup(stage)))
		goto fail;
	if (!script) {
		script = astra__json_str(def, "script");
		script_len = script ? strlen(script) : 0;
	}
	if (!script || !script_len) {
		rc = bad(name, "the script is empty");
		goto fail;
	}
	if (script_len > ASTRA_HOOK_SCRIPT_MAX) {
		rc = bad(name,
		        "the script has %zu bytes, more than the %u "
		        "allowed",
		        script_len, ASTRA_HOOK_SCRIPT_MAX);
		goto fail;
	}
	if (memchr(script, '\0', script_len)) {
		rc = bad(name, "the script contains a NUL byte");
		goto fail;
	}
	if (!(h->script = astra__strndup(script, script_len)))
		goto fail;
	h->script_len = script_len;
	const astra__json *args = astra__json_get(def, "args");
	if (args && astra__json_type_of(args) != ASTRA_JSON_ARRAY) {
		rc = bad(name, "\"args\" must be an array of strings");
		goto fail;
	}
	size_t na = astra__json_size(args);
	if (!(h->args = astra__calloc(na + 1, sizeof(char *))))
		goto fail;
	for (size_t i = 0; i < na; i++) {
		const char *a =
		        astra__json_string_value(astra__json_at(args, i));
		if (!a) {
			rc = bad(name, "argument %zu is not a string", i + 1);
			goto fail;
		}
		if (!(h->args[h->nargs++] = astra__strdup(a)))
			goto fail;
	}
	for (int i = 0; i < 4; i++) {
		const char *t = astra__json_str(def, re_keys[i]);
		if (!t || !*t)
			continue;
		int e = regcomp(&h->re[i], t, REG_EXTENDED | REG_NOSUB);
		if (e) {
			char why[256];
			regerror(e, &h->re[i], why, sizeof(why));
			rc = bad(name, "%s regex \"%.200s\": %s", re_what[i], t,
			        why);
			goto fail;
		}
		h->has_re[i] = 1;
		if (!(h->re_text[i] = astra__strdup(t)))
			goto fail;
	}
	const char *sel = astra__json_str(def, "selector");
	if (sel && *sel) {
		if ((rc = astra__selector_parse(&h->selector, sel))) {
			astra__err_prefix(rc, "hook \"%s\": selector", name);
			goto fail;
		}
		rc = ASTRA_ENOMEM;
		if (!(h->selector_text = astra__strdup(sel)))
			goto fail;
	}
	int64_t t = astra__json_int(def, "timeoutSeconds", 60);
	if (t <= 0 || t > 24 * 3600) {
		rc = bad(name, "timeout of %lld s is not between 1 s and 24 h",
		        (long long)t);
		goto fail;
	}
	h->timeout_s = (unsigned)t;
	const char *oe = astra__json_str(def, "onError");
	if (!oe || !strcmp(oe, "fail"))
		h->on_error = ASTRA_HOOK_ON_ERROR_FAIL;
	else if (!strcmp(oe, "continue"))
		h->on_error = ASTRA_HOOK_ON_ERROR_CONTINUE;
	else {
		rc = bad(name, "onError \"%s\" is not fail or continue", oe);
		goto fail;
	}
	return 0;
fail:
	if (rc == ASTRA_ENOMEM)
		rc = astra__err_oom();
	astra__hook_clear(h);
	return rc;
}

astra__json *astra__hook_json(const astra__hook *h, int with_script)
{
	astra__json *o = astra__json_new_object();
	astra__json *a = astra__json_new_array();
	if (!o || !a) {
		astra__json_free(o);
		astra__json_free(a);
		return NULL;
	}
	astra__json_set_str(o, "name", h->name);
	astra__json_set_str(o, "stage", h->stage);
	for (size_t i = 0; i < h->nargs; i++)
		astra__json_push(a, astra__json_new_string(h->args[i]));
	astra__json_set(o, "args", a);
	for (int i = 0; i < 4; i++)
		if (h->re_text[i])
			astra__json_set_str(o, re_keys[i], h->re_text[i]);
	if (h->selector_text)
		astra__json_set_str(o, "selector", h->selector_text);
	astra__json_set_int(o, "timeoutSeconds", h->timeout_s);
	astra__json_set_str(o, "onError",
	        h->on_error == ASTRA_HOOK_ON_ERROR_CONTINUE ? "continue"
	                                                    : "fail");
	astra__json_set_int(o, "scriptBytes", (int64_t)h->script_len);
	if (with_script)
		astra__json_set_str(o, "script", h->script);
	return o;
}

static int cmp_hooks(const void *a, const void *b)
{
	const astra__hook *x = a, *y = b;
	int sx = stage_index(x->stage), sy = stage_index(y->stage);
	if (sx != sy)
		return sx - sy;
	return strcmp(x->name, y->name);
}

void astra__hook_set_sort(astra__hook_set *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_hooks);
}

void astra__hook_set_free(astra__hook_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		astra__hook_clear(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int astra__hook_has_stage(const astra__hook_set *s, const char *stage)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].stage, stage))
			return 1;
	return 0;
}

static int cm_resource(astra__kube *k, astra__kube_resource *r)
{
	return astra__kube_find_kind(k, "", "v1", "ConfigMap", r);
}

int astra__hook_load(
        astra__kube *k, const char *home, const char *app, astra__hook_set *out)
{
	memset(out, 0, sizeof(*out));
	astra__kube_resource r;
	int rc = cm_resource(k, &r);
	if (rc)
		return rc;
	char sel[256];
	snprintf(sel, sizeof(sel),
	        ASTRA_HOOK_LABEL_DEF "=true," ASTRA_HOOK_LABEL_APP "=%s", app);
	astra__kube_list_options lo = { 0 };
	lo.label_selector = sel;
	astra__json *items = NULL;
	rc = astra__kube_list_all(k, &r, home, &lo, &items);
	astra__kube_resource_clear(&r);
	if (rc)
		return rc;
	size_t n = astra__json_size(items);
	out->v = astra__calloc(n + 1, sizeof(*out->v));
	if (!out->v) {
		astra__json_free(items);
		return astra__err_oom();
	}
	for (size_t i = 0; i < n; i++) {
		const astra__json *cm = astra__json_at(items, i);
		const astra__json *data = astra__json_get(cm, "data");
		const char *text = astra__json_str(data, ASTRA_HOOK_CM_DEF);
		const char *script =
		        astra__json_str(data, ASTRA_HOOK_CM_SCRIPT);
		const char *cmname = astra__json_str(
		        astra__json_get(cm, "metadata"), "name");
		astra__json *def = NULL;
		char what[300];
		snprintf(what, sizeof(what), "hook ConfigMap %s/%s", home,
		        cmname ? cmname : "");
		rc = text ? astra__json_parse(&def, text, strlen(text), what)
		          : astra__err(ASTRA_EPARSE, ASTRA_ERROR_KUBE,
		                    "%s has no %s", what, ASTRA_HOOK_CM_DEF);
		if (!rc)
			rc = astra__hook_parse(&out->v[out->n], def, script,
			        script ? strlen(script) : 0);
		astra__json_free(def);
		if (rc) {
			/* a hook that cannot be read must not be skipped
			 * silently: it may be what keeps the data
			 * consistent */
			astra__err_prefix(rc, "%s", what);
			astra__json_free(items);
			astra__hook_set_free(out);
			return rc;
		}
		out->n++;
	}
	astra__json_free(items);
	astra__hook_set_sort(out);
	return 0;
}

int astra__hook_from_json(const astra__json *arr, astra__hook_set *out)
{
	memset(out, 0, sizeof(*out));
	size_t n = astra__json_size(arr);
	out->v = astra__calloc(n + 1, sizeof(*out->v));
	if (!out->v)
		return astra__err_oom();
	for (size_t i = 0; i < n; i++) {
		int rc = astra__hook_parse(
		        &out->v[out->n], astra__json_at(arr, i), NULL, 0);
		if (rc) {
			astra__hook_set_free(out);
			return astra__err_prefix(rc, "the record's hooks");
		}
		out->n++;
	}
	astra__hook_set_sort(out);
	return 0;
}

int astra__hook_matches(const astra__hook *h, const char *ns, const char *pod,
        const char *container, const char *image, const astra__json *labels)
{
	const char *v[4] = { ns, pod, container, image };
	for (int i = 0; i < 4; i++)
		if (h->has_re[i] &&
		        (!v[i] || regexec(&h->re[i], v[i], 0, NULL, 0) != 0))
			return 0;
	if (h->selector && !astra__selector_matches(h->selector, labels))
		return 0;
	return 1;
}

/* ---- planning ---- */

typedef struct {
	const char *ns, *pod, *container, *image;
	const astra__json *labels;
	const char *not_running;
} cand;

static int cmp_cand(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	if (!c)
		c = strcmp(x->pod, y->pod);
	if (!c)
		c = strcmp(x->container, y->container);
	return c;
}

/* Why a container cannot run commands now, or NULL. */
static const char *container_state(
        const astra__json *pod, const char *container)
{
	const astra__json *st = astra__json_get(pod, "status");
	const char *phase = astra__json_str(st, "phase");
	if (!phase || strcmp(phase, "Running"))
		return "the pod is not running";
	const astra__json *cs = astra__json_get(st, "containerStatuses");
	for (size_t i = 0; i < astra__json_size(cs); i++) {
		const astra__json *c = astra__json_at(cs, i);
		const char *n = astra__json_str(c, "name");
		if (n && !strcmp(n, container))
			return astra__json_get(
			               astra__json_get(c, "state"), "running")
			               ? NULL
			               : "the container is not running";
	}
	return "the container has no status yet";
}

int astra__hook_plan(const astra__hook_set *s, const char *stage,
        const astra__json *pods, astra__hook_target **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t nc = 0, cap = 16;
	cand *c = astra__calloc(cap, sizeof(*c));
	if (!c)
		return astra__err_oom();
	for (size_t i = 0; i < astra__json_size(pods); i++) {
		const astra__json *p = astra__json_at(pods, i);
		const astra__json *md = astra__json_get(p, "metadata");
		const char *ns = astra__json_str(md, "namespace");
		const char *pn = astra__json_str(md, "name");
		if (!ns || !pn || astra__json_get(md, "deletionTimestamp"))
			continue;
		const astra__json *ctrs =
		        astra__json_path(p, "spec.containers");
		for (size_t j = 0; j < astra__json_size(ctrs); j++) {
			const astra__json *ct = astra__json_at(ctrs, j);
			const char *cn = astra__json_str(ct, "name");
			if (!cn)
				continue;
			if (nc == cap) {
				cand *t =
				        astra__realloc(c, 2 * cap * sizeof(*c));
				if (!t) {
					free(c);
					return astra__err_oom();
				}
				c = t;
				cap *= 2;
			}
			c[nc].ns = ns;
			c[nc].pod = pn;
			c[nc].container = cn;
			c[nc].image = astra__json_str(ct, "image");
			c[nc].labels = astra__json_get(md, "labels");
			c[nc].not_running = container_state(p, cn);
			nc++;
		}
	}
	if (nc > 1)
		qsort(c, nc, sizeof(*c), cmp_cand);
	size_t nt = 0, tcap = 0;
	astra__hook_target *t = NULL;
	for (size_t h = 0; h < s->n; h++) {
		if (strcmp(s->v[h].stage, stage))
			continue;
		for (size_t i = 0; i < nc; i++) {
			if (!astra__hook_matches(&s->v[h], c[i].ns, c[i].pod,
			            c[i].container, c[i].image, c[i].labels))
				continue;
			if (nt == tcap) {
				size_t ncap = tcap ? 2 * tcap : 16;
				astra__hook_target *x =
				        astra__realloc(t, ncap * sizeof(*t));
				if (!x) {
					free(t);
					free(c);
					return astra__err_oom();
				}
				t = x;
				tcap = ncap;
			}
			t[nt].hook = h;
			t[nt].ns = c[i].ns;
			t[nt].pod = c[i].pod;
			t[nt].container = c[i].container;
			t[nt].not_running = c[i].not_running;
			nt++;
		}
	}
	free(c);
	*out = t;
	*n = nt;
	return 0;
}

/* ---- running ---- */

static int list_pods(
        astra__kube *k, const astra__hook_run_options *o, astra__json **out)
{
	*out = NULL;
	astra__kube_resource r;
	int rc = astra__kube_find_kind(k, "", "v1", "Pod", &r);
	if (rc)
		return rc;
	astra__json *all = astra__json_new_array();
	if (!all) {
		astra__kube_resource_clear(&r);
		return astra__err_oom();
	}
	for (size_t i = 0; i < o->nnamespaces && !rc; i++) {
		astra__json *items = NULL;
		rc = astra__kube_list_all(
		        k, &r, o->namespaces[i], NULL, &items);
		for (astra__json *it = rc ? NULL : astra__json_first(items);
		        it && !rc; it = astra__json_next(it)) {
			astra__json *d = astra__json_dup(it);
			if (!d || astra__json_push(all, d)) {
				astra__json_free(d);
				rc = astra__err_oom();
			}
		}
		astra__json_free(items);
	}
	astra__kube_resource_clear(&r);
	if (rc) {
		astra__json_free(all);
		return rc;
	}
	*out = all;
	return 0;
}

/* The end of a captured stream, printable, for messages. */
static void tail_of(char *out, size_t n, const astra_buf *b)
{
	out[0] = '\0';
	if (!b->ptr || !b->size)
		return;
	size_t len = b->size, start = len > n - 1 ? len - (n - 1) : 0;
	while (len > start &&
	        (b->ptr[len - 1] == '\n' || b->ptr[len - 1] == '\r'))
		len--;
	size_t j = 0;
	for (size_t i = start; i < len && j < n - 1; i++) {
		unsigned char ch = (unsigned char)b->ptr[i];
		out[j++] = ch == '\n'               ? ' '
		           : (ch < 32 || ch == 127) ? '?'
		                                    : (char)ch;
	}
	out[j] = '\0';
}

typedef struct {
	int argv_mode; /* the server speaks only v4: script as an argument */
} run_state;

static int exec_hook(astra__kube *k, const astra__hook *h,
        const astra__hook_target *t, run_state *st, astra__op *op,
        astra__kube_exec_result *res)
{
	size_t na = h->nargs + 6;
	const char **argv = astra__calloc(na, sizeof(char *));
	if (!argv)
		return astra__err_oom();
	char argv0[96];
	snprintf(argv0, sizeof(argv0), "astra-hook-%s", h->name);
	astra__kube_exec_options eo = { 0 };
	eo.ns = t->ns;
	eo.pod = t->pod;
	eo.container = t->container;
	eo.timeout_ms = h->timeout_s * 1000u;
	eo.max_stdout = ASTRA_HOOK_OUTPUT_MAX;
	eo.max_stderr = ASTRA_HOOK_OUTPUT_MAX;
	eo.op = op;
	int rc;
	if (!st->argv_mode) {
		/* the script on stdin: no length limit from URLs */
		size_t i = 0;
		argv[i++] = "/bin/sh";
		argv[i++] = "-s";
		argv[i++] = "--";
		for (size_t j = 0; j < h->nargs; j++)
			argv[i++] = h->args[j];
		argv[i] = NULL;
		eo.argv = argv;
		eo.use_stdin = 1;
		eo.stdin_data = h->script;
		eo.stdin_len = h->script_len;
		rc = astra__kube_pod_exec(k, &eo, res);
		if (rc != ASTRA_ENOTSUPPORTED || !res->no_stdin_close)
			goto done;
		astra__log_info("hooks: the API server speaks only %s; "
		                "passing scripts as arguments",
		        res->protocol);
		astra__kube_exec_result_dispose(res);
		st->argv_mode = 1;
	}
	size_t i = 0;
	argv[i++] = "/bin/sh";
	argv[i++] = "-c";
	argv[i++] = h->script;
	argv[i++] = argv0;
	for (size_t j = 0; j < h->nargs; j++)
		argv[i++] = h->args[j];
	argv[i] = NULL;
	memset(&eo.stdin_data, 0, sizeof(eo.stdin_data));
	eo.argv = argv;
	eo.use_stdin = 0;
	eo.stdin_len = 0;
	rc = astra__kube_pod_exec(k, &eo, res);
done:
	free(argv);
	return rc;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		min = 0x80;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		min = 0x800;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		min = 0x10000;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *astra__hook_printable(const char *p, size_t n)
{
	char *s = astra__strndup(p ? p : "", p ? n : 0);
	if (!s)
		return NULL;
	unsigned char *u = (unsigned char *)s;
	for (size_t i = 0; p && i < n;) {
		size_t l = utf8_len(u + i, n - i);
		if (l == 0) {
			u[i++] = '?';
			continue;
		}
		if (l == 1 && (u[i] < 32 || u[i] == 127) && u[i] != '\n' &&
		        u[i] != '\t')
			u[i] = '?';
		i += l;
	}
	return s;
}

static void set_buf_str(astra__json *o, const char *key, const astra_buf *b)
{
	char *s = astra__hook_printable(b->ptr, b->size);
	if (s)
		astra__json_set_str(o, key, s);
	free(s);
}

static int wait_for_pods(astra__kube *k, const astra__hook_set *s,
        const char *stage, const astra__hook_run_options *o)
{
	uint64_t end =
	        astra__mono_ns() + (uint64_t)o->wait_pods_ms * 1000000ULL;
	for (;;) {
		astra__json *pods = NULL;
		astra__hook_target *t = NULL;
		size_t n = 0;
		int rc = list_pods(k, o, &pods);
		if (!rc)
			rc = astra__hook_plan(s, stage, pods, &t, &n);
		int ready = !rc;
		for (size_t h = 0; ready && h < s->n; h++) {
			if (strcmp(s->v[h].stage, stage))
				continue;
			int any = 0;
			for (size_t i = 0; i < n; i++)
				if (t[i].hook == h) {
					any = 1;
					ready &= t[i].not_running == NULL;
				}
			ready &= any;
		}
		free(t);
		astra__json_free(pods);
		if (rc)
			return rc;
		if (ready || astra__mono_ns() >= end)
			return 0;
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		if ((rc = astra__op_check(o->op)))
			return rc;
	}
}

/* A hook selects pods only in the namespaces it is run for (its app's,
 * docs/security.md): one whose namespace pattern matches none of them
 * is named in a warning, as it never runs. */
static void warn_outside(const astra__hook_set *s, const char *stage,
        const astra__hook_run_options *o)
{
	for (size_t h = 0; h < s->n; h++) {
		if (strcmp(s->v[h].stage, stage) || !s->v[h].has_re[0])
			continue;
		int hit = 0;
		for (size_t i = 0; i < o->nnamespaces && !hit; i++)
			hit = regexec(&s->v[h].re[0], o->namespaces[i], 0, NULL,
			              0) == 0;
		if (!hit)
			astra__log_warn(
			        "hook %s of %s is ignored: its namespace "
			        "pattern matches none of the app's "
			        "namespaces (a hook runs only in its "
			        "app's namespaces)",
			        s->v[h].name, o->what ? o->what : "the app");
	}
}

int astra__hook_run_stage(astra__kube *k, const astra__hook_set *s,
        const char *stage, const astra__hook_run_options *o,
        astra__json *stages)
{
	astra__json *sj = astra__json_new_object();
	astra__json *results = astra__json_new_array();
	astra__json *pods = NULL;
	astra__hook_target *t = NULL;
	size_t nt = 0, ran = 0, failed = 0;
	int rc = 0;
	run_state st = { 0 };
	if (!sj || !results) {
		rc = astra__err_oom();
		goto out;
	}
	if (astra__hook_has_stage(s, stage)) {
		warn_outside(s, stage, o);
		if (o->wait_pods_ms && (rc = wait_for_pods(k, s, stage, o)))
			goto out;
		if ((rc = list_pods(k, o, &pods)) ||
		        (rc = astra__hook_plan(s, stage, pods, &t, &nt)))
			goto out;
	}
	for (size_t i = 0; i < nt && !rc; i++) {
		const astra__hook *h = &s->v[t[i].hook];
		astra__json *r = astra__json_new_object();
		if (!r) {
			rc = astra__err_oom();
			break;
		}
		astra__json_set_str(r, "hook", h->name);
		astra__json_set_str(r, "namespace", t[i].ns);
		astra__json_set_str(r, "pod", t[i].pod);
		astra__json_set_str(r, "container", t[i].container);
		if (t[i].not_running) {
			astra__json_set_str(r, "result", "skipped");
			astra__json_set_str(r, "error", t[i].not_running);
			astra__json_push(results, r);
			astra__log_info(
			        "%s: %s hook %s skipped in %s/%s %s: %s",
			        o->what ? o->what : "hooks", stage, h->name,
			        t[i].ns, t[i].pod, t[i].container,
			        t[i].not_running);
			continue;
		}
		if ((rc = astra__op_check(o->op))) {
			astra__json_free(r);
			break;
		}
		astra__kube_exec_result res;
		int erc = exec_hook(k, h, &t[i], &st, o->op, &res);
		if (erc == ASTRA_ECANCELLED) {
			astra__json_free(r);
			astra__kube_exec_result_dispose(&res);
			rc = erc;
			break;
		}
		ran++;
		const char *result = "ok";
		char why[512] = "";
		if (erc == ASTRA_ETIMEOUT) {
			result = "timeout";
			snprintf(why, sizeof(why), "timed out after %u s",
			        h->timeout_s);
		} else if (erc) {
			result = "error";
			snprintf(why, sizeof(why), "%s",
			        astra_error_last()->message);
		} else if (res.exit_code != 0) {
			result = "failed";
			if (res.exit_code > 0)
				snprintf(why, sizeof(why), "exit code %d",
				        res.exit_code);
			else
				snprintf(why, sizeof(why), "%s", res.message);
		}
		astra__json_set_str(r, "result", result);
		astra__json_set_int(r, "exitCode", res.exit_code);
		set_buf_str(r, "stdout", &res.out);
		set_buf_str(r, "stderr", &res.err);
		astra__json_set_bool(r, "stdoutTruncated", res.out_truncated);
		astra__json_set_bool(r, "stderrTruncated", res.err_truncated);
		astra__json_set_int(r, "durationMs", res.duration_ms);
		if (why[0])
			astra__json_set_str(r, "error", why);
		astra__json_push(results, r);
		if (strcmp(result, "ok")) {
			failed++;
			char err[256];
			tail_of(err, sizeof(err), &res.err);
			astra__log_warn("%s: %s hook %s in %s/%s %s: %s%s%s",
			        o->what ? o->what : "hooks", stage, h->name,
			        t[i].ns, t[i].pod, t[i].container, why,
			        err[0] ? "; stderr: " : "", err);
			if (h->on_error == ASTRA_HOOK_ON_ERROR_FAIL)
				rc = astra__err(erc == ASTRA_ETIMEOUT
				                        ? ASTRA_ETIMEOUT
				                        : ASTRA_ERROR,
				        ASTRA_ERROR_KUBE,
				        "%s hook \"%s\" in pod %s/%s container "
				        "%s: %s%s%s",
				        stage, h->name, t[i].ns, t[i].pod,
				        t[i].container, why,
				        err[0] ? "; stderr: " : "", err);
		}
		astra__kube_exec_result_dispose(&res);
	}
out:
	if (sj) {
		astra__json_set_str(sj, "stage", stage);
		astra__json_set_int(sj, "hooks", (int64_t)ran);
		astra__json_set_int(sj, "failed", (int64_t)failed);
		astra__json_set(sj, "results", results);
		results = NULL;
		if (stages && astra__json_push(stages, sj) == 0)
			sj = NULL;
	}
	astra__json_free(sj);
	astra__json_free(results);
	astra__json_free(pods);
	free(t);
	return rc;
}

/* ---- public API ---- */

astra_status astra_hook_options_init(
        astra_hook_options *o, unsigned int version)
{
	ASTRA__OPTIONS_INIT_BODY(
	        astra_hook_options, HOOK, o, version, sizeof(defaults));
}

static int cm_name(char *out, size_t n, const char *app, const char *hook)
{
	int len = snprintf(out, n, ASTRA_HOOK_CM_PREFIX "%s-%s", app, hook);
	if (len < 0 || (size_t)len >= n || len > 253)
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "hook \"%s\": the name is too long for app \"%s\"",
		        hook, app);
	return 0;
}

astra_status astra_hook_create(astra_app *app, const char *name,
        const astra_hook_options *o, unsigned int flags)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(name);
	ASTRA_ASSERT_ARG(o);
	int rc = astra__check_version(
	        o->version, ASTRA_HOOK_OPTIONS_VERSION, "astra_hook_options");
	if (rc)
		return rc;
	if (o->on_error != ASTRA_HOOK_ON_ERROR_FAIL &&
	        o->on_error != ASTRA_HOOK_ON_ERROR_CONTINUE)
		return bad(name, "on_error %d is not fail or continue",
		        o->on_error);
	if (!o->script)
		return bad(name, "the script is missing");
	if (o->nargs && !o->args)
		return bad(
		        name, "%zu arguments but no argument array", o->nargs);
	size_t slen = o->script_len ? o->script_len : strlen(o->script);
	astra__json *def = astra__json_new_object();
	astra__json *args = astra__json_new_array();
	if (!def || !args) {
		astra__json_free(def);
		astra__json_free(args);
		return astra__err_oom();
	}
	astra__json_set_str(def, "name", name);
	if (o->stage)
		astra__json_set_str(def, "stage", o->stage);
	for (size_t i = 0; i < o->nargs; i++)
		astra__json_push(args,
		        astra__json_new_string(o->args[i] ? o->args[i] : ""));
	astra__json_set(def, "args", args);
	const char *re[4] = { o->namespace_regex, o->pod_regex,
		o->container_regex, o->image_regex };
	for (int i = 0; i < 4; i++)
		if (re[i] && *re[i])
			astra__json_set_str(def, re_keys[i], re[i]);
	if (o->selector && *o->selector)
		astra__json_set_str(def, "selector", o->selector);
	astra__json_set_int(
	        def, "timeoutSeconds", o->timeout_s ? o->timeout_s : 60);
	astra__json_set_str(def, "onError",
	        o->on_error == ASTRA_HOOK_ON_ERROR_CONTINUE ? "continue"
	                                                    : "fail");
	astra__hook h;
	char cmn[300];
	astra__json *cm = NULL;
	char *text = NULL;
	astra__kube_resource r;
	memset(&r, 0, sizeof(r));
	if ((rc = astra__hook_parse(&h, def, o->script, slen)))
		goto done;
	astra__hook_clear(&h);
	if ((rc = cm_name(cmn, sizeof(cmn), app->name, name)) ||
	        (rc = cm_resource(app->k, &r)))
		goto done;
	rc = ASTRA_ENOMEM;
	cm = astra__json_new_object();
	astra__json *md = astra__json_new_object();
	astra__json *labels = astra__json_new_object();
	astra__json *data = astra__json_new_object();
	char *script = astra__strndup(o->script, slen);
	if (!cm || !md || !labels || !data || !script ||
	        astra__json_print(&text, def, 1)) {
		astra__json_free(md);
		astra__json_free(labels);
		astra__json_free(data);
		free(script);
		rc = astra__err_oom();
		goto done;
	}
	astra__json_set_str(cm, "apiVersion", "v1");
	astra__json_set_str(cm, "kind", "ConfigMap");
	astra__json_set_str(md, "name", cmn);
	astra__json_set_str(md, "namespace", app->home);
	astra__json_set_str(labels, ASTRA_HOOK_LABEL_DEF, "true");
	astra__json_set_str(labels, ASTRA_HOOK_LABEL_APP, app->name);
	astra__json_set_str(labels, ASTRA_HOOK_LABEL_NAME, name);
	astra__json_set(md, "labels", labels);
	astra__json_set(cm, "metadata", md);
	astra__json_set_str(data, ASTRA_HOOK_CM_DEF, text);
	astra__json_set_str(data, ASTRA_HOOK_CM_SCRIPT, script);
	free(script);
	astra__json_set(cm, "data", data);
	astra__kube_write_options wo = { 0 };
	wo.field_manager = "astra-hooks";
	wo.force = 1;
	if (flags & ASTRA_HOOK_F_UPDATE)
		rc = astra__kube_apply(app->k, &r, app->home, cm, &wo, NULL);
	else
		rc = astra__kube_create(app->k, &r, app->home, cm, &wo, NULL);
	if (rc == ASTRA_EEXISTS)
		rc = astra__err(ASTRA_EEXISTS, ASTRA_ERROR_KUBE,
		        "app \"%s\" already has a hook named \"%s\"", app->name,
		        name);
done:
	free(text);
	astra__json_free(cm);
	astra__json_free(def);
	astra__kube_resource_clear(&r);
	return rc;
}

astra_status astra_hook_list(astra_app *app, astra_buf *out)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(out);
	astra__hook_set s;
	int rc = astra__hook_load(app->k, app->home, app->name, &s);
	if (rc)
		return rc;
	astra__json *arr = astra__json_new_array();
	for (size_t i = 0; arr && i < s.n; i++) {
		astra__json *j = astra__hook_json(&s.v[i], 1);
		if (j)
			astra__json_set_str(j, "app", app->name);
		if (!j || astra__json_push(arr, j)) {
			astra__json_free(arr);
			arr = NULL;
		}
	}
	rc = arr ? astra__json_print_buf(out, arr, 1) : astra__err_oom();
	astra__json_free(arr);
	astra__hook_set_free(&s);
	return rc;
}

astra_status astra_hook_delete(astra_app *app, const char *name)
{
	ASTRA_ASSERT_ARG(app);
	ASTRA_ASSERT_ARG(name);
	char cmn[300];
	astra__kube_resource r;
	int rc = cm_name(cmn, sizeof(cmn), app->name, name);
	if (rc || (rc = cm_resource(app->k, &r)))
		return rc;
	rc = astra__kube_delete(app->k, &r, app->home, cmn, NULL);
	astra__kube_resource_clear(&r);
	if (rc == ASTRA_ENOTFOUND)
		rc = astra__err(ASTRA_ENOTFOUND, ASTRA_ERROR_KUBE,
		        "app \"%s\" has no hook named \"%s\"", app->name, name);
	return rc;
}

int astra__hook_app_namespaces(const astra_app *app, char ***out, size_t *n)
{
	*n = 0;
	*out = astra__calloc(app->nns + 2, sizeof(char *));
	if (!*out)
		return astra__err_oom();
	for (size_t i = 0; i < app->nns; i++)
		(*out)[(*n)++] = app->ns[i].name;
	if (app->helm_namespace) {
		int dup = 0;
		for (size_t i = 0; i < *n; i++)
			dup |= !strcmp((*out)[i], app->helm_namespace);
		if (!dup)
			(*out)[(*n)++] = app->helm_namespace;
	}
	return 0;
}

astra_status astra_hook_run(astra_app *app, const char *stage, astra_buf *out)
{
	ASTRA_ASSERT_ARG(app);
	if (!astra__hook_stage_valid(stage))
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "stage \"%s\" is not one of pre-snapshot, "
		        "post-snapshot, pre-backup, post-backup, pre-restore, "
		        "post-restore, verify",
		        stage ? stage : "");
	astra__hook_set s;
	int rc = astra__hook_load(app->k, app->home, app->name, &s);
	if (rc)
		return rc;
	char **nss = NULL;
	size_t nns = 0;
	astra__json *stages = astra__json_new_array();
	astra__op op;
	astra__op_init(&op, NULL, NULL, astra__cluster_cancel(app->cluster));
	if (!stages)
		rc = astra__err_oom();
	if (!rc)
		rc = astra__hook_app_namespaces(app, &nss, &nns);
	if (!rc) {
		char what[200];
		snprintf(what, sizeof(what), "app %s", app->name);
		astra__hook_run_options ro = { 0 };
		ro.namespaces = (const char *const *)nss;
		ro.nnamespaces = nns;
		ro.op = &op;
		ro.what = what;
		rc = astra__hook_run_stage(app->k, &s, stage, &ro, stages);
		if (out && astra__json_size(stages)) {
			astra__saved_err e;
			astra__err_save(&e);
			int prc = astra__json_print_buf(
			        out, astra__json_at(stages, 0), 1);
			if (rc)
				astra__err_restore(&e);
			else
				rc = prc;
		}
	}
	free(nss);
	astra__json_free(stages);
	astra__hook_set_free(&s);
	return rc;
}
