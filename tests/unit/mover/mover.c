/*
 * Mover options: validation before anything reaches a cluster (no server
 * needed: every failure happens before the first request), and the
 * host-path default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astra.h"
#include "astra_test.h"
#include "mover/mover.h"
#include "repo/vault_internal.h"

static char work[] = "/tmp/astra-mover-unit.XXXXXX";
static astra_vault *vault;

static void setup(void)
{
	cr_assert(mkdtemp(work));
	char url[200];
	snprintf(url, sizeof(url), "file://%s/v", work);
	astra_vault_options o;
	astra_vault_options_init(&o, ASTRA_VAULT_OPTIONS_VERSION);
	o.password = "pw";
	o.kdf_log2n = 10;
	cr_assert_astra_ok(astra_vault_init(&vault, url, &o));
}

static void teardown(void)
{
	astra_vault_free(vault);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(mover, .init = setup, .fini = teardown);

static void good(astra_mover_options *m)
{
	cr_assert_astra_ok(
	        astra_mover_options_init(m, ASTRA_MOVER_OPTIONS_VERSION));
	m->strategy = ASTRA_MOVER_JOB;
	m->image = "astra.local/astractl:tb";
	m->vault_password = "pw";
}

static int try_new(const astra_mover_options *m, astra__mover **out)
{
	astra__mover *mv = NULL;
	int rc = astra__mover_new(&mv, NULL, vault->r, m, NULL, NULL);
	if (out)
		*out = mv;
	else
		astra__mover_free(mv);
	return rc;
}

static void refused(const astra_mover_options *m, const char *words)
{
	int rc = try_new(m, NULL);
	cr_assert_lt(rc, 0, "accepted, expected: %s", words);
	cr_assert(strstr(astra_error_last()->message, words),
	        "message \"%s\" lacks \"%s\"", astra_error_last()->message,
	        words);
}

Test(mover, init_sets_the_version_and_host_path_by_default)
{
	astra_mover_options m = ASTRA_MOVER_OPTIONS_INIT;
	cr_assert_eq(m.version, ASTRA_MOVER_OPTIONS_VERSION);
	cr_assert_eq(m.strategy, ASTRA_MOVER_HOSTPATH);
	cr_assert_eq(astra_mover_options_init(&m, 99), ASTRA_EVERSION);
	/* NULL options and the host-path strategy need no mover */
	astra__mover *mv = (astra__mover *)1;
	cr_assert_astra_ok(
	        astra__mover_new(&mv, NULL, vault->r, NULL, NULL, NULL));
	cr_assert_null(mv);
	cr_assert_astra_ok(try_new(&m, &mv));
	cr_assert_null(mv);
	/* the backup options grew a version for it */
	cr_assert_eq(ASTRA_BACKUP_OPTIONS_VERSION, 2);
	cr_assert_geq(ASTRA_RESTORE_OPTIONS_VERSION, 2);
	cr_assert_geq(ASTRA_CLONE_OPTIONS_VERSION, 2);
}

Test(mover, bad_options_are_refused_with_their_cause)
{
	astra_mover_options m;
	good(&m);
	m.version = 0;
	refused(&m, "astra_mover_options version 0");
	good(&m);
	m.strategy = 5;
	refused(&m, "strategy 5 is unknown");
	good(&m);
	m.image = NULL;
	refused(&m, "need an image");
	good(&m);
	m.image_pull_policy = "Sometimes";
	refused(&m, "\"Sometimes\" is not Always, IfNotPresent or Never");
	good(&m);
	m.vault_password = NULL;
	refused(&m, "vault's secret");
	good(&m);
	m.vault_password_file = "/nonexistent";
	refused(&m, "one of the two");
	good(&m);
	m.vault_password = NULL;
	m.vault_password_file = "/nonexistent/pw";
	refused(&m, "cannot read the vault password file /nonexistent/pw");
	good(&m);
	m.vault_password = "";
	refused(&m, "secret is empty");
	good(&m);
	m.parallelism = 300;
	refused(&m, "parallelism 300");
	good(&m);
	m.node_selector_json = "[1]";
	refused(&m, "node selector is not a JSON object");
	good(&m);
	m.tolerations_json = "{}";
	refused(&m, "tolerations are not a JSON array");
	good(&m);
	m.tolerations_json = "[{";
	cr_assert_eq(try_new(&m, NULL), ASTRA_EPARSE);
	/* the control namespace must be a namespace name */
	static const char *const bad_ns[] = {
		"", "Astra", "-astra", "astra-", "astra_system", "a/b",
		"a234567890123456789012345678901234567890123456789012345678901234"
	};
	for (size_t i = 0; i < sizeof(bad_ns) / sizeof(*bad_ns); i++) {
		good(&m);
		m.control_namespace = bad_ns[i];
		refused(&m, "is not a namespace name");
	}
}

Test(mover, the_control_namespace_is_read_from_version_2)
{
	astra_mover_options m;
	good(&m);
	cr_assert_eq(ASTRA_MOVER_OPTIONS_VERSION, 2);
	cr_assert_null(m.control_namespace);
	cr_assert_eq(m.run_as_user, 0);
	m.control_namespace = "ctl-1";
	astra__mover *mv = NULL;
	cr_assert_astra_ok(try_new(&m, &mv));
	astra__mover_free(mv);
	/* a version 1 caller has no such field: never read */
	m.version = 1;
	m.control_namespace = "Not A Name";
	cr_assert_astra_ok(try_new(&m, &mv));
	cr_assert_not_null(mv);
	astra__mover_free(mv);
	cr_assert_eq(astra_mover_options_init(&m, 1), 0);
	cr_assert_eq(m.version, 1);
}

Test(mover, good_options_and_a_password_file)
{
	astra_mover_options m;
	good(&m);
	m.node_selector_json = "{\"kubernetes.io/os\":\"linux\"}";
	m.tolerations_json = "[{\"operator\":\"Exists\"}]";
	astra__mover *mv = NULL;
	cr_assert_astra_ok(try_new(&m, &mv));
	cr_assert_not_null(mv);
	astra__mover_free(mv);
	char pf[300];
	snprintf(pf, sizeof(pf), "%s/pw", work);
	FILE *f = fopen(pf, "w");
	cr_assert(f);
	fputs("pw\n", f);
	fclose(f);
	good(&m);
	m.vault_password = NULL;
	m.vault_password_file = pf;
	cr_assert_astra_ok(try_new(&m, &mv));
	cr_assert_not_null(mv);
	astra__mover_free(mv);
}
