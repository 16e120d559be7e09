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

/* Backends */
int astra__store_fs_open(
        astra__store **out, const char *path, const astra__store_opts *opts);
/* url: "s3://bucket[/prefix][?options]" (see docs/s3.md) */
int astra__store_s3_open(
        astra__store **out, const char *url, const astra__store_opts *opts);
/* url: "azure://container[/prefix][?options]" (see docs/azure.md) */
int astra__store_azure_open(
        astra__store **out, const char *url, const astra__store_opts *opts);
/* 1 when an azure:// store's container has a container-level
 * immutability policy (which cannot hold per-object retention). */
int astra__store_azure_container_policy(const astra__store *s);
/* url: "gs://bucket[/prefix][?options]" (see docs/gcs.md) */
int astra__store_gcs_open(
        astra__store **out, const char *url, const astra__store_opts *opts);

/* Helpers for the backends' URL options: percent-decodes s[0..n) ('+' is
 * a space; NULL when out of memory), and parses option k's value v as a
 * number in [lo, hi], or fails with ASTRA_EINVALID naming url, k and v. */
char *astra__store_pct_decode(const char *s, size_t n);
/*
 * The object-key prefix of a vault URL from its n bytes of path at p:
 * segments percent-decoded, each followed by "/" ("" for none); empty
 * segments are skipped, "." , ".." and "#" are refused naming the URL.
 */
int astra__store_url_prefix(
        const char *url, const char *p, size_t n, char **out);
/*
 * The next KEY=VALUE of a URL's query string (both percent-decoded; a bare
 * KEY has the value ""), advancing *q: 1 with *k and *v to free, 0 at the
 * end, ASTRA_ENOMEM.
 */
int astra__store_opt_next(const char **q, char **k, char **v);
/* 1/true/yes/"" or 0/false/no; anything else is refused naming the URL. */
int astra__store_opt_bool(
        const char *url, const char *k, const char *v, int *out);
int astra__store_opt_long(const char *url, const char *k, const char *v,
        long lo, long hi, long *out);

#endif
