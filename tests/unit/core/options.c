/*
 * Every options struct of the API (include/astra/options_list.h): its
 * *_options_init() gives exactly what its _INIT macro gives, refuses
 * versions it does not know, and writes no byte past the struct an older
 * caller has.
 */
#include <string.h>

#include "astra_test.h"
#include "astra.h"

#define ASTRA_OPTIONS_ENTRY(name, NAME)                                        \
	static void check_##name(void)                                         \
	{                                                                      \
		static const astra_##name##_options from_macro =               \
		        ASTRA_##NAME##_OPTIONS_INIT;                           \
		/* bytes the init must overwrite, padding included */          \
		union {                                                        \
			astra_##name##_options o;                              \
			unsigned char b[sizeof(astra_##name##_options) + 8];   \
		} u;                                                           \
		memset(&u, 0x5a, sizeof(u));                                   \
		cr_assert_astra_ok(astra_##name##_options_init(                \
		        &u.o, ASTRA_##NAME##_OPTIONS_VERSION));                \
		cr_assert(memcmp(&u.o, &from_macro, sizeof(u.o)) == 0,         \
		        "astra_" #name "_options_init() and "                  \
		        "ASTRA_" #NAME "_OPTIONS_INIT differ");                \
		for (size_t i = sizeof(u.o); i < sizeof(u.b); i++)             \
			cr_assert_eq(u.b[i], 0x5a,                             \
			        "astra_" #name                                 \
			        "_options_init() wrote past the struct");      \
		cr_assert_eq(u.o.version, ASTRA_##NAME##_OPTIONS_VERSION);     \
		cr_assert_astra_fail(                                          \
		        astra_##name##_options_init(&u.o, 0), ASTRA_EVERSION); \
		cr_assert_astra_fail(                                          \
		        astra_##name##_options_init(                           \
		                &u.o, ASTRA_##NAME##_OPTIONS_VERSION + 1),     \
		        ASTRA_EVERSION);                                       \
		/* an older caller's struct ends before the last member,       \
		 * which a later version appended */                           \
		for (unsigned v = 1; v < ASTRA_##NAME##_OPTIONS_VERSION;       \
		        v++) {                                                 \
			memset(&u, 0x5a, sizeof(u));                           \
			cr_assert_astra_ok(                                    \
			        astra_##name##_options_init(&u.o, v));         \
			cr_assert_eq(u.o.version, v);                          \
			cr_assert_eq(u.b[sizeof(u.o) - 1], 0x5a,               \
			        "astra_" #name "_options_init(o, %u) wrote "   \
			        "past a version-%u struct",                    \
			        v, v);                                         \
		}                                                              \
	}
#include "astra/options_list.h"
#undef ASTRA_OPTIONS_ENTRY

Test(core_options, init_functions_give_the_init_macros)
{
	unsigned n = 0;
#define ASTRA_OPTIONS_ENTRY(name, NAME) \
	check_##name();                 \
	n++;
#include "astra/options_list.h"
#undef ASTRA_OPTIONS_ENTRY
	cr_assert_eq(n, 18, "options structs checked: %u", n);
}

Test(core_options, a_monthly_policy_defaults_to_the_first)
{
	astra_policy_options a = ASTRA_POLICY_OPTIONS_INIT;
	cr_assert_eq(a.day_of_month, 1);
}
