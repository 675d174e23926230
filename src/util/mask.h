/* mask: how a secret may be shown: its first three and last four characters
 * when it is long enough to keep the rest hidden, else nothing of it. */
#ifndef LLN_UTIL_MASK_H
#define LLN_UTIL_MASK_H

#include <stddef.h>

void lln_mask_secret(const char *secret, char *out, size_t out_size);

#endif
