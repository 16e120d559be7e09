/*
 * libastra SWIG interface: the single entry point for every target
 * language (house style §8.16). Language-neutral parts live in common/,
 * each language's typemaps, exceptions and callback proxies in <lang>/.
 *
 *   Python: swig -python -threads -I bindings/swig -I include -I BUILD/include
 *           (bindings/python/setup.py runs it; module astra.capi)
 *   Go:     bindings/go/internal/capi/capi.swig includes this file; `go build`
 *           runs SWIG itself (module capi)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#if defined(SWIGPYTHON)
%module(package="astra", threads="1") capi
#else
%module capi
#endif

%{
#include <stdlib.h>
#include <string.h>
#include <astra.h>
%}

%include <stdint.i>

/* Order matters: the language layer defines the typemaps and the
 * per-language callback payload (astra_swig_cb) that the common layer
 * uses; every %extend, %ignore and typemap precedes the headers. */
#if defined(SWIGPYTHON)
%include "python/astra_python.i"
#elif defined(SWIGGO)
%include "go/astra_go.i"
#else
#error "libastra bindings support Python and Go"
#endif

%include "common/errors.i"
%include "common/handles.i"
%include "common/buffers.i"
%include "common/options.i"

/* The public headers, in dependency order (as include/astra.h). */
%include "astra/version.h"
%include "astra/common.h"
%include "astra/cluster.h"
%include "astra/vault.h"
%include "astra/app.h"
%include "astra/snapshot.h"
%include "astra/backup.h"
%include "astra/restore.h"
%include "astra/hook.h"
%include "astra/policy.h"
