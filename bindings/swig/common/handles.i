/*
 * Opaque handles. Each gets a proxy class whose destructor calls the C
 * *_free function; the wrapped object owns the handle when it came from a
 * `T **out` parameter (see ASTRA_OUT_HANDLE in the language layer), and
 * calling the raw *_free function disowns it (%delobject), so the C object
 * is freed exactly once whichever way it goes.
 *
 * The empty struct bodies exist for SWIG only (to get a class with a
 * destructor); the C compiler never sees them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

%define ASTRA_HANDLE(TYPE, FREE)
%nodefaultctor TYPE;
struct TYPE {};
%extend TYPE {
	~TYPE() { FREE($self); }
}
%delobject FREE;
ASTRA_OUT_HANDLE(TYPE)
%enddef

ASTRA_HANDLE(astra_vault, astra_vault_free)
ASTRA_HANDLE(astra_cancel, astra_cancel_free)
ASTRA_HANDLE(astra_cluster, astra_cluster_free)
ASTRA_HANDLE(astra_app, astra_app_free)
