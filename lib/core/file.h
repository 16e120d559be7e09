/*
 * Reading a whole small file (configuration, credentials, scripts) with a
 * size cap: the one reader every module uses.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_CORE_FILE_H
#define ASTRA_CORE_FILE_H

#include <stddef.h>

#include "astra/common.h"

/* astra__file_read flags */
#define ASTRA_FILE_SECRET 0x1u /* wipe every copy the read leaves behind */

/*
 * Appends the content of `path` to `out` (NUL-terminated, not counted).
 * Fails, naming the path, when it cannot be opened (ASTRA_ENOTFOUND when
 * it does not exist), is a directory, cannot be read, or holds more than
 * `max` bytes (ASTRA_EINVALID). With ASTRA_FILE_SECRET the buffer never
 * moves while it holds content (it is sized once from the file's size,
 * and a file that grows while read is refused), so no stale copy of the
 * secret is left in freed memory, and the read buffer is wiped.
 */
int astra__file_read(
        astra_buf *out, const char *path, size_t max, unsigned flags);

#endif
