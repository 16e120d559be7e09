/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ERRBUF 1024

static _Thread_local char tl_msg[ERRBUF];
static _Thread_local astra_error tl_err;

static astra_error *state(void)
{
	if (tl_err.message == NULL) {
		tl_err.message = "no error";
		tl_err.klass = ASTRA_ERROR_NONE;
		tl_err.code = ASTRA_OK;
	}
	return &tl_err;
}

const astra_error *astra_error_last(void)
{
	return state();
}

void astra_error_clear(void)
{
	astra_error *e = state();
	e->message = "no error";
	e->klass = ASTRA_ERROR_NONE;
	e->code = ASTRA_OK;
	tl_msg[0] = '\0';
}

int astra__verr(int code, int klass, const char *fmt, va_list ap)
{
	astra_error *e = state();
	vsnprintf(tl_msg, sizeof(tl_msg), fmt, ap);
	e->message = tl_msg;
	e->klass = klass;
	e->code = code;
	return code;
}

int astra__err(int code, int klass, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	astra__verr(code, klass, fmt, ap);
	va_end(ap);
	return code;
}

int astra__errno_code(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return ASTRA_ENOTFOUND;
	case EEXIST:
	case ENOTEMPTY:
		return ASTRA_EEXISTS;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return ASTRA_ENOSPACE;
	case EACCES:
	case EPERM:
		return ASTRA_EAUTH;
	case ENOMEM:
		return ASTRA_ENOMEM;
	case EINVAL:
		return ASTRA_EINVALID;
	case ETIMEDOUT:
		return ASTRA_ETIMEOUT;
	case EBUSY:
		return ASTRA_EBUSY;
	default:
		return ASTRA_EIO;
	}
}

int astra__err_os(const char *fmt, ...)
{
	int saved = errno;
	char reason[128];
	char head[ERRBUF];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	const char *r = strerror_r(saved, reason, sizeof(reason));
#else
	strerror_r(saved, reason, sizeof(reason));
	const char *r = reason;
#endif
	int code = astra__errno_code(saved);
	astra__err(code, ASTRA_ERROR_OS, "%s: %s", head, r);
	errno = saved;
	return code;
}

int astra__err_oom(void)
{
	astra_error *e = state();
	e->message = "out of memory";
	e->klass = ASTRA_ERROR_NOMEMORY;
	e->code = ASTRA_ENOMEM;
	return ASTRA_ENOMEM;
}

int astra__err_prefix(int code, const char *fmt, ...)
{
	char head[ERRBUF];
	char old[ERRBUF];
	astra_error *e = state();
	va_list ap;

	if (e->code == ASTRA_OK || e->message == NULL)
		return code;
	snprintf(old, sizeof(old), "%s", e->message);
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	snprintf(tl_msg, sizeof(tl_msg), "%s: %s", head, old);
	e->message = tl_msg;
	return code;
}

void astra__err_save(astra__saved_err *e)
{
	const astra_error *l = astra_error_last();
	e->code = l->code;
	e->klass = l->klass;
	snprintf(e->message, sizeof(e->message), "%s",
	        l->message ? l->message : "");
}

void astra__err_restore(const astra__saved_err *e)
{
	if (e->code)
		astra__err(e->code, e->klass, "%s", e->message);
	else
		astra_error_clear();
}

int astra__check_version(
        unsigned int version, unsigned int max, const char *what)
{
	if (version == 0 || version > max)
		return astra__err(ASTRA_EVERSION, ASTRA_ERROR_INVALID,
		        "%s version %u is not supported (this library knows "
		        "1 to %u); initialise it with its _INIT macro",
		        what, version, max);
	return 0;
}

const char *astra_strerror(int code)
{
	switch (code) {
	case ASTRA_OK:
		return "success";
	case ASTRA_ERROR:
		return "error";
	case ASTRA_ENOTSUPPORTED:
		return "not supported";
	case ASTRA_ENOTFOUND:
		return "not found";
	case ASTRA_EEXISTS:
		return "already exists";
	case ASTRA_EINVALID:
		return "invalid argument";
	case ASTRA_ENOMEM:
		return "out of memory";
	case ASTRA_EIO:
		return "I/O error";
	case ASTRA_ENET:
		return "network error";
	case ASTRA_EAUTH:
		return "authentication failed";
	case ASTRA_ECERTIFICATE:
		return "certificate not trusted";
	case ASTRA_EPARSE:
		return "malformed input";
	case ASTRA_EPOLICY:
		return "denied by policy";
	case ASTRA_ECANCELLED:
		return "cancelled";
	case ASTRA_ECORRUPT:
		return "data corrupted";
	case ASTRA_EVERSION:
		return "unsupported version";
	case ASTRA_ENOSPACE:
		return "no space left";
	case ASTRA_ECONFLICT:
		return "conflict";
	case ASTRA_ETIMEOUT:
		return "timed out";
	case ASTRA_EPARTIAL:
		return "partially failed";
	case ASTRA_EBUSY:
		return "busy";
	case ASTRA_EUSER:
		return "user error";
	default:
		return "unknown error";
	}
}
