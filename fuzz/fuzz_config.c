/* fuzz_config: the composition loader. Composition files are written by
 * hand and passed to `llmnet validate` as they are, so every byte sequence
 * must end in diagnostics, never in a crash or a leak. Each input goes
 * through the JSONC parser (src/config/jsonc.h) directly, with position
 * lookups of a few paths the loader asks for, and then through the whole
 * loader (src/config/config.h) in validate mode, which reads a path: the
 * bytes are written to one temp file per process, created in
 * LLVMFuzzerInitialize and rewritten on every input. A loaded composition is
 * also described (the --dry-run text) into /dev/null. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/describe.h"
#include "config/diag.h"
#include "config/jsonc.h"

static char tmp_path[] = "/tmp/lln-fuzz-config-XXXXXX";
static int tmp_fd = -1;
static FILE *devnull;

static void remove_tmp(void) {
  if (tmp_fd >= 0) {
    close(tmp_fd);
    unlink(tmp_path);
    tmp_fd = -1;
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  tmp_fd = mkstemp(tmp_path);
  devnull = fopen("/dev/null", "w");
  if (tmp_fd < 0 || !devnull) {
    perror("fuzz_config: temp file");
    abort();
  }
  atexit(remove_tmp);
  return 0;
}

static const char *const positions[] = {"",
                                        "/models",
                                        "/architecture",
                                        "/architecture/0",
                                        "/architecture/0/if",
                                        "/architecture/1/output-to/0",
                                        "/server/port",
                                        "/a~1b",
                                        "/~0",
                                        "/x/"};

static void fuzz_jsonc(const uint8_t *data, size_t size) {
  lln_jsonc_doc doc;
  memset(&doc, 0, sizeof doc);
  char err[512];
  if (lln_jsonc_parse(&doc, (const char *)data, size, err, sizeof err) != 0) {
    if (!memchr(err, '\0', sizeof err))
      abort();
    lln_jsonc_free(&doc); /* documented as safe on a failed parse */
    return;
  }
  if (!doc.root || !doc.text || doc.text[doc.text_len] != '\0')
    abort();
  for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
    int line = 0, col = 0;
    if (lln_jsonc_position(&doc, positions[i], &line, &col) == 0 && (line < 1 || col < 1))
      abort();
  }
  lln_jsonc_free(&doc);
  lln_jsonc_free(&doc); /* and on an already freed one */
}

static void write_tmp(const uint8_t *data, size_t size) {
  if (ftruncate(tmp_fd, 0) != 0)
    abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(tmp_fd, data + done, size - done, (off_t)done);
    if (n <= 0)
      abort();
    done += (size_t)n;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_jsonc(data, size);

  write_tmp(data, size);
  lln_config cfg;
  lln_diags diags;
  lln_diags_init(&diags, tmp_path);
  lln_load_options opts = {.mode = LLN_LOAD_VALIDATE, .env_file = NULL};
  int rc = lln_config_load(&cfg, tmp_path, &opts, &diags);
  if (rc == 0) {
    if (diags.errors)
      abort();
    lln_config_describe(&cfg, "127.0.0.1", 8080, devnull);
  } else if (diags.errors == 0) {
    abort(); /* a failed load must say why */
  }
  lln_diags_print(&diags, devnull);
  lln_config_free(&cfg); /* already freed after a failure; freeing again must be harmless */
  lln_diags_free(&diags);
  return 0;
}
