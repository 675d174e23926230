/* fuzz_config: the composition loader. Composition files are written by
 * hand and passed to `llmnet validate` as they are, so every byte sequence
 * must end in diagnostics, never in a crash or a leak.
 *
 * An input is a composition, optionally followed by a line "#ENV" and a
 * dotenv file. The composition goes through the JSONC parser
 * (src/config/jsonc.h) directly, with position lookups of a few paths the
 * loader asks for, and then through the whole loader (src/config/config.h)
 * in validate mode, which reads a path: one temp directory per process,
 * created in LLVMFuzzerInitialize, holds composition.jsonc and fuzz.env,
 * rewritten on every input. The dotenv part is parsed directly
 * (src/config/envfile_int.h), is the loader's --env-file when present, and is
 * what an env-file secret with "path": "fuzz.env" reads. A loaded
 * composition is described (the --dry-run text).
 *
 * Invariants: a failed load reports an error and a successful one does not;
 * and secret values never appear in diagnostics or the description (the
 * documented promise): no value of the dotenv part that looks like a secret
 * (8+ bytes, no spaces, not written in the composition itself nor part of
 * the temp paths, which diagnostics print) may show up in either. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/describe.h"
#include "config/diag.h"
#include "config/envfile_int.h"
#include "config/jsonc.h"

#define ENV_MARKER "\n#ENV\n"

static char dir_path[] = "/tmp/lln-fuzz-config-XXXXXX";
static char comp_path[sizeof dir_path + 32];
static char env_path[sizeof dir_path + 32];
static int comp_fd = -1, env_fd = -1;

static void remove_tmp(void) {
  if (comp_fd >= 0)
    close(comp_fd);
  if (env_fd >= 0)
    close(env_fd);
  unlink(comp_path);
  unlink(env_path);
  rmdir(dir_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (!mkdtemp(dir_path)) {
    perror("fuzz_config: temp dir");
    abort();
  }
  snprintf(comp_path, sizeof comp_path, "%s/composition.jsonc", dir_path);
  snprintf(env_path, sizeof env_path, "%s/fuzz.env", dir_path);
  comp_fd = open(comp_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  env_fd = open(env_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (comp_fd < 0 || env_fd < 0) {
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

static void write_file(int fd, const uint8_t *data, size_t size) {
  if (ftruncate(fd, 0) != 0)
    abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
    if (n <= 0)
      abort();
    done += (size_t)n;
  }
}

/* A dotenv value worth guarding: long enough not to occur by chance in a
 * message, and not something the composition (or the temp path) shows. */
static int secret_like(const char *v, const uint8_t *comp, size_t comp_len) {
  size_t n = strlen(v);
  if (n < 8 || strpbrk(v, " \t\r\n"))
    return 0;
  return !memmem(comp, comp_len, v, n) && !strstr(comp_path, v) && !strstr(env_path, v);
}

static void check_no_secret(const char *text, size_t len, const lln_envfile *env, const uint8_t *comp,
                            size_t comp_len, const char *where) {
  for (size_t i = 0; i < env->count; i++) {
    const char *v = env->entries[i].value;
    if (secret_like(v, comp, comp_len) && memmem(text, len, v, strlen(v))) {
      fprintf(stderr, "fuzz_config: the value of %s shows in %s:\n%.*s\n", env->entries[i].key, where,
              (int)len, text);
      abort();
    }
  }
}

/* Prints the description of cfg or the diagnostics into memory and checks
 * that no secret shows. */
static void render(const lln_config *cfg, const lln_diags *diags, const lln_envfile *env, const uint8_t *comp,
                   size_t comp_len) {
  char *out = NULL;
  size_t out_len = 0;
  FILE *f = open_memstream(&out, &out_len);
  if (!f)
    abort();
  if (cfg)
    lln_config_describe(cfg, "127.0.0.1", 8080, f);
  else
    lln_diags_print(diags, f);
  fclose(f);
  check_no_secret(out, out_len, env, comp, comp_len, cfg ? "the --dry-run description" : "the diagnostics");
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *bytes = data;
  const uint8_t *marker = memmem(bytes, size, ENV_MARKER, sizeof ENV_MARKER - 1);
  size_t comp_len = marker ? (size_t)(marker - bytes) : size;
  const uint8_t *env_text = marker ? marker + sizeof ENV_MARKER - 1 : bytes + size;
  size_t env_len = (size_t)(bytes + size - env_text);

  fuzz_jsonc(bytes, comp_len);

  lln_envfile env = {0};
  char err[512];
  if (lln_envfile_parse(&env, (const char *)env_text, env_len, err, sizeof err) != 0) {
    if (!memchr(err, '\0', sizeof err) || env.count != 0)
      abort();
  }

  write_file(comp_fd, bytes, comp_len);
  write_file(env_fd, env_text, env_len);
  lln_config cfg;
  lln_diags diags;
  lln_diags_init(&diags, comp_path);
  lln_load_options opts = {.mode = LLN_LOAD_VALIDATE, .env_file = marker ? env_path : NULL};
  int rc = lln_config_load(&cfg, comp_path, &opts, &diags);

  if (rc == 0) {
    if (diags.errors)
      abort();
    render(&cfg, NULL, &env, bytes, comp_len);
  } else if (diags.errors == 0) {
    abort(); /* a failed load must say why */
  }
  render(NULL, &diags, &env, bytes, comp_len);

  lln_config_free(&cfg); /* already freed after a failure; freeing again must be harmless */
  lln_diags_free(&diags);
  lln_envfile_free(&env);
  return 0;
}
