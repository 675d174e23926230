/* vault: reading one secret from a HashiCorp Vault KV v2 engine over its HTTP
 * API, with one blocking libcurl easy request (see vault_int.h). */
#include "config/vault_int.h"

#include "config/config.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#define VAULT_MAX_BODY (1024 * 1024)
#define VAULT_CONNECT_TIMEOUT_MS 5000L
#define VAULT_TIMEOUT_MS 10000L

/* Set once llmnet stops: reads in progress notice it in libcurl's progress
 * callback (called at least once a second while waiting). */
static atomic_int cancelled;

void lln_vault_cancel_reads(void) { atomic_store(&cancelled, 1); }

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  (void)ud, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return atomic_load(&cancelled) ? 1 : 0;
}

typedef struct body {
  lln_buf buf;
  int too_large;
} body;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  body *b = ud;
  size_t len = size * n;
  if (b->buf.len + len > VAULT_MAX_BODY) {
    b->too_large = 1;
    return 0;
  }
  lln_buf_append(&b->buf, ptr, len);
  return len;
}

/* Wipes a buffer that held the token before freeing it. */
static void wipe_free(lln_buf *b) {
  if (b->data)
    memset(b->data, 0, b->cap);
  lln_buf_free(b);
}

/* ADDRESS/v1/PATH with exactly one '/' at each join. */
static void build_url(lln_buf *url, const char *address, const char *path) {
  size_t alen = strlen(address);
  while (alen > 0 && address[alen - 1] == '/')
    alen--;
  while (*path == '/')
    path++;
  lln_buf_append(url, address, alen);
  lln_buf_puts(url, "/v1/");
  lln_buf_puts(url, path);
}

/* Vault's own explanation of a failed request ({"errors": ["..."]}), when it
 * gave one and it does not contain the token. */
static void vault_errors(const char *text, const char *token, char *out, size_t out_size) {
  out[0] = '\0';
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
  const cJSON *first = cJSON_GetArrayItem(errors, 0);
  if (cJSON_IsString(first) && first->valuestring[0] && !(token[0] && strstr(first->valuestring, token)))
    snprintf(out, out_size, ": %.200s", first->valuestring);
  cJSON_Delete(root);
}

/* 1 when a JSON string in `text` holds the escape \u0000: cJSON would cut
 * the value there without a word, so such an answer is refused. */
static int has_nul_escape(const char *text) {
  int in_string = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '"') {
      in_string = !in_string;
    } else if (in_string && *p == '\\') {
      if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
        return 1;
      if (p[1])
        p++; /* the escaped character is not a quote or a backslash of its own */
    }
  }
  return 0;
}

static cJSON *parse_kv2(const char *text, const char *path, char *err, size_t err_size) {
  if (text && has_nul_escape(text)) {
    snprintf(err, err_size,
             "vault's answer for \"%s\" holds a NUL character (\\u0000) in a value, which would cut it; fix "
             "the secret in vault",
             path);
    return NULL;
  }
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  if (!root) {
    snprintf(err, err_size, "vault's answer for \"%s\" is not JSON", path);
    return NULL;
  }
  cJSON *outer = cJSON_GetObjectItemCaseSensitive(root, "data");
  cJSON *inner = cJSON_IsObject(outer) ? cJSON_GetObjectItemCaseSensitive(outer, "data") : NULL;
  if (!cJSON_IsObject(inner)) {
    snprintf(err, err_size,
             "vault's answer for \"%s\" is not a KV v2 read (no data.data object); a KV v2 path reads "
             "MOUNT/data/NAME, e.g. \"secret/data/llmnet\"",
             path);
    cJSON_Delete(root);
    return NULL;
  }
  cJSON *kv = cJSON_DetachItemViaPointer(outer, inner);
  cJSON_Delete(root);
  return kv;
}

cJSON *lln_vault_read(const char *address, const char *path, const char *token, char *err, size_t err_size) {
  if (atomic_load(&cancelled)) {
    snprintf(err, err_size, "the read from vault at %s was cancelled: llmnet is stopping", address);
    return NULL;
  }
  if (strncasecmp(address, "http://", 7) != 0 && strncasecmp(address, "https://", 8) != 0) {
    snprintf(err, err_size, "address \"%s\" is not an http:// or https:// URL", address);
    return NULL;
  }
  if (strpbrk(token, "\r\n")) {
    snprintf(err, err_size, "the token contains a line break");
    return NULL;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, err_size, "cannot initialise libcurl");
    return NULL;
  }
  CURL *easy = curl_easy_init();
  if (!easy) {
    curl_global_cleanup();
    snprintf(err, err_size, "cannot initialise libcurl");
    return NULL;
  }
  lln_buf url, header;
  lln_buf_init(&url);
  lln_buf_init(&header);
  build_url(&url, address, path);
  lln_buf_printf(&header, "X-Vault-Token: %s", token);
  struct curl_slist *headers = curl_slist_append(NULL, header.data);
  headers = headers ? curl_slist_append(headers, "Accept: application/json") : NULL;
  wipe_free(&header);
  body b = {0};
  lln_buf_init(&b.buf);
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(easy, CURLOPT_URL, url.data);
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "llmnet/" LLN_VERSION);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); /* never send the token elsewhere */
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, VAULT_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, VAULT_TIMEOUT_MS);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
  CURLcode rc = headers ? curl_easy_perform(easy) : CURLE_OUT_OF_MEMORY;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers); /* the slist's copy of the header is freed unwiped: libcurl owns it */
  curl_global_cleanup();

  cJSON *kv = NULL;
  char detail[256];
  if (b.too_large) {
    snprintf(err, err_size, "vault's answer for \"%s\" is larger than %d bytes", path, VAULT_MAX_BODY);
  } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
    snprintf(err, err_size, "the read from vault at %s was cancelled: llmnet is stopping", address);
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    snprintf(err, err_size, "vault at %s did not answer in time: %s", address,
             errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else if (rc != CURLE_OK) {
    snprintf(err, err_size, "cannot reach vault at %s: %s", address,
             errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else if (status == 403) {
    snprintf(err, err_size, "permission denied: check the token (vault answered 403 for \"%s\")", path);
  } else if (status == 404) {
    snprintf(err, err_size, "no secret at \"%s\" (vault at %s answered 404)", path, address);
  } else if (status >= 300 && status < 400) {
    snprintf(
        err, err_size,
        "vault answered HTTP %ld for \"%s\" (a redirect, not followed: point address at the active node)",
        status, path);
  } else if (status != 200) {
    vault_errors(b.buf.data, token, detail, sizeof detail);
    snprintf(err, err_size, "vault answered HTTP %ld for \"%s\"%s", status, path, detail);
  } else {
    kv = parse_kv2(b.buf.data, path, err, err_size);
  }
  wipe_free(&b.buf);
  lln_buf_free(&url);
  return kv;
}

char *lln_vault_text(const cJSON *value) {
  if (cJSON_IsString(value))
    return strdup(value->valuestring);
  if (cJSON_IsBool(value))
    return strdup(cJSON_IsTrue(value) ? "true" : "false");
  if (cJSON_IsNumber(value))
    return cJSON_PrintUnformatted(value);
  return NULL;
}
