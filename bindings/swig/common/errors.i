/*
 * Status codes and errors, language-neutral part.
 *
 * Every call that can fail returns astra_status (typedef int): the
 * language layers attach their typemaps to that type, so one typemap
 * covers the whole API (GDAL's OGRErr, the SWIG manual's MyErr). Python
 * turns a negative status into an exception in the wrapper, on the calling
 * thread; Go returns the int and reads astra_error_last() on a locked OS
 * thread. The astra_error_code and astra_error_class enumerators are
 * wrapped as constants.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

/* Member features are given by bare member name: SWIG does not match
 * `Type::member` for the members of C's anonymous `typedef struct {...}
 * Type`. Each name below is unique to the structs it is meant for. */

/* astra_error_last() returns a borrowed, read-only record. */
%nodefaultctor astra_error;
%nodefaultdtor astra_error;
%immutable message;
%immutable klass;
%immutable code;

/* Replaced by the language layers: options objects are initialised by
 * their constructors, buffers released by typemaps or destructors, the
 * log handler installed through a language proxy. */
/* Every *_options_init(), from the one list of options structs. */
%define ASTRA_OPTIONS_ENTRY(name, NAME)
%ignore astra_##name##_options_init;
%enddef
%include "astra/options_list.h"
#undef ASTRA_OPTIONS_ENTRY
%ignore astra_buf_dispose;
%ignore astra_strarray_dispose;
%ignore astra_log_set_handler;

/* A progress report reaches the target language as plain values. */
%ignore astra_progress;
