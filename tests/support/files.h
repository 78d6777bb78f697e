/* files.h: small file helpers shared by the test binaries. */
#ifndef BT_TEST_FILES_H
#define BT_TEST_FILES_H

#include <stddef.h>

/* The whole file in a malloc'd buffer (free it), its size in *len; NULL
 * if it cannot be read. */
char *test_read_file(const char *path, size_t *len);

#endif
