/* mask: shown forms of secrets for dry-run, validate and logs. */
#include "util/mask.h"

#include <stdio.h>
#include <string.h>

void lln_mask_secret(const char *secret, char *out, size_t out_size) {
  size_t n = secret ? strlen(secret) : 0;
  if (n >= 16)
    snprintf(out, out_size, "%.3s\xe2\x80\xa6%s", secret, secret + n - 4);
  else if (n > 0)
    snprintf(out, out_size, "\xe2\x80\xa6");
  else
    snprintf(out, out_size, "(none)");
}
