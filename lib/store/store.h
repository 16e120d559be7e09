/*
 * The object-store interface every vault backend implements, and the
 * registry that opens a store from a URL (file://, s3://, azure://, gs://).
 *
 * Keys are relative paths with '/' separators ("data/ab/abcd..."). All
 * operations are safe to call from several threads at once.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_STORE_STORE_H
#define ASTRA_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "astra/common.h"

typedef struct astra__store astra__store;
typedef struct astra__json astra__json;

/* Object lock modes */
#define ASTRA_STORE_LOCK_COMPLIANCE 1u
#define ASTRA_STORE_LOCK_GOVERNANCE 2u

typedef struct {
	const char *key; /* borrowed during the callback */
	uint64_t size;
	int64_t mtime_ns; /* last modification, wall clock */
	/* head only: object lock retention (Unix seconds, 0 = none) and
	 * mode (ASTRA_STORE_LOCK_*), and a legal hold */
	int64_t retain_until;
	unsigned lock_mode;
	int legal_hold;
} astra__obj_info;

/* Return non-zero from a list callback to stop (that value is returned). */
typedef int (*astra__store_list_cb)(const astra__obj_info *info, void *payload);

/* put flags */
#define ASTRA_PUT_IF_ABSENT 0x1u /* fail with ASTRA_EEXISTS if present */

typedef struct {
	unsigned flags;
	int64_t retain_until; /* Unix seconds; 0 = no object lock */
	unsigned lock_mode; /* ASTRA_STORE_LOCK_*; 0 = compliance */
} astra__put_opts;

/* Capabilities */
#define ASTRA_STORE_CAP_OBJECT_LOCK 0x1u /* object lock is enabled */
#define ASTRA_STORE_CAP_CONDITIONAL 0x2u
#define ASTRA_STORE_CAP_VERSIONING 0x4u /* versioning is enabled */

typedef struct {
	int (*put)(astra__store *s, const char *key, const void *data, size_t n,
	        const astra__put_opts *opts);
	/* len == 0: to the end. Fails with ASTRA_ENOTFOUND when absent. */
	int (*get)(astra__store *s, const char *key, uint64_t off, uint64_t len,
	        astra_buf *out);
	int (*head)(astra__store *s, const char *key, astra__obj_info *info);
	/* Every object whose key starts with prefix, in no particular order. */
	int (*list)(astra__store *s, const char *prefix,
	        astra__store_list_cb cb, void *payload);
	/* Deleting an absent object succeeds. An object under retention or
	 * a legal hold is not deleted: ASTRA_EPOLICY. In a versioned bucket
	 * every version of the key goes. */
	int (*del)(astra__store *s, const char *key);
	/* Extends an object's retention (object lock); optional. */
	int (*retain)(
	        astra__store *s, const char *key, int64_t until, unsigned mode);
	void (*free)(astra__store *s);
	/* A URL that allows `method` on key without credentials for
	 * `expires` seconds (*out allocated); optional. */
	int (*presign)(astra__store *s, const char *method, const char *key,
	        unsigned expires, char **out);
	/* Whether the store can hold an immutable vault (object lock with
	 * what the backend needs besides, e.g. versioning): 0, or
	 * ASTRA_ENOTSUPPORTED with an error of class err_class naming what
	 * the bucket or container lacks and how to create one that has it.
	 * NULL: the store cannot lock objects at all. */
	int (*worm_check)(astra__store *s, int err_class);
	/* Credentials for another process (a mover Job) limited to this
	 * store's bucket/container and prefix and to `seconds`, as
	 * environment variables into the JSON object `env`; optional
	 * (NULL or ASTRA_ENOTSUPPORTED: the store cannot narrow them). */
	int (*job_creds)(astra__store *s, unsigned seconds, astra__json *env);
} astra__store_ops;

struct astra__store {
	const astra__store_ops *ops;
	char *url; /* for messages; no credentials */
	unsigned caps;
	/* requests worth keeping in flight for a remote store (its latency
	 * hides behind parallel requests); 0 for a local one */
	unsigned io_depth;
};

/* Options for opening a store; backends read what they need. */
typedef struct {
	int create; /* file://: create the directory if missing */
	const char *ca_file; /* s3://: overrides ?ca= */
	int insecure_tls;
} astra__store_opts;

int astra__store_open(
        astra__store **out, const char *url, const astra__store_opts *opts);
void astra__store_free(astra__store *s);

int astra__store_put(astra__store *s, const char *key, const void *data,
        size_t n, const astra__put_opts *opts);
int astra__store_get(astra__store *s, const char *key, uint64_t off,
        uint64_t len, astra_buf *out);
int astra__store_head(astra__store *s, const char *key, astra__obj_info *info);
int astra__store_list(astra__store *s, const char *prefix,
        astra__store_list_cb cb, void *payload);
int astra__store_del(astra__store *s, const char *key);
/* ASTRA_ENOTSUPPORTED when the store has no object lock. */
int astra__store_retain(
        astra__store *s, const char *key, int64_t until, unsigned mode);
int astra__store_presign(astra__store *s, const char *method, const char *key,
        unsigned expires, char **out);
/* ASTRA_ENOTSUPPORTED when the store cannot narrow credentials. */
int astra__store_job_creds(astra__store *s, unsigned seconds, astra__json *env);

/*
 * A backend: what opens a store from a URL of its scheme and what the
 * rest of the library may ask about such URLs without opening one.
 */
typedef struct {
	const char *scheme; /* "s3://" */
	int (*open)(astra__store **out, const char *url,
	        const astra__store_opts *opts);
	/* its stores' operations (worm_check: it can lock objects) */
	const astra__store_ops *ops;
	/* the URL's options (url.h's astra__url_opt_table); NULL: none */
	const void *options;
	/* Environment variables a remote process (a mover Job) needs to
	 * open the same vault: credentials, region, endpoint. NULL-
	 * terminated; NULL: none. */
	const char *const *job_env;
	/* The local directory a URL names (*out allocated); NULL: the
	 * backend is not a local directory. */
	int (*local_dir)(const char *url, char **out);
} astra__store_backend;

extern const astra__store_backend astra__store_fs_backend;
extern const astra__store_backend astra__store_s3_backend;
extern const astra__store_backend astra__store_azure_backend;
extern const astra__store_backend astra__store_gcs_backend;

/* The backend of url's scheme, or NULL for a URL without one of the
 * supported schemes (a bare path "/dir" is not a scheme). */
const astra__store_backend *astra__store_backend_of(const char *url);
/* 1 when url's backend can hold an immutable vault (object lock). */
int astra__store_url_can_lock(const char *url);
/* The schemes whose stores can lock objects: "s3://, azure://, gs://". */
const char *astra__store_lock_schemes(void);
/* The environment variables a mover Job for url needs (NULL-terminated,
 * static; never NULL). */
const char *const *astra__store_url_job_env(const char *url);
/* The local directory url names (*out allocated), or 0 with *out NULL when
 * url is not a local directory. */
int astra__store_url_local_dir(const char *url, char **out);

/* Backends */
int astra__store_fs_open(
        astra__store **out, const char *path, const astra__store_opts *opts);

#endif
