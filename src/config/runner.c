/* runner (config side): reads a models entry of type command, llama-cpp,
 * ollama, vllm or docker into an lln_runner_spec: a preset fills the
 * command and health path, each overridable; values are substituted at
 * load except the runner variables $PORT and $MODEL; a missing program or
 * model file is a warning at validate and an error at run, with a hint on
 * installing it (llmnet never downloads anything). */
#include "config/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/keys.h"
#include "config/loader_int.h"
#include "config/subst_int.h"
#include "config/url_int.h"
#include "util/xalloc.h"

typedef struct preset {
  const char *type;
  const char *const *command; /* NULL-terminated */
  const char *env;            /* one "NAME=value", or NULL */
  const char *health;
  int needs_model; /* 1: "model" required; 2: and it is a file */
  const char *hint;
} preset;

static const char *const CMD_LLAMA[] = {"llama-server", "-m",     "$MODEL", "--host",
                                        "127.0.0.1",    "--port", "$PORT",  NULL};
static const char *const CMD_OLLAMA[] = {"ollama", "serve", NULL};
static const char *const CMD_VLLM[] = {"vllm",      "serve",  "$MODEL", "--host",
                                       "127.0.0.1", "--port", "$PORT",  NULL};

static const preset PRESETS[] = {
    {"command", NULL, NULL, "/health", 0, "check the path, or install the program"},
    {"llama-cpp", CMD_LLAMA, NULL, "/health", 2,
     "llama-server is part of llama.cpp: `apt install llama.cpp` (Debian 13 and later) or a release from "
     "https://github.com/ggml-org/llama.cpp/releases; or set \"command\" to where it is"},
    {"ollama", CMD_OLLAMA, "OLLAMA_HOST=127.0.0.1:$PORT", "/api/version", 0,
     "install Ollama from https://ollama.com/download, then `ollama pull MODEL` yourself"},
    {"vllm", CMD_VLLM, NULL, "/health", 1, "`pip install vllm` (most models need a GPU)"},
    {"docker", NULL, NULL, "/health", 0, "`apt install podman` (or docker.io)"},
};

int lln_runner_type(const char *type) {
  if (!type)
    return 0;
  for (size_t i = 0; i < sizeof PRESETS / sizeof *PRESETS; i++) {
    if (strcmp(PRESETS[i].type, type) == 0)
      return 1;
  }
  return 0;
}

static const preset *preset_of(const char *type) {
  for (size_t i = 0; i < sizeof PRESETS / sizeof *PRESETS; i++) {
    if (strcmp(PRESETS[i].type, type) == 0)
      return &PRESETS[i];
  }
  return NULL;
}

/* ---- runner variables ---- */

static int var_at(const char *s, const char *name, size_t *len) {
  size_t n = strlen(name);
  if (strncmp(s, name, n) == 0 && !(s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') ||
                                    (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9'))) {
    *len = n;
    return 1;
  }
  if (s[0] == '{' && strncmp(s + 1, name, n) == 0 && s[n + 1] == '}') {
    *len = n + 2;
    return 1;
  }
  return 0;
}

char *lln_runner_expand(const char *s, int port, const char *model) {
  lln_buf out;
  lln_buf_init(&out);
  for (const char *p = s; *p;) {
    size_t len;
    if (p[0] == '$' && p[1] == '$') {
      lln_buf_append(&out, p, 2);
      p += 2;
    } else if (p[0] == '$' && var_at(p + 1, "PORT", &len)) {
      lln_buf_printf(&out, "%d", port);
      p += 1 + len;
    } else if (p[0] == '$' && var_at(p + 1, "MODEL", &len)) {
      lln_buf_puts(&out, model ? model : "");
      p += 1 + len;
    } else {
      lln_buf_putc(&out, *p++);
    }
  }
  /* the literal $ of "$$": one now */
  lln_buf fin;
  lln_buf_init(&fin);
  for (size_t i = 0; i < out.len; i++) {
    lln_buf_putc(&fin, out.data[i]);
    if (out.data[i] == '$' && i + 1 < out.len && out.data[i + 1] == '$')
      i++;
  }
  lln_buf_free(&out);
  return lln_buf_steal(&fin);
}

/* ---- substitution at load, the runner variables kept ---- */

typedef struct keep_ctx {
  lln_loader *L;
} keep_ctx;

static const char *lookup_keep(void *ctx, const char *name) {
  keep_ctx *k = ctx;
  if (strcmp(name, "PORT") == 0)
    return "$PORT";
  if (strcmp(name, "MODEL") == 0)
    return "$MODEL";
  return lln_loader_lookup(k->L, name);
}

static char *subst_keep(lln_loader *L, const char *value, const char *path, const char *what) {
  keep_ctx k = {L};
  lln_buf out;
  lln_buf_init(&out);
  char missing[256];
  if (lln_subst(value, lookup_keep, &k, &out, missing, sizeof missing) != 0) {
    int run = L->opts->mode == LLN_LOAD_RUN;
    lln_loader_report(L, run ? LLN_DIAG_ERROR : LLN_DIAG_WARNING, path, "%s uses $%s, which is not set%s",
                      what, missing,
                      strncmp(missing, "secrets.", 8) == 0 ? " (no such secret is loaded)"
                                                           : " (export it or pass --env-file FILE)");
  }
  /* a "$$" in the file came out as one '$': keep it doubled for expand */
  lln_buf dbl;
  lln_buf_init(&dbl);
  for (size_t i = 0; i < out.len; i++) {
    int is_var = out.data[i] == '$' &&
                 (strncmp(out.data + i, "$PORT", 5) == 0 || strncmp(out.data + i, "$MODEL", 6) == 0);
    lln_buf_putc(&dbl, out.data[i]);
    if (out.data[i] == '$' && !is_var)
      lln_buf_putc(&dbl, '$');
  }
  lln_buf_free(&out);
  return lln_buf_steal(&dbl);
}

/* ---- reading ---- */

typedef struct strv {
  char **v;
  size_t n;
} strv;

static void strv_push(strv *s, char *str) {
  char **v = realloc(s->v, (s->n + 2) * sizeof *v);
  if (!v)
    abort();
  s->v = v;
  s->v[s->n++] = str;
  s->v[s->n] = NULL;
}

/* An array of strings ("command", "args"), each substituted. */
static void read_args(lln_loader *L, const cJSON *m, const char *key, const char *mkey, const char *path,
                      strv *out) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, key);
  if (!a)
    return;
  char p[600], what[300];
  snprintf(p, sizeof p, "%s/%s", path, key);
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > LLN_RUNNER_MAX_ARGS) {
    lln_loader_report(L, LLN_DIAG_ERROR, p, "model \"%s\": \"%s\" must be an array of at most %d strings",
                      mkey, key, LLN_RUNNER_MAX_ARGS);
    return;
  }
  const cJSON *s;
  cJSON_ArrayForEach(s, a) {
    if (!cJSON_IsString(s)) {
      lln_loader_report(L, LLN_DIAG_ERROR, p, "model \"%s\": every item of \"%s\" must be a string", mkey,
                        key);
      continue;
    }
    snprintf(what, sizeof what, "model \"%s\": %s", mkey, key);
    strv_push(out, subst_keep(L, s->valuestring, p, what));
  }
}

static void read_env(lln_loader *L, const cJSON *m, const char *mkey, const char *path, strv *out) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "env");
  if (!e)
    return;
  char p[600], what[300];
  snprintf(p, sizeof p, "%s/env", path);
  if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) > LLN_RUNNER_MAX_ENV) {
    lln_loader_report(L, LLN_DIAG_ERROR, p, "model \"%s\": \"env\" must be an object of at most %d strings",
                      mkey, LLN_RUNNER_MAX_ENV);
    return;
  }
  const cJSON *v;
  cJSON_ArrayForEach(v, e) {
    if (!cJSON_IsString(v) || !*v->string || strchr(v->string, '=')) {
      lln_loader_report(L, LLN_DIAG_ERROR, p,
                        "model \"%s\": env \"%s\" must be a string (a name without '=')", mkey, v->string);
      continue;
    }
    snprintf(what, sizeof what, "model \"%s\": env %s", mkey, v->string);
    char *val = subst_keep(L, v->valuestring, p, what);
    lln_buf kv;
    lln_buf_init(&kv);
    lln_buf_printf(&kv, "%s=%s", v->string, val);
    free(val);
    strv_push(out, lln_buf_steal(&kv));
  }
}

/* The program's path when it can be run: in PATH, or as written when it
 * has a '/'. */
static int program_found(const char *prog) {
  if (!*prog)
    return 0;
  if (strchr(prog, '/'))
    return access(prog, X_OK) == 0;
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  char buf[4096];
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t n = colon ? (size_t)(colon - path) : strlen(path);
    snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? path : ".", prog);
    if (access(buf, X_OK) == 0)
      return 1;
    path += n + (colon ? 1 : 0);
  }
  return 0;
}

/* The docker preset's command line: ENGINE run ... IMAGE ARGS. */
static void docker_command(lln_loader *L, lln_runner_spec *r, const char *mkey, const cJSON *m,
                           const char *path, strv *cmd, strv *env) {
  const char *engine = lln_loader_string(L, m, "engine", path);
  if (engine && strcmp(engine, "docker") != 0 && strcmp(engine, "podman") != 0)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": \"engine\" is \"docker\" or \"podman\"", mkey);
  if (!engine)
    engine = program_found("docker") || !program_found("podman") ? "docker" : "podman";
  r->engine = lln_xstrdup(engine);
  const char *image = lln_loader_string(L, m, "image", path);
  if (!image) {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": type \"docker\" needs an \"image\" serving the OpenAI API", mkey);
    image = "";
  }
  int cport = LLN_RUNNER_CONTAINER_PORT;
  const cJSON *cp = cJSON_GetObjectItemCaseSensitive(m, "container-port");
  if (cp && (!cJSON_IsNumber(cp) || cp->valuedouble < 1 || cp->valuedouble > 65535))
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": \"container-port\" must be a port (1-65535)",
                      mkey);
  else if (cp)
    cport = cp->valueint;
  lln_buf b;
  lln_buf_init(&b);
  lln_buf_printf(&b, "llmnet-%s", mkey);
  for (size_t i = 0; i < b.len; i++) { /* a container name is [a-zA-Z0-9_.-] */
    char c = b.data[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      b.data[i] = '-';
  }
  r->container = lln_buf_steal(&b);
  strv_push(cmd, lln_xstrdup(engine));
  strv_push(cmd, lln_xstrdup("run"));
  strv_push(cmd, lln_xstrdup("--rm"));
  strv_push(cmd, lln_xstrdup("--name"));
  strv_push(cmd, lln_xstrdup(r->container));
  strv_push(cmd, lln_xstrdup("--label"));
  lln_buf_init(&b);
  lln_buf_printf(&b, "llmnet.runner=%s", r->container);
  strv_push(cmd, lln_buf_steal(&b));
  strv_push(cmd, lln_xstrdup("-p"));
  lln_buf_init(&b);
  lln_buf_printf(&b, "127.0.0.1:$PORT:%d", cport);
  strv_push(cmd, lln_buf_steal(&b));
  for (size_t i = 0; i < env->n; i++) { /* "env" goes into the container */
    strv_push(cmd, lln_xstrdup("-e"));
    strv_push(cmd, env->v[i]);
  }
  free(env->v);
  env->v = NULL;
  env->n = 0;
  strv_push(cmd, subst_keep(L, image, path, "image"));
}

/* A missing program or model file: a warning at validate, an error at run. */
static void check_installed(lln_loader *L, const lln_runner_spec *r, const preset *p, const char *mkey,
                            const char *path) {
  lln_diag_severity sev = L->opts->mode == LLN_LOAD_RUN ? LLN_DIAG_ERROR : LLN_DIAG_WARNING;
  const char *prog = r->argv && r->argv[0] ? r->argv[0] : "";
  if (!program_found(prog))
    lln_loader_report(L, sev, path, "model \"%s\": the program \"%s\" is not found%s; %s", mkey, prog,
                      strchr(prog, '/') ? "" : " in PATH", p->hint);
  if (p->needs_model == 2 && r->model && access(r->model, R_OK) != 0)
    lln_loader_report(
        L, sev, path,
        "model \"%s\": the model file \"%s\" does not exist or cannot be read; download a GGUF "
        "file yourself (for instance from https://huggingface.co) and set \"model\" to its path "
        "(llmnet never downloads models)",
        mkey, r->model);
}

static void fingerprint(lln_runner_spec *r) {
  lln_buf b;
  lln_buf_init(&b);
  for (char **a = r->argv; a && *a; a++)
    lln_buf_printf(&b, "a:%s\x1f", *a);
  for (char **e = r->env; e && *e; e++)
    lln_buf_printf(&b, "e:%s\x1f", *e);
  lln_buf_printf(&b, "c:%s\x1fh:%s\x1fm:%s\x1ft:%ld", r->cwd ? r->cwd : "", r->health,
                 r->model ? r->model : "", r->startup_timeout_ms);
  r->fingerprint = lln_buf_steal(&b);
}

/* The entry's own address: the port changes at each start, so the URL
 * kept here says $PORT and a call asks the supervisor for the port. */
static void runner_url(lln_model *model) {
  model->url = lln_xstrdup("http://127.0.0.1:$PORT/v1");
  model->chat_url = lln_url_chat_completions("http://127.0.0.1:0/v1");
  model->embeddings_url = lln_url_embeddings("http://127.0.0.1:0/v1");
}

void lln_loader_model_runner(lln_loader *L, lln_model *model, const cJSON *m, const char *path) {
  const char *mkey = model->key;
  const preset *p = preset_of(model->type);
  if (cJSON_GetObjectItemCaseSensitive(m, "url"))
    lln_loader_report(
        L, LLN_DIAG_ERROR, path,
        "model \"%s\": a runner (type \"%s\") has no \"url\": llmnet starts it and gives it its "
        "own address; remove \"url\", or use type \"external\" for a server you run yourself",
        mkey, model->type);
  lln_runner_spec *r = calloc(1, sizeof *r);
  if (!r)
    abort();
  model->runner = r;
  runner_url(model);
  const char *mv = lln_loader_string(L, m, "model", path);
  if (mv)
    r->model = lln_loader_substitute(L, mv, path, "model");
  else if (p->needs_model)
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": type \"%s\" needs \"model\" (%s)", mkey,
                      model->type, p->needs_model == 2 ? "the path of a GGUF file" : "a model name or path");
  strv cmd = {0}, env = {0}, args = {0};
  read_env(L, m, mkey, path, &env);
  read_args(L, m, "command", mkey, path, &cmd);
  read_args(L, m, "args", mkey, path, &args);
  if (!cmd.n && strcmp(model->type, "docker") == 0) {
    docker_command(L, r, mkey, m, path, &cmd, &env);
  } else if (!cmd.n && p->command) {
    for (size_t i = 0; p->command[i]; i++)
      strv_push(&cmd, lln_xstrdup(p->command[i]));
  } else if (!cmd.n) {
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": type \"command\" needs \"command\": [\"program\", "
                      "\"arg\", ...] with $PORT where it listens",
                      mkey);
  }
  for (size_t i = 0; i < args.n; i++)
    strv_push(&cmd, args.v[i]);
  free(args.v);
  if (p->env && !cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "env"), "OLLAMA_HOST"))
    strv_push(&env, lln_xstrdup(p->env));
  r->argv = cmd.v ? cmd.v : calloc(1, sizeof(char *));
  r->env = env.v ? env.v : calloc(1, sizeof(char *));
  const char *cwd = lln_loader_string(L, m, "cwd", path);
  r->cwd = cwd ? lln_loader_substitute(L, cwd, path, "cwd") : NULL;
  const char *health = lln_loader_string(L, m, "health", path);
  if (health && health[0] != '/')
    lln_loader_report(L, LLN_DIAG_ERROR, path, "model \"%s\": \"health\" is a path starting with '/'", mkey);
  r->health = lln_xstrdup(health ? health : p->health);
  r->startup_timeout_ms = LLN_RUNNER_STARTUP_TIMEOUT_S * 1000L;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "startup-timeout");
  if (st && (!cJSON_IsNumber(st) || st->valuedouble <= 0 || st->valuedouble > 3600))
    lln_loader_report(L, LLN_DIAG_ERROR, path,
                      "model \"%s\": \"startup-timeout\" must be a number of seconds between 0 and 3600",
                      mkey);
  else if (st)
    r->startup_timeout_ms = (long)(st->valuedouble * 1000.0);
  check_installed(L, r, p, mkey, path);
  fingerprint(r);
}

/* ---- showing ---- */

static void quoted(lln_buf *out, const char *s) {
  if (*s && !strpbrk(s, " \t\n'\"\\;&|<>()*?!#~`")) {
    lln_buf_puts(out, s);
    return;
  }
  lln_buf_putc(out, '\'');
  for (; *s; s++) {
    if (*s == '\'')
      lln_buf_puts(out, "'\\''");
    else
      lln_buf_putc(out, *s);
  }
  lln_buf_putc(out, '\'');
}

void lln_runner_describe(const lln_runner_spec *spec, lln_buf *out) {
  for (char **e = spec->env; e && *e; e++) {
    quoted(out, *e);
    lln_buf_putc(out, ' ');
  }
  for (char **a = spec->argv; a && *a; a++) {
    if (a != spec->argv)
      lln_buf_putc(out, ' ');
    quoted(out, *a);
  }
  lln_buf_printf(out, " (health %s", spec->health);
  if (spec->cwd)
    lln_buf_printf(out, ", cwd %s", spec->cwd);
  if (spec->model)
    lln_buf_printf(out, ", $MODEL %s", spec->model);
  lln_buf_puts(out, ")");
}

void lln_runner_spec_free(lln_runner_spec *spec) {
  if (!spec)
    return;
  lln_strv_free(spec->argv);
  lln_strv_free(spec->env);
  free(spec->cwd);
  free(spec->health);
  free(spec->model);
  free(spec->engine);
  free(spec->container);
  free(spec->fingerprint);
  free(spec);
}
