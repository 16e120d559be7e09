/*
 * The scoping rule of app definitions (lib/app/app.c) and vault references
 * of policies (lib/policy/spec.c, schedule.c): docs/security.md, "Trust
 * model"; docs/policies.md, "Which vault a run uses".
 */
#include <string.h>

#include "app/app.h"
#include "astra_test.h"
#include "fmt/json.h"
#include "policy/policy.h"

TestSuite(policy_tenancy);

static astra_app *app(const char *text)
{
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__json_parse(&j, text, strlen(text), "test"));
	astra_app *a = NULL;
	cr_assert_astra_ok(astra__app_parse(&a, j));
	astra__json_free(j);
	return a;
}

/* scope check of `def` at home `home`; expects `code` and, when not 0, a
 * message holding `needle` */
static void scope(const char *def, const char *home, int control, int code,
        const char *needle)
{
	astra_app *a = app(def);
	int rc = astra__app_scope_check(a, home, control);
	cr_assert_eq(rc, code, "%s at %s: %d %s", def, home, rc,
	        astra_error_last()->message);
	if (code)
		cr_assert(strstr(astra_error_last()->message, needle),
		        "message \"%s\" lacks \"%s\"",
		        astra_error_last()->message, needle);
	astra__app_release(a);
}

Test(policy_tenancy, a_tenant_definition_covers_its_own_namespace_only)
{
	const char *own = "{\"name\":\"a\",\"namespaces\":[{\"name\":\"t\","
	                  "\"selector\":\"x=y\"}]}";
	scope(own, "t", 0, 0, NULL);
	scope("{\"name\":\"a\",\"helm\":{\"release\":\"r\",\"namespace\":"
	      "\"t\"}}",
	        "t", 0, 0, NULL);
	/* another namespace: refused, naming the app, both namespaces and
	 * the rule */
	const char *ks = "{\"name\":\"a\",\"namespaces\":[{\"name\":"
	                 "\"kube-system\"}]}";
	scope(ks, "t", 0, ASTRA_EPOLICY, "covers namespace kube-system");
	scope(ks, "t", 0, ASTRA_EPOLICY, "defined in namespace t");
	scope(ks, "t", 0, ASTRA_EPOLICY, "covers only its own namespace");
	scope("{\"name\":\"a\",\"namespaces\":[{\"name\":\"t\"},{\"name\":"
	      "\"u\"}]}",
	        "t", 0, ASTRA_EPOLICY, "covers namespace u");
	scope("{\"name\":\"a\",\"helm\":{\"release\":\"r\",\"namespace\":"
	      "\"u\"}}",
	        "t", 0, ASTRA_EPOLICY, "Helm release namespace u");
	scope("{\"name\":\"a\",\"namespaces\":[{\"name\":\"t\"}],"
	      "\"clusterResources\":[{\"kind\":\"ClusterRole\"}]}",
	        "t", 0, ASTRA_EPOLICY, "clusterResources");
	/* the control namespace may span namespaces and cluster resources */
	scope(ks, "astra-system", 1, 0, NULL);
	scope("{\"name\":\"a\",\"namespaces\":[{\"name\":\"t\"},{\"name\":"
	      "\"u\"}],\"clusterResources\":[{\"kind\":\"ClusterRole\"}]}",
	        "astra-system", 1, 0, NULL);
}

static astra_policy_options policy(void)
{
	astra_policy_options p;
	cr_assert_astra_ok(
	        astra_policy_options_init(&p, ASTRA_POLICY_OPTIONS_VERSION));
	p.name = "nightly";
	p.granularity = ASTRA_POLICY_DAILY;
	p.backup_retention = 3;
	return p;
}

Test(policy_tenancy, a_vault_reference_is_a_name_and_excludes_a_url)
{
	astra_policy_options p = policy();
	p.vault_ref = "main";
	cr_assert_astra_ok(astra_policy_validate(&p));
	/* it round-trips through the stored spec */
	astra__json *j = NULL;
	cr_assert_astra_ok(astra__policy_to_json(&p, &j));
	cr_assert_str_eq(astra__json_str(j, "vaultRef"), "main");
	cr_assert_null(astra__json_get(j, "vault"));
	astra_policy_options back;
	cr_assert_astra_ok(astra__policy_from_json(j, &back));
	cr_assert_str_eq(back.vault_ref, "main");
	astra__json_free(j);

	p.vault = "file:///v";
	cr_assert_eq(astra_policy_validate(&p), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "exclude each other"),
	        "%s", astra_error_last()->message);
	p.vault = NULL;
	p.vault_ref = "Not/A/Name";
	cr_assert_eq(astra_policy_validate(&p), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "Not/A/Name"), "%s",
	        astra_error_last()->message);
	p.vault_ref = NULL;
	cr_assert_eq(astra_policy_validate(&p), ASTRA_EINVALID);
	cr_assert(strstr(astra_error_last()->message, "vault reference"), "%s",
	        astra_error_last()->message);
	/* a caller of version 1 has no vault_ref: it is not read */
	astra_policy_options v1 = policy();
	v1.version = 1;
	v1.vault = "file:///v";
	v1.vault_ref = "garbage that a v1 caller never set";
	cr_assert_astra_ok(astra_policy_validate(&v1));
}
