/*
 * libastra - common definitions: export macros, versions, library
 * initialisation, status codes, the last error, returned buffers, logging,
 * progress reporting and cancellation.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_COMMON_H
#define ASTRA_COMMON_H

/**
 * @file astra/common.h
 * @defgroup astra_common Common definitions
 * @{
 */

#include <stddef.h>
#include <stdint.h>

#include "astra/version.h"

#ifdef __cplusplus
#define ASTRA_BEGIN_DECL extern "C" {
#define ASTRA_END_DECL }
#else
#define ASTRA_BEGIN_DECL
#define ASTRA_END_DECL
#endif

#if defined(ASTRA_STATIC)
#define ASTRA_API
#elif defined(_WIN32)
#if defined(ASTRA_BUILDING)
#define ASTRA_API __declspec(dllexport)
#else
#define ASTRA_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define ASTRA_API __attribute__((visibility("default")))
#else
#define ASTRA_API
#endif

/** Declares a callback member or parameter. */
#define ASTRA_CALLBACK(name) (*name)

#if defined(__GNUC__)
#define ASTRA_WARN_UNUSED __attribute__((warn_unused_result))
#define ASTRA_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define ASTRA_WARN_UNUSED
#define ASTRA_DEPRECATED(msg)
#endif

ASTRA_BEGIN_DECL

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */

/**
 * Runtime version of the library (which may differ from the headers a
 * program was compiled with). Any pointer may be NULL.
 */
ASTRA_API void astra_version(int *major, int *minor, int *patch);

/** Runtime version as MAJOR*1000000 + MINOR*1000 + PATCH. */
ASTRA_API int astra_version_number(void);

/** Runtime version as a static string, e.g. "0.1.0". */
ASTRA_API const char *astra_version_string(void);

/** Version of the vault format the library writes (and the newest it reads). */
ASTRA_API int astra_format_version(void);

/* ------------------------------------------------------------------ */
/* Status codes and errors                                             */
/* ------------------------------------------------------------------ */

/**
 * The result of every call that can fail: 0 on success, a negative
 * astra_error_code otherwise. Some calls return a positive count on
 * success; their documentation says so.
 */
typedef int astra_status;

/**
 * Error codes. Values are append-only: never renumbered, never reused.
 */
typedef enum {
	ASTRA_OK = 0,
	ASTRA_ERROR = -1, /**< generic failure; see astra_error_last() */
	ASTRA_ENOTSUPPORTED = -2, /**< operation not supported here */
	ASTRA_ENOTFOUND = -3, /**< object, file, context, bucket... missing */
	ASTRA_EEXISTS = -4, /**< object already exists */
	ASTRA_EINVALID = -5, /**< invalid argument or options */
	ASTRA_ENOMEM = -6, /**< out of memory */
	ASTRA_EIO = -7, /**< local I/O error */
	ASTRA_ENET = -8, /**< network error, after bounded retries */
	ASTRA_EAUTH = -9, /**< authentication or authorisation failed,
	                       wrong password or key */
	ASTRA_ECERTIFICATE = -10, /**< TLS certificate not trusted */
	ASTRA_EPARSE = -11, /**< malformed input (JSON, YAML, XML...) */
	ASTRA_EPOLICY = -12, /**< denied by a policy (e.g. object lock) */
	ASTRA_ECANCELLED = -13, /**< cancelled by a callback or a token */
	ASTRA_ECORRUPT = -14, /**< stored data failed verification */
	ASTRA_EVERSION = -15, /**< unsupported format or API version */
	ASTRA_ENOSPACE = -16, /**< no space left on the target */
	ASTRA_ECONFLICT = -17, /**< concurrent modification conflict */
	ASTRA_ETIMEOUT = -18, /**< an operation did not finish in time */
	ASTRA_EPARTIAL = -19, /**< finished, but some items failed */
	ASTRA_EBUSY = -20, /**< resource in use or locked */
	ASTRA_EUSER = -30 /**< never produced by astra; for callbacks */
} astra_error_code;

/** Which subsystem produced the last error. Append-only. */
typedef enum {
	ASTRA_ERROR_NONE = 0,
	ASTRA_ERROR_NOMEMORY = 1,
	ASTRA_ERROR_OS = 2,
	ASTRA_ERROR_INVALID = 3,
	ASTRA_ERROR_NET = 4,
	ASTRA_ERROR_TLS = 5,
	ASTRA_ERROR_HTTP = 6,
	ASTRA_ERROR_JSON = 7,
	ASTRA_ERROR_YAML = 8,
	ASTRA_ERROR_CRYPTO = 9,
	ASTRA_ERROR_STORE = 10,
	ASTRA_ERROR_REPO = 11,
	ASTRA_ERROR_KUBE = 12,
	ASTRA_ERROR_POLICY = 13,
	ASTRA_ERROR_CALLBACK = 14,
	ASTRA_ERROR_COMPRESS = 15,
	ASTRA_ERROR_CONFIG = 16
} astra_error_class;

/** Detail of the last failure on the calling thread. */
typedef struct {
	const char *message; /**< never NULL; owned by astra; valid until the
	                          next astra call on this thread */
	int klass; /**< an astra_error_class */
	int code; /**< the astra_error_code that was returned */
} astra_error;

/**
 * The last error set on this thread. Never NULL: when no error was set the
 * message is "no error". Read it on the thread where the call failed; it
 * may be stale after a successful call.
 */
ASTRA_API const astra_error *astra_error_last(void);

/** Clears the calling thread's last error. */
ASTRA_API void astra_error_clear(void);

/** A static, never NULL description of an astra_error_code. */
ASTRA_API const char *astra_strerror(int code);

/* ------------------------------------------------------------------ */
/* Library initialisation                                              */
/* ------------------------------------------------------------------ */

/**
 * Initialises global state (TLS, HTTP). Reference-counted: each successful
 * call must be matched by astra_shutdown(). Call it before starting
 * threads that use astra.
 *
 * @return the new reference count (> 0), or a negative astra_error_code.
 */
ASTRA_API astra_status astra_init(void) ASTRA_WARN_UNUSED;

/**
 * Drops one reference; the last one releases global state.
 * @return the remaining count (>= 0), or ASTRA_EINVALID when not initialised.
 */
ASTRA_API int astra_shutdown(void);

/* ------------------------------------------------------------------ */
/* Returned buffers                                                    */
/* ------------------------------------------------------------------ */

/**
 * Bytes or a string returned by astra. `ptr` is always NUL-terminated and
 * `size` excludes the NUL. Release with astra_buf_dispose(), never free().
 * Initialise with ASTRA_BUF_INIT before passing to a call that fills it.
 */
typedef struct {
	char *ptr;
	size_t size;
	size_t asize; /**< allocated size; 0 when ptr is not owned */
} astra_buf;

#define ASTRA_BUF_INIT     \
	{                  \
		NULL, 0, 0 \
	}

/** Frees the buffer's memory (wiping it first) and resets it. NULL is ok. */
ASTRA_API void astra_buf_dispose(astra_buf *buf);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

typedef enum {
	ASTRA_LOG_NONE = 0,
	ASTRA_LOG_ERROR = 1,
	ASTRA_LOG_WARN = 2,
	ASTRA_LOG_INFO = 3,
	ASTRA_LOG_DEBUG = 4,
	ASTRA_LOG_TRACE = 5
} astra_log_level;

/**
 * A log handler. May be called from any of astra's threads, concurrently;
 * never with an internal lock held. Messages never contain secrets.
 */
typedef void ASTRA_CALLBACK(astra_log_cb)(
        int level, const char *message, void *payload);

/**
 * Sets the process-wide log handler and the most verbose level passed to
 * it. A NULL handler discards all messages (the default).
 */
ASTRA_API void astra_log_set_handler(
        astra_log_cb handler, int max_level, void *payload);

/* ------------------------------------------------------------------ */
/* Progress and cancellation                                           */
/* ------------------------------------------------------------------ */

/** Stages reported in astra_progress.stage. Append-only. */
typedef enum {
	ASTRA_STAGE_NONE = 0,
	ASTRA_STAGE_SCANNING = 1,
	ASTRA_STAGE_BACKING_UP = 2,
	ASTRA_STAGE_RESTORING = 3,
	ASTRA_STAGE_CHECKING = 4,
	ASTRA_STAGE_COLLECTING_GARBAGE = 5,
	ASTRA_STAGE_FINISHING = 6,
	ASTRA_STAGE_SNAPSHOTTING = 7,
	ASTRA_STAGE_WAITING = 8,
	ASTRA_STAGE_REPLICATING = 9
} astra_stage;

/** A progress report. Fields are appended only; check `version`. */
typedef struct {
	unsigned int version; /**< ASTRA_PROGRESS_VERSION at the library's
	                           build */
	unsigned int stage; /**< an astra_stage */
	uint64_t bytes_done;
	uint64_t bytes_total; /**< 0 when unknown */
	uint64_t items_done; /**< files, objects or resources */
	uint64_t items_total; /**< 0 when unknown */
	uint64_t bytes_stored; /**< new bytes written to the target */
	const char *item; /**< current item or NULL; borrowed */
} astra_progress;

#define ASTRA_PROGRESS_VERSION 1

/**
 * Progress callback. Called on the thread that started the operation
 * unless documented otherwise. A non-zero return cancels the operation:
 * it then fails with ASTRA_ECANCELLED, or with the returned value when it
 * is <= ASTRA_EUSER.
 */
typedef int ASTRA_CALLBACK(astra_progress_cb)(
        const astra_progress *progress, void *payload);

/**
 * A cancellation token: create one, pass it in an operation's options,
 * and call astra_cancel_request() from any thread to stop the operation at
 * its next safe point (the operation then fails with ASTRA_ECANCELLED and
 * leaves stored data consistent).
 */
typedef struct astra_cancel astra_cancel;

/** Creates a token. Release with astra_cancel_free(). */
ASTRA_API astra_status astra_cancel_new(astra_cancel **out) ASTRA_WARN_UNUSED;

/** Requests cancellation. Safe from any thread and from signal handlers. */
ASTRA_API void astra_cancel_request(astra_cancel *token);

/** 1 when cancellation was requested, else 0. */
ASTRA_API int astra_cancel_requested(const astra_cancel *token);

/** Clears a request so the token can be reused. */
ASTRA_API void astra_cancel_reset(astra_cancel *token);

/** Frees a token no operation uses any more. NULL is ok. */
ASTRA_API void astra_cancel_free(astra_cancel *token);

ASTRA_END_DECL

/** @} */
#endif
