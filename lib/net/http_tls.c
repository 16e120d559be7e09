/*
 * TLS options of the HTTP client's handles: the CA and client certificate,
 * the TLS server name override, and the warning when verification is off.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "net/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "net/http_internal.h"

/*
 * With a TLS server name override the URL's host is replaced by the name
 * (so SNI and verification use it), CONNECT_TO sends the connection to the
 * real host, and a Host header keeps the original authority.
 */
int astra__http_tls_name_setup(astra__http *c, const char *url, char **new_url,
        struct curl_slist **connect_to, char **host_header)
{
	*new_url = NULL;
	*connect_to = NULL;
	*host_header = NULL;
	if (!c->tls_server_name)
		return 0;
	CURLU *u = curl_url();
	if (!u)
		return astra__err_oom();
	char *host = NULL, *port = NULL, *out = NULL;
	int rc = 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	                CURLUE_OK) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "malformed URL for TLS server name %s",
		        c->tls_server_name);
		goto done;
	}
	if (curl_url_set(u, CURLUPART_HOST, c->tls_server_name, 0) !=
	                CURLUE_OK ||
	        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
		rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_HTTP,
		        "invalid TLS server name \"%s\"", c->tls_server_name);
		goto done;
	}
	char *ct = astra__aprintf(
	        "%s:%s:%s:%s", c->tls_server_name, port, host, port);
	char *hh = astra__aprintf("Host: %s:%s", host, port);
	if (!ct || !hh) {
		free(ct);
		free(hh);
		rc = ASTRA_ENOMEM;
		goto done;
	}
	*connect_to = curl_slist_append(NULL, ct);
	free(ct);
	if (!*connect_to) {
		free(hh);
		rc = astra__err_oom();
		goto done;
	}
	*host_header = hh;
	*new_url = astra__strdup(out);
	if (!*new_url)
		rc = ASTRA_ENOMEM;
done:
	curl_free(host);
	curl_free(port);
	curl_free(out);
	curl_url_cleanup(u);
	return rc;
}

static void set_blob(CURL *h, CURLoption opt, const char *data, size_t len)
{
	struct curl_blob blob;
	blob.data = (void *)data;
	blob.len = len;
	blob.flags = CURL_BLOB_COPY;
	curl_easy_setopt(h, opt, &blob);
}

/* Hashes of the `what`s already warned about; past the table's size every
 * call warns (louder, never quieter). */
static pthread_mutex_t warned_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t warned[64];
static size_t nwarned;

void astra__http_warn_insecure(const char *what)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)what; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	int seen = 0;
	pthread_mutex_lock(&warned_mu);
	for (size_t i = 0; i < nwarned && !seen; i++)
		seen = warned[i] == h;
	if (!seen && nwarned < sizeof(warned) / sizeof(warned[0]))
		warned[nwarned++] = h;
	pthread_mutex_unlock(&warned_mu);
	if (!seen)
		astra__log_warn("TLS certificate verification is turned off "
		                "for %s: anyone on the network path can read "
		                "and change the traffic, credentials included",
		        what);
}

int astra__http_url_is_loopback(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	size_t n = strcspn(p, "/?#");
	char host[300];
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, p, n);
	host[n] = '\0';
	char *h = strrchr(host, '@');
	h = h ? h + 1 : host;
	if (*h == '[') {
		char *end = strchr(h, ']');
		struct in6_addr a6;
		if (!end)
			return 0;
		*end = '\0';
		return inet_pton(AF_INET6, h + 1, &a6) == 1 &&
		       memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	}
	char *colon = strchr(h, ':');
	if (colon)
		*colon = '\0';
	if (!strcasecmp(h, "localhost") || !strcasecmp(h, "localhost."))
		return 1;
	struct in_addr a4;
	return inet_pton(AF_INET, h, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

void astra__http_configure_tls(astra__http *c, CURL *h)
{
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		if (c->ca_pem)
			set_blob(h, CURLOPT_CAINFO_BLOB, c->ca_pem,
			        c->ca_pem_len);
		else if (c->ca_file)
			curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	}
	pthread_mutex_lock(&c->mu);
	if (c->cert_pem && c->key_pem) {
		set_blob(h, CURLOPT_SSLCERT_BLOB, c->cert_pem, c->cert_pem_len);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(h, CURLOPT_SSLKEY_BLOB, c->key_pem, c->key_pem_len);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	pthread_mutex_unlock(&c->mu);
}
