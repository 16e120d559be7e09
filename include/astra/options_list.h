/*
 * Every options struct of the public API, as one X-macro list, for
 * bindings and tests that must cover each of them (the SWIG layer's ignore
 * list, the test that compares each struct's _INIT macro with its
 * *_options_init() function). Define ASTRA_OPTIONS_ENTRY(name, NAME)
 * before including this file; each entry stands for the struct
 * astra_<name>_options, its init function astra_<name>_options_init(),
 * and the macros ASTRA_<NAME>_OPTIONS_VERSION and ASTRA_<NAME>_OPTIONS_INIT.
 * Without ASTRA_OPTIONS_ENTRY the file declares nothing.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifdef ASTRA_OPTIONS_ENTRY
ASTRA_OPTIONS_ENTRY(vault, VAULT)
ASTRA_OPTIONS_ENTRY(data_backup, DATA_BACKUP)
ASTRA_OPTIONS_ENTRY(data_restore, DATA_RESTORE)
ASTRA_OPTIONS_ENTRY(check, CHECK)
ASTRA_OPTIONS_ENTRY(gc, GC)
ASTRA_OPTIONS_ENTRY(repair, REPAIR)
ASTRA_OPTIONS_ENTRY(replicate, REPLICATE)
ASTRA_OPTIONS_ENTRY(cluster, CLUSTER)
ASTRA_OPTIONS_ENTRY(snapshot, SNAPSHOT)
ASTRA_OPTIONS_ENTRY(mover, MOVER)
ASTRA_OPTIONS_ENTRY(backup, BACKUP)
ASTRA_OPTIONS_ENTRY(backup_verify, BACKUP_VERIFY)
ASTRA_OPTIONS_ENTRY(restore, RESTORE)
ASTRA_OPTIONS_ENTRY(clone, CLONE)
ASTRA_OPTIONS_ENTRY(hook, HOOK)
ASTRA_OPTIONS_ENTRY(policy, POLICY)
ASTRA_OPTIONS_ENTRY(policy_run, POLICY_RUN)
ASTRA_OPTIONS_ENTRY(policy_scheduler, POLICY_SCHEDULER)
#endif
