/*
 * Returned buffers. astra_buf and astra_strarray are filled by the library
 * and released with astra_buf_dispose() / astra_strarray_dispose().
 *
 * Python maps the parameters (named json_out, report, out) to return
 * values with typemaps (python/astra_python.i). Go uses these small proxy
 * classes: New, the call, Text()/Get(i), Delete (which disposes).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

%ignore ptr;
%ignore asize;
%immutable size;
%extend astra_buf {
	astra_buf() { return (astra_buf *)calloc(1, sizeof(astra_buf)); }
	~astra_buf() {
		astra_buf_dispose($self);
		free($self);
	}
	/* The contents as a NUL-terminated string ("" when empty). */
	const char *text() { return $self->ptr ? $self->ptr : ""; }
}

%ignore strings;
%immutable count;
%extend astra_strarray {
	astra_strarray() {
		return (astra_strarray *)calloc(1, sizeof(astra_strarray));
	}
	~astra_strarray() {
		astra_strarray_dispose($self);
		free($self);
	}
	/* String i, or NULL when out of range. */
	const char *get(size_t i) {
		return i < $self->count ? $self->strings[i] : NULL;
	}
}
