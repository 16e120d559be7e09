/*
 * Go layer of the libastra SWIG interface. SWIG's Go output is the
 * low-level package (bindings/go/internal/capi); the idiomatic API is
 * hand-written on top of it (bindings/go/*.go):
 *
 * - astra_status stays an int: the Go wrapper reads astra_error_last()
 *   with the goroutine locked to its OS thread (runtime.LockOSThread) and
 *   returns an *astra.Error; nothing panics (SWIG_exception is unused).
 * - `T **out` parameters are *uintptr: C writes the new handle there.
 * - Buffers are small proxy classes (common/buffers.i).
 * - Progress: set_progress_handle(h) stores a runtime/cgo.Handle; the C
 *   proxy calls the //export'ed astraGoProgress trampoline (capi/cgo.go),
 *   which looks the handle up. Volume paths likewise
 *   (set_volume_path_handle, astraGoVolumePath). The log handler goes
 *   through astraGoLog.
 * - `const char *app_name` (snapshot and backup listings): "" is NULL
 *   (every app), since a Go string cannot be nil.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

%insert(cgo_comment) %{
#cgo pkg-config: astra
%}

%{
/* The payload of progress_cb and volume_path_cb: runtime/cgo.Handle
 * values. */
typedef struct {
	uintptr_t handle;
	uintptr_t volume_handle;
} astra_swig_cb;

static void astra_swig_cb_clear(astra_swig_cb *cb)
{
	cb->handle = 0;
	cb->volume_handle = 0;
}

/* Defined in Go (//export, bindings/go/internal/capi/cgo.go). */
extern int astraGoProgress(astra_progress *p, uintptr_t handle);
extern void astraGoLog(int level, char *message);
extern int astraGoVolumePath(char *pv_json, astra_buf *path_out,
	uintptr_t handle);

static int astra_go_progress_proxy(const astra_progress *p, void *payload)
{
	astra_swig_cb *cb = (astra_swig_cb *)payload;
	return astraGoProgress((astra_progress *)p, cb->handle);
}

static int astra_go_volume_path_proxy(const char *pv_json,
	astra_buf *path_out, void *payload)
{
	astra_swig_cb *cb = (astra_swig_cb *)payload;
	return astraGoVolumePath((char *)pv_json, path_out, cb->volume_handle);
}

static void astra_go_log_proxy(int level, const char *message, void *payload)
{
	(void)payload;
	astraGoLog(level, (char *)message);
}
%}

%include <typemaps.i>
%apply int *OUTPUT { int *major, int *minor, int *patch };
%apply long long *OUTPUT { int64_t *next_out, int64_t *slot_out };

%define ASTRA_LANG_CTOR(TYPE)
%enddef

%define ASTRA_OUT_HANDLE(TYPE)
%typemap(gotype) TYPE **out "*uintptr"
%typemap(in) TYPE **out %{
	$1 = (TYPE **)$input;
%}
%enddef

%define ASTRA_LANG_PROGRESS(TYPE)
%extend TYPE {
	/* Routes progress_cb to the Go function held by cgo.Handle h (0:
	 * none). The handle must stay valid until the call returns. */
	void set_progress_handle(uintptr_t h) {
		astra_swig_box *b = ASTRA_SWIG_BOX($self);
		b->cb.handle = h;
		$self->progress_cb = h ? astra_go_progress_proxy : NULL;
		$self->payload = h ? &b->cb : NULL;
	}
}
%enddef

%define ASTRA_LANG_VOLUME_PATH(TYPE)
%extend TYPE {
	/* Routes volume_path_cb to the Go function held by cgo.Handle h (0:
	 * none: the volume_path template is used). The handle must stay
	 * valid until the call returns. */
	void set_volume_path_handle(uintptr_t h) {
		astra_swig_box *b = ASTRA_SWIG_BOX($self);
		b->cb.volume_handle = h;
		$self->volume_path_cb = h ? astra_go_volume_path_proxy : NULL;
		$self->volume_path_payload = h ? &b->cb : NULL;
	}
}
%enddef

/* "" → NULL for the optional app filter of the listings. */
%typemap(in) const char *app_name %{
	$1 = NULL;
	if ($input.n > 0) {
		char *tmp_app = (char *)malloc($input.n + 1);
		if (tmp_app) {
			memcpy(tmp_app, $input.p, $input.n);
			tmp_app[$input.n] = '\0';
		}
		$1 = tmp_app;
	}
%}
%typemap(freearg) const char *app_name %{
	free((char *)$1);
%}

%inline %{
/* Installs (enable != 0) or removes the Go log trampoline. */
void astra_go_set_log(int enable, int max_level)
{
	astra_log_set_handler(enable ? astra_go_log_proxy : NULL, max_level,
		NULL);
}
%}
