/*
 * Options structs. A constructor from the target language allocates the
 * struct inside a "box" and initialises it with *_options_init(o,
 * *_OPTIONS_VERSION), so `version` is never 0 (SWIG's default constructor
 * would zero-fill it). The box also owns what the struct points to: copies
 * of string members (set through the memberin typemap below, wiped and
 * freed by the destructor), the backup tags, and the language's callback
 * payload (astra_swig_cb, defined by the language layer).
 *
 * The callback members (progress_cb, payload, volume_path_cb,
 * volume_path_payload) are not exposed: each language installs its C
 * proxies with set_progress*() (ASTRA_LANG_PROGRESS) and
 * set_volume_path*() (ASTRA_LANG_VOLUME_PATH). Both proxies of one options
 * struct share its astra_swig_cb, so a callback's failure is seen by the
 * other (and by the wrapper) whichever one failed.
 *
 * String lists of the restore options (namespace_map, storage_class_map,
 * include, exclude) and the hook options' args are copies owned by the
 * box too, appended with add_namespace_map(), add_arg() and friends.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

%{
enum {
	ASTRA_SWIG_VAULT = 1,
	ASTRA_SWIG_BACKUP,
	ASTRA_SWIG_RESTORE,
	ASTRA_SWIG_CHECK,
	ASTRA_SWIG_GC,
	ASTRA_SWIG_CLUSTER,
	ASTRA_SWIG_SNAPSHOT,
	ASTRA_SWIG_APP_BACKUP,
	ASTRA_SWIG_APP_RESTORE,
	ASTRA_SWIG_APP_CLONE,
	ASTRA_SWIG_HOOK,
	ASTRA_SWIG_POLICY,
	ASTRA_SWIG_POLICY_RUN,
	ASTRA_SWIG_SCHEDULER,
	ASTRA_SWIG_MOVER,
	ASTRA_SWIG_REPAIR,
	ASTRA_SWIG_REPLICATE,
	ASTRA_SWIG_BACKUP_VERIFY
};

/* An owned list of strings (restore mappings and filters). */
typedef struct {
	char **v;
	size_t n;
} astra_swig_strv;

enum {
	ASTRA_SWIG_NSMAP,
	ASTRA_SWIG_SCMAP,
	ASTRA_SWIG_INCLUDE,
	ASTRA_SWIG_EXCLUDE,
	ASTRA_SWIG_ARGS,
	ASTRA_SWIG_NSTRV
};

typedef struct {
	union {
		astra_vault_options vault;
		astra_data_backup_options backup;
		astra_data_restore_options restore;
		astra_check_options check;
		astra_gc_options gc;
		astra_cluster_options cluster;
		astra_snapshot_options snapshot;
		astra_backup_options app_backup;
		astra_restore_options app_restore;
		astra_clone_options app_clone;
		astra_hook_options hook;
		astra_policy_options policy;
		astra_policy_run_options policy_run;
		astra_policy_scheduler_options scheduler;
		astra_mover_options mover;
		astra_repair_options repair;
		astra_replicate_options replicate;
		astra_backup_verify_options backup_verify;
	} u; /* first: a pointer to u.X is a pointer to the box */
	int kind;
	char **tags; /* backup tags: owned copies */
	size_t ntags;
	astra_swig_strv strv[ASTRA_SWIG_NSTRV]; /* restore lists */
	astra_swig_cb cb;
} astra_swig_box;

#define ASTRA_SWIG_BOX(p) ((astra_swig_box *)(void *)(p))

static char *astra_swig_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = (char *)malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* Strings may be secrets (passwords): wipe before freeing. */
static void astra_swig_str_free(const char *s)
{
	if (s) {
		volatile char *p = (volatile char *)s;
		while (*p)
			*p++ = 0;
		free((void *)s);
	}
}

static void astra_swig_box_free(astra_swig_box *b)
{
	size_t i;
	if (!b)
		return;
	switch (b->kind) {
	case ASTRA_SWIG_VAULT:
		astra_swig_str_free(b->u.vault.password);
		astra_swig_str_free(b->u.vault.password_file);
		break;
	case ASTRA_SWIG_BACKUP:
		astra_swig_str_free(b->u.backup.parent);
		astra_swig_str_free(b->u.backup.source);
		break;
	case ASTRA_SWIG_RESTORE:
		astra_swig_str_free(b->u.restore.subpath);
		break;
	case ASTRA_SWIG_CLUSTER:
		astra_swig_str_free(b->u.cluster.kubeconfig);
		astra_swig_str_free(b->u.cluster.context);
		break;
	case ASTRA_SWIG_SNAPSHOT:
		astra_swig_str_free(b->u.snapshot.name);
		break;
	case ASTRA_SWIG_APP_BACKUP:
		astra_swig_str_free(b->u.app_backup.name);
		astra_swig_str_free(b->u.app_backup.snapshot);
		astra_swig_str_free(b->u.app_backup.volume_path);
		break;
	case ASTRA_SWIG_APP_RESTORE:
		astra_swig_str_free(b->u.app_restore.backup);
		astra_swig_str_free(b->u.app_restore.snapshot_app);
		astra_swig_str_free(b->u.app_restore.snapshot);
		astra_swig_str_free(b->u.app_restore.volume_path);
		break;
	case ASTRA_SWIG_APP_CLONE:
		astra_swig_str_free(b->u.app_clone.from_backup);
		astra_swig_str_free(b->u.app_clone.from_snapshot);
		astra_swig_str_free(b->u.app_clone.name);
		astra_swig_str_free(b->u.app_clone.volume_path);
		break;
	case ASTRA_SWIG_HOOK:
		astra_swig_str_free(b->u.hook.stage);
		astra_swig_str_free(b->u.hook.script);
		astra_swig_str_free(b->u.hook.namespace_regex);
		astra_swig_str_free(b->u.hook.pod_regex);
		astra_swig_str_free(b->u.hook.container_regex);
		astra_swig_str_free(b->u.hook.image_regex);
		astra_swig_str_free(b->u.hook.selector);
		break;
	case ASTRA_SWIG_POLICY:
		astra_swig_str_free(b->u.policy.name);
		astra_swig_str_free(b->u.policy.rrule);
		astra_swig_str_free(b->u.policy.cron);
		astra_swig_str_free(b->u.policy.time_zone);
		astra_swig_str_free(b->u.policy.vault);
		break;
	case ASTRA_SWIG_POLICY_RUN:
		astra_swig_str_free(b->u.policy_run.app);
		astra_swig_str_free(b->u.policy_run.vault_password);
		astra_swig_str_free(b->u.policy_run.vault_password_file);
		astra_swig_str_free(b->u.policy_run.volume_path);
		break;
	case ASTRA_SWIG_MOVER:
		astra_swig_str_free(b->u.mover.image);
		astra_swig_str_free(b->u.mover.image_pull_policy);
		astra_swig_str_free(b->u.mover.node_selector_json);
		astra_swig_str_free(b->u.mover.tolerations_json);
		astra_swig_str_free(b->u.mover.vault_password);
		astra_swig_str_free(b->u.mover.vault_password_file);
		astra_swig_str_free(b->u.mover.vault_url);
		astra_swig_str_free(b->u.mover.control_namespace);
		break;
	case ASTRA_SWIG_BACKUP_VERIFY:
		astra_swig_str_free(b->u.backup_verify.namespace_prefix);
		astra_swig_str_free(b->u.backup_verify.volume_path);
		break;
	case ASTRA_SWIG_SCHEDULER:
		astra_swig_str_free(b->u.scheduler.lease_namespace);
		astra_swig_str_free(b->u.scheduler.lease_name);
		astra_swig_str_free(b->u.scheduler.identity);
		break;
	default:
		break;
	}
	for (i = 0; i < b->ntags; i++)
		astra_swig_str_free(b->tags[i]);
	free(b->tags);
	for (i = 0; i < ASTRA_SWIG_NSTRV; i++) {
		size_t j;
		for (j = 0; j < b->strv[i].n; j++)
			astra_swig_str_free(b->strv[i].v[j]);
		free(b->strv[i].v);
	}
	astra_swig_cb_clear(&b->cb);
	free(b);
}
%}

/* String members are copied into memory the box owns. */
%typemap(memberin) const char * %{
	astra_swig_str_free($1);
	$1 = $input ? astra_swig_strdup($input) : NULL;
%}

/* `version` is set by the constructors only (options and results). */
%immutable version;

/* Constructors return NULL when out of memory or when *_options_init
 * rejects the version (a library older than the headers): the language
 * layer turns that into an error (ASTRA_LANG_CTOR). */
%define ASTRA_OPTIONS(TYPE, MEMBER, KIND, INIT, VERSION)
ASTRA_LANG_CTOR(TYPE)
%extend TYPE {
	TYPE() {
		astra_swig_box *b = (astra_swig_box *)calloc(1, sizeof(*b));
		astra_error_clear();
		if (!b)
			return NULL;
		b->kind = KIND;
		if (INIT(&b->u.MEMBER, VERSION) < 0) {
			free(b);
			return NULL;
		}
		return &b->u.MEMBER;
	}
	~TYPE() { astra_swig_box_free(ASTRA_SWIG_BOX($self)); }
}
%enddef

%ignore progress_cb;
%ignore payload;
%ignore volume_path_cb;
%ignore volume_path_payload;

%define ASTRA_PROGRESS_OPTIONS(TYPE)
ASTRA_LANG_PROGRESS(TYPE)
%enddef

%define ASTRA_VOLUME_PATH_OPTIONS(TYPE)
ASTRA_LANG_VOLUME_PATH(TYPE)
%enddef

ASTRA_OPTIONS(astra_vault_options, vault, ASTRA_SWIG_VAULT,
	astra_vault_options_init, ASTRA_VAULT_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_data_backup_options, backup, ASTRA_SWIG_BACKUP,
	astra_data_backup_options_init, ASTRA_DATA_BACKUP_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_data_restore_options, restore, ASTRA_SWIG_RESTORE,
	astra_data_restore_options_init, ASTRA_DATA_RESTORE_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_check_options, check, ASTRA_SWIG_CHECK,
	astra_check_options_init, ASTRA_CHECK_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_gc_options, gc, ASTRA_SWIG_GC,
	astra_gc_options_init, ASTRA_GC_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_repair_options, repair, ASTRA_SWIG_REPAIR,
	astra_repair_options_init, ASTRA_REPAIR_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_replicate_options, replicate, ASTRA_SWIG_REPLICATE,
	astra_replicate_options_init, ASTRA_REPLICATE_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_cluster_options, cluster, ASTRA_SWIG_CLUSTER,
	astra_cluster_options_init, ASTRA_CLUSTER_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_snapshot_options, snapshot, ASTRA_SWIG_SNAPSHOT,
	astra_snapshot_options_init, ASTRA_SNAPSHOT_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_backup_options, app_backup, ASTRA_SWIG_APP_BACKUP,
	astra_backup_options_init, ASTRA_BACKUP_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_restore_options, app_restore, ASTRA_SWIG_APP_RESTORE,
	astra_restore_options_init, ASTRA_RESTORE_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_clone_options, app_clone, ASTRA_SWIG_APP_CLONE,
	astra_clone_options_init, ASTRA_CLONE_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_hook_options, hook, ASTRA_SWIG_HOOK,
	astra_hook_options_init, ASTRA_HOOK_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_policy_options, policy, ASTRA_SWIG_POLICY,
	astra_policy_options_init, ASTRA_POLICY_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_policy_run_options, policy_run, ASTRA_SWIG_POLICY_RUN,
	astra_policy_run_options_init, ASTRA_POLICY_RUN_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_mover_options, mover, ASTRA_SWIG_MOVER,
	astra_mover_options_init, ASTRA_MOVER_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_backup_verify_options, backup_verify,
	ASTRA_SWIG_BACKUP_VERIFY, astra_backup_verify_options_init,
	ASTRA_BACKUP_VERIFY_OPTIONS_VERSION)
ASTRA_OPTIONS(astra_policy_scheduler_options, scheduler,
	ASTRA_SWIG_SCHEDULER, astra_policy_scheduler_options_init,
	ASTRA_POLICY_SCHEDULER_OPTIONS_VERSION)

ASTRA_PROGRESS_OPTIONS(astra_data_backup_options)
ASTRA_PROGRESS_OPTIONS(astra_data_restore_options)
ASTRA_PROGRESS_OPTIONS(astra_check_options)
ASTRA_PROGRESS_OPTIONS(astra_gc_options)
ASTRA_PROGRESS_OPTIONS(astra_repair_options)
ASTRA_PROGRESS_OPTIONS(astra_replicate_options)
ASTRA_PROGRESS_OPTIONS(astra_snapshot_options)
ASTRA_PROGRESS_OPTIONS(astra_backup_options)
ASTRA_PROGRESS_OPTIONS(astra_restore_options)
ASTRA_PROGRESS_OPTIONS(astra_clone_options)
ASTRA_PROGRESS_OPTIONS(astra_backup_verify_options)
ASTRA_VOLUME_PATH_OPTIONS(astra_backup_options)
ASTRA_VOLUME_PATH_OPTIONS(astra_restore_options)
ASTRA_VOLUME_PATH_OPTIONS(astra_clone_options)
ASTRA_VOLUME_PATH_OPTIONS(astra_backup_verify_options)
ASTRA_VOLUME_PATH_OPTIONS(astra_policy_run_options)

/* Restore and clone mappings ("SRC=DST"), restore filters
 * ("GROUP/KIND[/NS[/NAME]]"):
 * copies owned by the box. 0, or -1 when out of memory. */
%ignore namespace_map;
%ignore n_namespace_map;
%ignore storage_class_map;
%ignore n_storage_class_map;
%ignore include;
%ignore n_include;
%ignore exclude;
%ignore n_exclude;
%{
static int astra_swig_strv_add(astra_swig_box *b, int which, const char *s,
	const char *const **member, size_t *count)
{
	astra_swig_strv *l = &b->strv[which];
	char **v;
	char *t = astra_swig_strdup(s ? s : "");
	if (!t)
		return -1;
	v = (char **)realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v) {
		free(t);
		return -1;
	}
	v[l->n++] = t;
	l->v = v;
	*member = (const char *const *)v;
	*count = l->n;
	return 0;
}
%}
%extend astra_restore_options {
	int add_namespace_map(const char *mapping) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self), ASTRA_SWIG_NSMAP,
			mapping, &$self->namespace_map, &$self->n_namespace_map);
	}
	int add_storage_class_map(const char *mapping) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self), ASTRA_SWIG_SCMAP,
			mapping, &$self->storage_class_map,
			&$self->n_storage_class_map);
	}
	int add_include(const char *filter) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self),
			ASTRA_SWIG_INCLUDE, filter, &$self->include,
			&$self->n_include);
	}
	int add_exclude(const char *filter) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self),
			ASTRA_SWIG_EXCLUDE, filter, &$self->exclude,
			&$self->n_exclude);
	}
}
%extend astra_clone_options {
	int add_namespace_map(const char *mapping) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self), ASTRA_SWIG_NSMAP,
			mapping, &$self->namespace_map, &$self->n_namespace_map);
	}
	int add_storage_class_map(const char *mapping) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self), ASTRA_SWIG_SCMAP,
			mapping, &$self->storage_class_map,
			&$self->n_storage_class_map);
	}
}

/* Hook arguments: copies owned by the box; the script is a string
 * member (its length is taken with strlen). */
%ignore args;
%ignore nargs;
%ignore script_len;
%extend astra_hook_options {
	int add_arg(const char *arg) {
		return astra_swig_strv_add(ASTRA_SWIG_BOX($self), ASTRA_SWIG_ARGS,
			arg, &$self->args, &$self->nargs);
	}
}

/* Backup tags ("key=value"): copies owned by the box. 0, or -1 when out
 * of memory. */
%ignore tags;
%ignore ntags;
%extend astra_data_backup_options {
	int add_tag(const char *tag) {
		astra_swig_box *b = ASTRA_SWIG_BOX($self);
		char **v;
		char *t = astra_swig_strdup(tag);
		if (!t)
			return -1;
		v = (char **)realloc(b->tags, (b->ntags + 1) * sizeof(*v));
		if (!v) {
			free(t);
			return -1;
		}
		v[b->ntags++] = t;
		b->tags = v;
		$self->tags = (const char *const *)v;
		$self->ntags = b->ntags;
		return 0;
	}
	void clear_tags() {
		astra_swig_box *b = ASTRA_SWIG_BOX($self);
		size_t i;
		for (i = 0; i < b->ntags; i++)
			astra_swig_str_free(b->tags[i]);
		free(b->tags);
		b->tags = NULL;
		b->ntags = 0;
		$self->tags = NULL;
		$self->ntags = 0;
	}
}

/* Results: the caller sets `version`. */
%define ASTRA_RESULT(TYPE, VERSION)
ASTRA_LANG_CTOR(TYPE)
%extend TYPE {
	TYPE() {
		TYPE *r = (TYPE *)calloc(1, sizeof(TYPE));
		if (r)
			r->version = VERSION;
		return r;
	}
	~TYPE() { free($self); }
}
%enddef
ASTRA_RESULT(astra_data_backup_result, ASTRA_DATA_BACKUP_RESULT_VERSION)
ASTRA_RESULT(astra_data_restore_result, ASTRA_DATA_RESTORE_RESULT_VERSION)
