/*
 * config.h: effective settings.
 *
 * Each setting is resolved, highest first, from a command-line flag
 * (`-c key=value` or a dedicated flag), the environment (APFLOW_* and the
 * standard names such as AWS_ACCESS_KEY_ID or motherduck_token), the
 * optional config file (`apflow.conf`, `key = value` lines, # comments), and
 * the built-in default.  The struct remembers where each value came from so
 * that `apflow config` can say it.  Secret values are never printed: use
 * apf_config_display() for anything shown to a person.
 */
#ifndef APFLOW_CONFIG_H
#define APFLOW_CONFIG_H

#include <stdint.h>

#include "apflow/err.h"

enum apf_config_source {
	APF_SRC_DEFAULT = 0,
	APF_SRC_FILE,
	APF_SRC_ENV,
	APF_SRC_FLAG,
};

/* The known keys; see config.c for names, environment variables and defaults. */
#define APF_CONFIG_KEYS(X)                                                                    \
	X(DATA_DIR, "data_dir", 0, "./data", "directory of the local warehouse files", "APFLOW_DATA_DIR", NULL) \
	X(STORE, "store", 0, NULL, "object store root: file://DIR or s3://BUCKET[/PREFIX] (default file://<data_dir>/lake)", "APFLOW_STORE", NULL) \
	X(WAREHOUSE, "warehouse", 0, "local", "local (DuckDB files in data_dir) or motherduck", "APFLOW_WAREHOUSE", NULL) \
	X(MOTHERDUCK_TOKEN, "motherduck_token", 1, NULL, "MotherDuck access token", "motherduck_token", "MOTHERDUCK_TOKEN") \
	X(LOCK_TIMEOUT, "lock_timeout", 0, "60", "seconds to wait for a warehouse file held by another process", "APFLOW_LOCK_TIMEOUT", NULL) \
	X(S3_ENDPOINT, "s3_endpoint", 0, NULL, "S3 endpoint URL (R2, MinIO); empty means AWS", "AWS_ENDPOINT_URL", "APFLOW_S3_ENDPOINT") \
	X(S3_REGION, "s3_region", 0, "us-east-1", "S3 region (R2: auto)", "AWS_REGION", "AWS_DEFAULT_REGION") \
	X(S3_ACCESS_KEY_ID, "s3_access_key_id", 1, NULL, "S3 access key id", "AWS_ACCESS_KEY_ID", NULL) \
	X(S3_SECRET_ACCESS_KEY, "s3_secret_access_key", 1, NULL, "S3 secret access key", "AWS_SECRET_ACCESS_KEY", NULL) \
	X(S3_SESSION_TOKEN, "s3_session_token", 1, NULL, "S3 session token (temporary credentials)", "AWS_SESSION_TOKEN", NULL) \
	X(S3_PATH_STYLE, "s3_path_style", 0, "auto", "path-style S3 URLs: yes, no or auto (yes when an endpoint is set)", "APFLOW_S3_PATH_STYLE", NULL) \
	X(S3_MULTIPART_MB, "s3_multipart_mb", 0, "16", "upload in parts above this size, in MiB (part size too)", "APFLOW_S3_MULTIPART_MB", NULL) \
	X(S3_RETRIES, "s3_retries", 0, "4", "retries on 5xx, timeouts and resets", "APFLOW_S3_RETRIES", NULL) \
	X(S3_TIMEOUT, "s3_timeout", 0, "60", "seconds without progress before a request is abandoned", "APFLOW_S3_TIMEOUT", NULL) \
	X(ARGILLA_API_URL, "argilla_api_url", 0, "http://localhost:6900", "Argilla server URL", "ARGILLA_API_URL", NULL) \
	X(ARGILLA_API_KEY, "argilla_api_key", 1, NULL, "Argilla API key", "ARGILLA_API_KEY", NULL) \
	X(ARGILLA_WORKSPACE, "argilla_workspace", 0, "argilla", "Argilla workspace name", "ARGILLA_WORKSPACE", "APFLOW_ARGILLA_WORKSPACE") \
	X(OLLAMA_URL, "ollama_url", 0, "http://localhost:11434", "Ollama server URL", "APFLOW_OLLAMA_URL", "OLLAMA_HOST") \
	X(OLLAMA_MODEL, "ollama_model", 0, "llama3.3:70b", "model 'apflow preannotate --engine ollama' asks", "APFLOW_OLLAMA_MODEL", NULL) \
	X(OLLAMA_TIMEOUT, "ollama_timeout", 0, "300", "seconds without an answer before an Ollama request is retried", "APFLOW_OLLAMA_TIMEOUT", NULL) \
	X(OLLAMA_DEADLINE, "ollama_deadline", 0, "900", "seconds one Ollama request may take with all its retries", "APFLOW_OLLAMA_DEADLINE", NULL) \
	X(OLLAMA_RETRIES, "ollama_retries", 0, "4", "retries of an Ollama request (429, 5xx, timeouts, resets)", "APFLOW_OLLAMA_RETRIES", NULL) \
	X(OLLAMA_NUM_CTX, "ollama_num_ctx", 0, "8192", "context length sent with every Ollama request (options.num_ctx)", "APFLOW_OLLAMA_NUM_CTX", NULL) \
	X(DATASET_PATTERN, "dataset_pattern", 0, "vessels_ocr_[a-z0-9_]+", "regular expression (PCRE2, whole name) every dataset name must match", "APFLOW_DATASET_PATTERN", NULL) \
	X(DEEPSEEK_URL, "deepseek_url", 0, "http://localhost:8000", "DeepSeek-OCR server for 'apflow ocr --engine deepseek' (vLLM or Ollama)", "APFLOW_DEEPSEEK_URL", NULL) \
	X(DEEPSEEK_API, "deepseek_api", 0, "openai", "the DeepSeek server's API: openai (vLLM's /v1/chat/completions) or ollama (/api/chat)", "APFLOW_DEEPSEEK_API", NULL) \
	X(DEEPSEEK_MODEL, "deepseek_model", 0, NULL, "DeepSeek model name (default deepseek-ai/DeepSeek-OCR for openai, deepseek-ocr for ollama)", "APFLOW_DEEPSEEK_MODEL", NULL) \
	X(DEEPSEEK_API_KEY, "deepseek_api_key", 1, NULL, "bearer token the DeepSeek server wants, if any", "APFLOW_DEEPSEEK_API_KEY", NULL) \
	X(DEEPSEEK_TIMEOUT, "deepseek_timeout", 0, "300", "seconds without an answer before a DeepSeek request is retried", "APFLOW_DEEPSEEK_TIMEOUT", NULL) \
	X(DEEPSEEK_RETRIES, "deepseek_retries", 0, "4", "retries of a DeepSeek request (408, 429, 5xx, timeouts, resets)", "APFLOW_DEEPSEEK_RETRIES", NULL) \
	X(OCR_PAGE_MAX_OPS, "ocr_page_max_ops", 0, "5000000", "content-stream operators one page may run in 'apflow ocr' (a form's count each time it is drawn); rendering gets a fifth as many drawing operations", "APFLOW_OCR_PAGE_MAX_OPS", NULL) \
	X(OCR_PAGE_SECONDS, "ocr_page_seconds", 0, "30", "seconds one page's text layer, or its rendering, may take in 'apflow ocr'", "APFLOW_OCR_PAGE_SECONDS", NULL) \
	X(OCR_COMMIT_PAGES, "ocr_commit_pages", 0, "250", "'apflow ocr' commits a longer document every this many pages, so that a killed run resumes there", "APFLOW_OCR_COMMIT_PAGES", NULL) \
	X(UPLOAD_TOKEN, "upload_token", 1, NULL, "bearer token required by POST /upload when set", "APFLOW_UPLOAD_TOKEN", NULL) \
	X(PROCESS, "process", 0, NULL, "apflow serve: take each upload through ocr, export, preannotate and merge of this dataset (on: vessels_ocr_uploads; off or unset: no)", "APFLOW_PROCESS", NULL) \
	X(LISTEN, "listen", 0, "127.0.0.1:8080", "address the server listens on", "APFLOW_LISTEN", NULL) \
	X(MAX_UPLOAD_MB, "max_upload_mb", 0, "100", "largest request body POST /upload accepts, in MiB", "APFLOW_MAX_UPLOAD_MB", NULL) \
	X(LOG_LEVEL, "log_level", 0, "info", "error, warn, info or debug", "APFLOW_LOG_LEVEL", NULL)

enum apf_config_key {
#define APF_CFG_ENUM(id, name, secret, def, help, env1, env2) APF_CFG_##id,
	APF_CONFIG_KEYS(APF_CFG_ENUM)
#undef APF_CFG_ENUM
	APF_CFG_COUNT
};

struct apf_config_entry {
	char *value;                  /* NULL when unset */
	enum apf_config_source source;
	char *origin;                 /* env var name, "file:line", "-c" ... */
};

struct apf_config {
	struct apf_config_entry e[APF_CFG_COUNT];
	char *file;                   /* the config file read, or NULL */
};

/*
 * Loads defaults, then the file, then the environment.  file is the
 * explicit --config path (must exist) or NULL (then APFLOW_CONFIG, then
 * ./apflow.conf if present).  An unknown key or malformed line in the file
 * is an error naming file:line.
 */
int apf_config_load(struct apf_config *cfg, const char *file, struct apf_err *err);
void apf_config_release(struct apf_config *cfg);

/* Sets a value from a flag; key is a config key name ("data_dir"). */
int apf_config_set_flag(struct apf_config *cfg, const char *key, const char *value,
			const char *origin, struct apf_err *err);

/* The value, or NULL when unset.  STORE falls back to file://<data_dir>/lake. */
const char *apf_config_get(const struct apf_config *cfg, enum apf_config_key key);
int64_t apf_config_get_i64(const struct apf_config *cfg, enum apf_config_key key, int64_t dflt);

/* Whether key is set to the empty string (by a flag, the file, or an empty
 * environment variable where nothing else set it).  apf_config_get() reads
 * that as unset; a setting where that would be unsafe refuses it
 * (upload_token: an empty token must not turn authentication off). */
int apf_config_is_empty(const struct apf_config *cfg, enum apf_config_key key);

const char *apf_config_name(enum apf_config_key key);
const char *apf_config_help(enum apf_config_key key);
int apf_config_is_secret(enum apf_config_key key);
int apf_config_lookup(const char *name); /* key index or -1 */

/* Writes into out a value safe to show: secrets become "(set, hidden)" or
 * "(unset)"; an empty value is "(empty: invalid)" for upload_token (serve
 * refuses it) and "(empty: unset)" for the others. */
void apf_config_display(const struct apf_config *cfg, enum apf_config_key key, char *out, size_t n);
/* "flag -c", "env AWS_REGION", "file apflow.conf:3", "default". */
void apf_config_origin(const struct apf_config *cfg, enum apf_config_key key, char *out, size_t n);

#endif
