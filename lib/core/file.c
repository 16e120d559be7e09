/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

static void size_text(char *out, size_t n, size_t bytes)
{
	if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		snprintf(out, n, "%zu MiB", bytes >> 20);
	else
		snprintf(out, n, "%zu bytes", bytes);
}

int astra__file_read(
        astra_buf *out, const char *path, size_t max, unsigned flags)
{
	int secret = (flags & ASTRA_FILE_SECRET) != 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return astra__err_os("cannot open %s", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int rc = astra__err_os("cannot read %s", path);
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return astra__err(ASTRA_EINVALID, ASTRA_ERROR_OS,
		        "%s is a directory, not a file", path);
	}
	char cap[32];
	size_text(cap, sizeof(cap), max);
	/* a secret's buffer is sized once (regular files know their size;
	 * anything else gets the cap) */
	size_t want = S_ISREG(st.st_mode) && (uint64_t)st.st_size < max
	                      ? (size_t)st.st_size + 1
	                      : max + 1;
	int rc = astra__buf_grow(out, secret ? want : 4096);
	size_t start = out->size;
	while (!rc) {
		if (out->size - start > max) {
			rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_OS,
			        "%s is larger than %s", path, cap);
			break;
		}
		size_t room = out->asize - out->size - 1;
		if (room == 0) {
			if (secret) {
				rc = astra__err(ASTRA_EINVALID, ASTRA_ERROR_OS,
				        "%s grew while it was read", path);
				break;
			}
			if ((rc = astra__buf_grow(out, 65536)))
				break;
			continue;
		}
		ssize_t n = read(fd, out->ptr + out->size, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = astra__err_os("cannot read %s", path);
			break;
		}
		if (n == 0)
			break;
		out->size += (size_t)n;
	}
	close(fd);
	if (out->ptr)
		out->ptr[out->size] = '\0';
	if (rc && secret && out->ptr) {
		astra__wipe(out->ptr + start, out->size - start);
		out->size = start;
	}
	return rc;
}
