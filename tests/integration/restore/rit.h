/*
 * What the restore-modes suite's topics share: the run's id, a file vault in
 * $TMPDIR, the host-path volume template of the test bed's CSI driver and app
 * definitions. Each *_it.c declares its own Criterion suite with rit_init and
 * rit_fini; run through tests/integration/restore/run.sh.
 */
#ifndef ASTRA_RIT_H
#define ASTRA_RIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astra.h"
#include "astra_test.h"
#include "it_helpers.h"
#include "core/clock.h"

static char rit_rid[16];
static char rit_vpath[512];

static void rit_init(void)
{
	cr_assert(astra_init() > 0);
	cr_assert(getenv("ASTRA_TB_CSI_VOLUMES") &&
	                  getenv("ASTRA_IT_KUBECONFIG2"),
	        "run through tests/integration/restore/run.sh");
	snprintf(rit_rid, sizeof(rit_rid), "%x",
	        (unsigned)((astra__wall_ns() / 1000) ^ getpid()) & 0xffffff);
	snprintf(rit_vpath, sizeof(rit_vpath), "%s/{volumeHandle}",
	        getenv("ASTRA_TB_CSI_VOLUMES"));
}

static void rit_fini(void)
{
	astra_shutdown();
}

/* A new file vault under $TMPDIR named after tag and the run. */
static astra_vault *rit_vault(const char *tag)
{
	char url[600];
	snprintf(url, sizeof(url), "file://%s/vault-%s-%s", getenv("TMPDIR"),
	        tag, rit_rid);
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "integration";
	o.kdf_log2n = 10;
	astra_vault *v = NULL;
	cr_assert_astra_ok(astra_vault_init(&v, url, &o));
	return v;
}

/* A managed app over one whole namespace. */
static astra_app *rit_define(astra_cluster *c, const char *app, const char *ns)
{
	char def[256];
	snprintf(def, sizeof(def),
	        "{\"name\":\"%s\",\"namespaces\":[{\"name\":\"%s\"}]}", app,
	        ns);
	astra_app *a = NULL;
	cr_assert_astra_ok(astra_app_define(&a, c, def, 0));
	return a;
}

/* The host directory of PVC ns/pvc on the test bed's CSI driver, into out. */
static void rit_pvc_dir(char *out, size_t n, const char *ns, const char *pvc)
{
	capture(out, n,
	        "pv=$(kubectl -n %s get pvc %s -o jsonpath='{.spec.volumeName}') && "
	        "h=$(kubectl get pv $pv -o jsonpath='{.spec.csi.volumeHandle}') && "
	        "echo \"$ASTRA_TB_CSI_VOLUMES/$h\"",
	        ns, pvc);
	cr_assert(out[0] && strstr(out, "/") && out[strlen(out) - 1] != '/',
	        "no volume for PVC %s/%s", ns, pvc);
}

#endif
