/*
 * Library-wide entry points: versions, init and shutdown.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>

#include "astra/common.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "net/net.h"

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

void astra_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = ASTRA_VERSION_MAJOR;
	if (minor)
		*minor = ASTRA_VERSION_MINOR;
	if (patch)
		*patch = ASTRA_VERSION_PATCH;
}

int astra_version_number(void)
{
	return ASTRA_VERSION_NUMBER;
}

const char *astra_version_string(void)
{
	return ASTRA_VERSION_STRING;
}

int astra_format_version(void)
{
	return ASTRA_FORMAT_VERSION;
}

astra_status astra_init(void)
{
	int rc = 0;
	pthread_mutex_lock(&init_mu);
	if (init_count == 0) {
		rc = astra__crypto_global_init();
		if (!rc)
			rc = astra__net_global_init();
	}
	if (!rc)
		rc = ++init_count;
	pthread_mutex_unlock(&init_mu);
	return rc;
}

int astra_shutdown(void)
{
	int rc;
	pthread_mutex_lock(&init_mu);
	if (init_count == 0) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_INVALID,
		        "astra_shutdown() without astra_init()");
	} else {
		rc = --init_count;
		if (rc == 0)
			astra__net_global_cleanup();
	}
	pthread_mutex_unlock(&init_mu);
	return rc;
}
