/*
 * Python layer of the libastra SWIG interface: the status typemap that
 * raises astra.Error subclasses, `**out` and buffer parameters turned into
 * return values, the GIL policy, and the C proxies through which the
 * library calls Python (progress, log).
 *
 * GIL: SWIG runs with -threads, but the default here is %nothread (the
 * GIL stays held: trivial getters and setters cost nothing extra and code
 * that touches Python objects is safe); the calls that can take long
 * (I/O, KDF, network) are listed with %thread and release the GIL while
 * the C function runs. Proxies re-acquire it with PyGILState_Ensure().
 *
 * Errors: a negative astra_status is turned into an exception built by
 * astra._errors._from_status(code, klass, message), with the message read
 * from astra_error_last() right after the call, on the calling thread. An
 * exception raised by a progress callable cancels the operation (the proxy
 * returns ASTRA_EUSER) and is re-raised as it was, not as CancelledError.
 * Outputs produced by a failed call (a restore or check report) are
 * attached to the exception as `.result`.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

%{
/* The payload of progress_cb and volume_path_cb: the Python callables
 * and the first exception one of them raised (owned references). */
typedef struct {
	PyObject *callable;
	PyObject *exc;
	PyObject *volume_path;
} astra_swig_cb;

static void astra_swig_cb_clear(astra_swig_cb *cb)
{
	PyGILState_STATE g = PyGILState_Ensure();
	Py_CLEAR(cb->callable);
	Py_CLEAR(cb->exc);
	Py_CLEAR(cb->volume_path);
	PyGILState_Release(g);
}

/* Moves the current Python exception into cb->exc (keeping the first). */
static int astra_py_store_exception(astra_swig_cb *cb)
{
#if PY_VERSION_HEX >= 0x030C0000
	PyObject *v = PyErr_GetRaisedException();
#else
	PyObject *t = NULL, *v = NULL, *tb = NULL;
	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	if (v && tb)
		PyException_SetTraceback(v, tb);
	Py_XDECREF(t);
	Py_XDECREF(tb);
#endif
	if (cb->exc)
		Py_XDECREF(v);
	else
		cb->exc = v;
	return ASTRA_EUSER;
}

/* progress_cb: calls callable(stage, bytes_done, bytes_total, items_done,
 * items_total, bytes_stored, item) with the GIL held. A true return value
 * cancels (ASTRA_ECANCELLED); an exception cancels with ASTRA_EUSER and is
 * kept for the wrapper to re-raise. With no callable it only runs pending
 * signal handlers, so Ctrl-C stops a long call. */
static int astra_py_progress_proxy(const astra_progress *p, void *payload)
{
	astra_swig_cb *cb = (astra_swig_cb *)payload;
	int rc = 0;
	PyGILState_STATE g = PyGILState_Ensure();
	if (cb->exc) {
		rc = ASTRA_EUSER;
	} else if (!cb->callable) {
		if (PyErr_CheckSignals() < 0)
			rc = astra_py_store_exception(cb);
	} else {
		PyObject *item, *r = NULL;
		if (p->item) {
			item = PyUnicode_DecodeFSDefault(p->item);
		} else {
			Py_INCREF(Py_None);
			item = Py_None;
		}
		if (item)
			r = PyObject_CallFunction(cb->callable, "IKKKKKN",
				p->stage, (unsigned long long)p->bytes_done,
				(unsigned long long)p->bytes_total,
				(unsigned long long)p->items_done,
				(unsigned long long)p->items_total,
				(unsigned long long)p->bytes_stored, item);
		if (!r) {
			rc = astra_py_store_exception(cb);
		} else {
			if (r != Py_None) {
				int t = PyObject_IsTrue(r);
				if (t < 0)
					rc = astra_py_store_exception(cb);
				else if (t)
					rc = 1;
			}
			Py_DECREF(r);
		}
	}
	PyGILState_Release(g);
	return rc;
}

/* volume_path_cb: calls volume_path(pv_json: str) with the GIL held (from
 * any of astra's threads); it returns the directory as str, bytes or
 * os.PathLike, stored in path_out (malloc'd: astra_buf_dispose frees it).
 * An exception (or a wrong return type) fails the volume with ASTRA_EUSER
 * and is kept for the wrapper to re-raise; once a callback failed, the
 * other volumes fail too and the progress proxy cancels. */
static int astra_py_volume_path_proxy(const char *pv_json, astra_buf *path_out,
	void *payload)
{
	astra_swig_cb *cb = (astra_swig_cb *)payload;
	int rc = 0;
	PyGILState_STATE g = PyGILState_Ensure();
	if (cb->exc) {
		rc = ASTRA_EUSER;
	} else if (!cb->volume_path) {
		PyErr_SetString(PyExc_RuntimeError, "no volume path callable");
		rc = astra_py_store_exception(cb);
	} else {
		PyObject *arg = PyUnicode_DecodeUTF8(pv_json,
			(Py_ssize_t)strlen(pv_json), "surrogateescape");
		PyObject *r = arg ? PyObject_CallFunctionObjArgs(cb->volume_path,
			arg, NULL) : NULL;
		PyObject *fs = r ? PyOS_FSPath(r) : NULL;
		PyObject *bytes = NULL;
		Py_XDECREF(arg);
		Py_XDECREF(r);
		if (fs && PyUnicode_Check(fs))
			bytes = PyUnicode_EncodeFSDefault(fs);
		else if (fs) {
			Py_INCREF(fs);
			bytes = fs;
		}
		Py_XDECREF(fs);
		if (!bytes) {
			rc = astra_py_store_exception(cb);
		} else {
			char *p = NULL;
			Py_ssize_t n = 0;
			if (PyBytes_AsStringAndSize(bytes, &p, &n) < 0) {
				rc = astra_py_store_exception(cb);
			} else if (n == 0) {
				PyErr_SetString(PyExc_ValueError,
					"the volume path callable returned an empty path");
				rc = astra_py_store_exception(cb);
			} else {
				char *d = (char *)malloc((size_t)n + 1);
				if (!d) {
					rc = ASTRA_ENOMEM;
				} else {
					memcpy(d, p, (size_t)n);
					d[n] = 0;
					astra_buf_dispose(path_out);
					path_out->ptr = d;
					path_out->size = (size_t)n;
					path_out->asize = (size_t)n + 1;
				}
			}
			Py_DECREF(bytes);
		}
	}
	PyGILState_Release(g);
	return rc;
}

/* astra._errors._from_status, looked up once. */
static PyObject *astra_py_factory;

/* The exception for a failed call: the callback's own exception when one
 * was raised, else an astra.Error subclass built from astra_error_last().
 * Never NULL (falls back to whatever exception the lookup raised). */
static PyObject *astra_py_error(int status, astra_swig_cb *ctx)
{
	const astra_error *e;
	PyObject *msg, *exc;
	if (ctx && ctx->exc) {
		exc = ctx->exc;
		ctx->exc = NULL;
		return exc;
	}
	/* read first: the record is only valid until the next astra call */
	e = astra_error_last();
	msg = PyUnicode_DecodeUTF8(e->message, (Py_ssize_t)strlen(e->message),
		"replace");
	if (msg && !astra_py_factory) {
		PyObject *m = PyImport_ImportModule("astra._errors");
		if (m) {
			astra_py_factory = PyObject_GetAttrString(m, "_from_status");
			Py_DECREF(m);
		}
	}
	exc = (msg && astra_py_factory) ?
		PyObject_CallFunction(astra_py_factory, "iiO", status,
			e->code == status ? e->klass : 0, msg) :
		NULL;
	Py_XDECREF(msg);
	if (!exc) {
		astra_swig_cb tmp = { NULL, NULL };
		astra_py_store_exception(&tmp);
		exc = tmp.exc;
		if (!exc) {
			Py_INCREF(PyExc_SystemError);
			exc = PyExc_SystemError;
		}
	}
	return exc;
}

/* Raises exc (stolen), attaching the call's outputs (stolen) to an
 * astra.Error as .result. Returns NULL for the wrapper to return. */
static PyObject *astra_py_raise(PyObject *exc, PyObject *outputs)
{
	if (outputs && outputs != Py_None &&
		PyObject_HasAttrString(exc, "_astra_result"))
		PyObject_SetAttrString(exc, "result", outputs);
	PyErr_Clear();
	if (PyExceptionInstance_Check(exc))
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	else
		PyErr_SetObject(exc, NULL);
	Py_DECREF(exc);
	Py_XDECREF(outputs);
	return NULL;
}

static PyObject *astra_py_text(const char *p, size_t n)
{
	if (!p) {
		Py_INCREF(Py_None);
		return Py_None;
	}
	return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "surrogateescape");
}
%}

%include <typemaps.i>
%apply int *OUTPUT { int *major, int *minor, int *patch };
%apply long long *OUTPUT { int64_t *next_out, int64_t *slot_out };

/* ---- GIL policy --------------------------------------------------- */

%nothread;
%thread astra_init;
%thread astra_shutdown;
%thread astra_vault_init;
%thread astra_vault_open;
%thread astra_vault_free;
%thread astra_vault::~astra_vault;
%thread astra_vault_change_password;
%thread astra_vault_info;
%thread astra_vault_backup_path;
%thread astra_vault_restore_path;
%thread astra_vault_snapshots;
%thread astra_vault_forget;
%thread astra_vault_check;
%thread astra_vault_gc;
%thread astra_cluster_open;
%thread astra_cluster_free;
%thread astra_cluster::~astra_cluster;
%thread astra_cluster_server_version;
%thread astra_cluster_namespaces;
%thread astra_app_define;
%thread astra_app_get;
%thread astra_app_remove;
%thread astra_app_list;
%thread astra_app_list_unmanaged;
%thread astra_app_resources;
%thread astra_snapshot_create;
%thread astra_snapshot_list;
%thread astra_snapshot_get;
%thread astra_snapshot_delete;
%thread astra_backup_create;
%thread astra_backup_list;
%thread astra_backup_get;
%thread astra_backup_delete;
%thread astra_backup_verify;
%thread astra_backup_delete_app;
%thread astra_restore;
%thread astra_app_clone;
%thread astra_policy_set;
%thread astra_policy_list;
%thread astra_policy_remove;
%thread astra_policy_run_due;
%thread astra_policy_scheduler_run;

/* ---- astra_status ------------------------------------------------- */

%typemap(out) astra_status (PyObject *astra_exc = NULL, astra_swig_cb *astra_cbctx = NULL) %{
	if ($1 < 0 || (astra_cbctx && astra_cbctx->exc))
		astra_exc = astra_py_error($1, astra_cbctx);
	$result = $1 > 0 ? PyLong_FromLong((long)$1) : SWIG_Py_Void();
%}

/* After the outputs were converted (and buffers released): raise. */
%typemap(ret) astra_status %{
	if (astra_exc)
		return astra_py_raise(astra_exc, resultobj);
%}

/* ---- constructors that return NULL ----------------------------------- */

%{
static void astra_py_ctor_failed(void)
{
	const astra_error *e = astra_error_last();
	if (e->code < 0)
		astra_py_raise(astra_py_error(e->code, NULL), NULL);
	else
		PyErr_NoMemory();
}
%}

%define ASTRA_LANG_CTOR(TYPE)
%exception TYPE::TYPE %{
	$action
	if (!result) {
		astra_py_ctor_failed();
		SWIG_fail;
	}
%}
%enddef

/* ---- `T **out` → return value owning the handle ------------------- */

%define ASTRA_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) %{
	$1 = &tmp;
%}
%typemap(argout) TYPE **out %{
	$result = SWIG_Python_AppendOutput($result,
		SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $*1_descriptor,
			SWIG_POINTER_OWN));
%}
%enddef

/* ---- astra_buf / astra_strarray outputs → str / list[str] ---------- */

%typemap(in, numinputs=0) astra_buf *json_out (astra_buf tmp),
	astra_buf *report (astra_buf tmp), astra_buf *out (astra_buf tmp),
	astra_buf *record_out (astra_buf tmp) %{
	memset(&tmp, 0, sizeof(tmp));
	$1 = &tmp;
%}
%typemap(argout) astra_buf *json_out, astra_buf *report, astra_buf *out,
	astra_buf *record_out %{
	$result = SWIG_Python_AppendOutput($result,
		astra_py_text($1->ptr, $1->size));
%}
%typemap(freearg) astra_buf *json_out, astra_buf *report, astra_buf *out,
	astra_buf *record_out %{
	astra_buf_dispose($1);
%}

%typemap(in, numinputs=0) astra_strarray *out (astra_strarray tmp) %{
	memset(&tmp, 0, sizeof(tmp));
	$1 = &tmp;
%}
%typemap(argout) astra_strarray *out %{
	{
		PyObject *list = PyList_New((Py_ssize_t)$1->count);
		size_t i;
		for (i = 0; list && i < $1->count; i++) {
			PyObject *s = astra_py_text($1->strings[i],
				strlen($1->strings[i]));
			if (!s) {
				Py_CLEAR(list);
				break;
			}
			PyList_SET_ITEM(list, (Py_ssize_t)i, s);
		}
		if (!list)
			SWIG_fail;
		$result = SWIG_Python_AppendOutput($result, list);
	}
%}
%typemap(freearg) astra_strarray *out %{
	astra_strarray_dispose($1);
%}

/* ---- progress callbacks --------------------------------------------- */

/* The policy runner's options carry a volume path callback and no
 * progress; the scheduler's carry it in their run options. */
%typemap(in) const astra_policy_run_options *opts (void *argp = 0, int res = 0) %{
	res = SWIG_ConvertPtr($input, &argp, $descriptor, 0);
	if (!SWIG_IsOK(res)) {
		SWIG_exception_fail(SWIG_ArgError(res),
			"in method '$symname', argument $argnum of type '$type'");
	}
	$1 = ($ltype)argp;
	if ($1)
		astra_cbctx = &ASTRA_SWIG_BOX($1)->cb;
%}
%typemap(in) const astra_policy_scheduler_options *opts (void *argp = 0, int res = 0) %{
	res = SWIG_ConvertPtr($input, &argp, $descriptor, 0);
	if (!SWIG_IsOK(res)) {
		SWIG_exception_fail(SWIG_ArgError(res),
			"in method '$symname', argument $argnum of type '$type'");
	}
	$1 = ($ltype)argp;
	if ($1 && $1->run)
		astra_cbctx = &ASTRA_SWIG_BOX($1->run)->cb;
%}

/* The options argument of a long call tells the status typemap where a
 * callback's exception is kept (astra_cbctx is its local). */
%define ASTRA_LANG_PROGRESS(TYPE)
%typemap(in) const TYPE *opts (void *argp = 0, int res = 0) %{
	res = SWIG_ConvertPtr($input, &argp, $descriptor, 0);
	if (!SWIG_IsOK(res)) {
		SWIG_exception_fail(SWIG_ArgError(res),
			"in method '$symname', argument $argnum of type '$type'");
	}
	$1 = ($ltype)argp;
	if ($1)
		astra_cbctx = &ASTRA_SWIG_BOX($1)->cb;
%}
%extend TYPE {
	/* Installs the progress proxy. callable(stage, bytes_done,
	 * bytes_total, items_done, items_total, bytes_stored, item), or
	 * None: only signal handlers run (Ctrl-C cancels). */
	void set_progress(PyObject *callable) {
		astra_swig_box *b = ASTRA_SWIG_BOX($self);
		if (callable == Py_None || !PyCallable_Check(callable))
			callable = NULL;
		Py_XINCREF(callable);
		Py_CLEAR(b->cb.callable);
		Py_CLEAR(b->cb.exc);
		b->cb.callable = callable;
		$self->progress_cb = astra_py_progress_proxy;
		$self->payload = &b->cb;
	}
}
%enddef

/* ---- volume path callbacks ------------------------------------------ */

%define ASTRA_LANG_VOLUME_PATH(TYPE)
%extend TYPE {
	/* Installs the volume path proxy: callable(pv_json) -> path (str,
	 * bytes or os.PathLike), or None: none (the volume_path template is
	 * used). May be called from any of astra's threads. */
	void set_volume_path(PyObject *callable) {
		astra_swig_box *b = ASTRA_SWIG_BOX($self);
		if (callable == Py_None || !PyCallable_Check(callable))
			callable = NULL;
		Py_XINCREF(callable);
		Py_CLEAR(b->cb.volume_path);
		b->cb.volume_path = callable;
		$self->volume_path_cb = callable ? astra_py_volume_path_proxy : NULL;
		$self->volume_path_payload = callable ? &b->cb : NULL;
	}
}
%enddef

/* ---- log handler -------------------------------------------------- */

%{
static PyObject *astra_py_log_fn; /* guarded by the GIL */

static void astra_py_log_proxy(int level, const char *message, void *payload)
{
	PyGILState_STATE g;
	PyObject *fn, *r;
	(void)payload;
	if (!Py_IsInitialized())
		return;
	g = PyGILState_Ensure();
	fn = astra_py_log_fn;
	if (fn) {
		Py_INCREF(fn);
		r = PyObject_CallFunction(fn, "iN", level,
			astra_py_text(message, strlen(message)));
		if (r)
			Py_DECREF(r);
		else
			PyErr_WriteUnraisable(fn);
		Py_DECREF(fn);
	}
	PyGILState_Release(g);
}
%}

%inline %{
/* Sets the process-wide log handler: fn(level, message), or None. The
 * handler may be called from any of astra's threads. */
void astra_py_set_log_handler(PyObject *fn, int max_level)
{
	PyObject *old = astra_py_log_fn;
	if (fn == Py_None || !PyCallable_Check(fn))
		fn = NULL;
	Py_XINCREF(fn);
	astra_py_log_fn = fn;
	astra_log_set_handler(fn ? astra_py_log_proxy : NULL, max_level, NULL);
	Py_XDECREF(old);
}
%}
