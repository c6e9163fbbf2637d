/*
 * argilla.h: the Argilla 2.x REST client (libcurl through http.c, Jansson),
 * and the two transfers built on it: push (argilla_records.parquet into a
 * span dataset) and pull (a dataset's records and annotations into a
 * Parquet file in the layout of the Argilla SDK's export).
 *
 * The API contract, read from the Argilla source, is in
 * docs/shared reference argilla-api.md; the parts that matter here:
 *   - every request carries X-Argilla-Api-Key; the key never appears in a
 *     log line or an error message (requests are named by method and path);
 *   - records are upserted with PUT /api/v1/datasets/{id}/records/bulk
 *     (1..500 per request, all-or-nothing, matched by external_id), so a
 *     request resent after a timeout or a reset changes nothing twice;
 *   - span offsets are Unicode code points, end exclusive, and a record
 *     carries at most one suggestion per question;
 *   - fields never change once a record exists.
 *
 * Errors: APF_EAUTH (401/403), APF_ENOTFOUND (workspace, dataset), APF_EINVAL
 * (input the server or the checks here refuse: a 422 names the record as
 * <doc_id>:<page_num> and quotes the server's detail; settings that differ
 * from the labelset), APF_ENET (no answer after the retries, 5xx after
 * them), APF_EIO/APF_ESQL (the Parquet file).
 */
#ifndef APFLOW_ARGILLA_H
#define APFLOW_ARGILLA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's; the callers that use these functions include <jansson.h> */

#include "apflow/err.h"
#include "apflow/labelset.h"

struct apf_argilla;

struct apf_argilla_options {
	const char *api_url;   /* "http://127.0.0.1:6900"; a trailing '/' is ignored */
	const char *api_key;
	long timeout_s;        /* a request without a byte for this long is retried; 0: 60 */
	int max_retries;       /* retries of 408, 429, 5xx, timeouts, resets; < 0: 8 */
	long backoff_base_ms;  /* 0: 250 */
	long backoff_max_ms;   /* 0: 8000 */
};

int apf_argilla_new(const struct apf_argilla_options *opt, struct apf_argilla **out, struct apf_err *err);
void apf_argilla_free(struct apf_argilla *a); /* NULL is a no-op */

/*
 * One API call: method, path under the API URL ("/api/v1/me"), an optional
 * JSON body.  *status is the final HTTP status; *out (when not NULL) the
 * parsed JSON body of a 2xx answer (the caller decrefs).  A non-2xx answer
 * is returned as APF_EAUTH / APF_ENOTFOUND / APF_EEXISTS / APF_EINVAL /
 * APF_ENET with "METHOD PATH: HTTP N: <detail>" in err, after the retries
 * for the retryable ones.
 */
int apf_argilla_call(struct apf_argilla *a, const char *method, const char *path, const char *body,
		     size_t body_len, long *status, struct json_t **out, struct apf_err *err);

/* The server's `detail` of an error body as one line ("" when none):
 * a string as is, an object or list as compact JSON.  malloc'ed. */
char *apf_argilla_detail(const char *body, size_t len);

struct apf_argilla_user {
	char id[64];
	char username[256];
	char role[32];
};
/* GET /api/v1/me: checks the key. */
int apf_argilla_me(struct apf_argilla *a, struct apf_argilla_user *out, struct apf_err *err);

/* The workspace called name, or (name NULL or "") the key's first one. */
int apf_argilla_workspace(struct apf_argilla *a, const char *name, char id[64], char name_out[256],
			  struct apf_err *err);

struct apf_argilla_dataset {
	char id[64];
	char name[256];
	char workspace_id[64];
	char workspace[256];
	char question_id[64];   /* the span question `entities` */
	int created;            /* this call created it */
};

/* The metadata properties every apflow dataset has (DESIGN.md). */
#define APF_ARGILLA_METADATA(X)                                         \
	X("doc_id", "Document", "terms")                               \
	X("page_num", "Page", "integer")                               \
	X("text_sha256", "Text SHA-256", "terms")                      \
	X("labelset_version", "Labelset", "terms")                     \
	X("source", "Source", "terms")                                 \
	X("engine", "OCR engine", "terms")                             \
	X("agreement", "Agreement (rules vs LLM, span F1)", "float")   \
	X("min_score", "Lowest suggestion score", "float")             \
	X("n_spans", "Suggested spans", "integer")

/*
 * Finds the dataset called name in the workspace (GET /api/v1/me/datasets?
 * workspace_id=&name=).  When it does not exist and create is set, creates
 * it: dataset, text field `text`, span question `entities` with the
 * labelset's labels (visible_options, allow_overlapping false), the
 * metadata properties above, publish.  A 409 (another process creating the
 * same dataset) is answered by reading again; a dataset left as a draft by
 * an interrupted creation is completed.  A published dataset whose field,
 * question or metadata properties differ from these is APF_EINVAL, saying
 * what differs, and is not modified.  Without create, a missing dataset is
 * APF_ENOTFOUND.
 */
int apf_argilla_dataset_open(struct apf_argilla *a, const char *workspace_id, const char *workspace,
			     const char *name, const struct apf_labelset *ls, int create,
			     struct apf_argilla_dataset *out, struct apf_err *err);
/* create = APF_ARGILLA_CREATE_FIRST: the caller has just found no dataset
 * (apf_argilla_dataset_lookup()), so it is created without looking again
 * (a 409 is still answered by reading it).  A dataset this call creates
 * gets its field and metadata properties in one round of concurrent
 * requests, then its question, then is published. */
#define APF_ARGILLA_CREATE_FIRST 2

/* Only looks: the published dataset called name, its settings checked as
 * above (APF_EINVAL when they differ), or APF_ENOTFOUND when there is none
 * or it is still a draft.  Sends nothing that changes the server. */
int apf_argilla_dataset_lookup(struct apf_argilla *a, const char *workspace_id, const char *workspace,
			       const char *name, const struct apf_labelset *ls, struct apf_argilla_dataset *out,
			       struct apf_err *err);

/* Progress: called from the calling thread with what is done so far. */
typedef void (*apf_argilla_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct apf_argilla_push_options {
	const char *parquet;      /* local file (argilla_records.parquet schema, INTERFACES.md) */
	const char *source_name;  /* how messages name the file (e.g. its s3:// URL); NULL: parquet */
	int batch_size;           /* records per request, 1..500; 0: 200 */
	int concurrency;          /* requests in flight; 0: 2 */
	int replace_changed;      /* delete and recreate records whose text changed */
	volatile sig_atomic_t *cancel; /* set (by a signal handler) to stop early */
	apf_argilla_progress_fn progress;
	void *progress_arg;
	/* When set, called once the file has passed the checks to fill *ds
	 * (find or create the dataset), so that bad input creates nothing. */
	int (*open_dataset)(void *arg, struct apf_argilla_dataset *ds, struct apf_err *err);
	void *open_arg;
	/* When set, called (with open_arg) on a thread of its own while the
	 * file is checked: finds the dataset without changing anything and
	 * fills *ds (its records are then listed on that thread too), or
	 * returns APF_ENOTFOUND, and open_dataset is called once the file has
	 * passed the checks.  Another error stops the push after the checks. */
	int (*find_dataset)(void *arg, struct apf_argilla_dataset *ds, struct apf_err *err);
};

struct apf_argilla_push_stats {
	uint64_t total;       /* records in the file */
	uint64_t created;
	uint64_t updated;     /* metadata or suggestion changed */
	uint64_t unchanged;   /* already there exactly so: not sent */
	uint64_t replaced;    /* text changed: deleted and created again */
	uint64_t failed;      /* records in requests that failed for good */
	uint64_t requests;    /* bulk requests that succeeded */
	double seconds;
};

/*
 * Pushes the file into the dataset.  First reads the whole file (a chunk
 * at a time) and checks every record: id = <doc_id>:<page_num>, unique;
 * text_sha256 is the SHA-256 of the text; spans inside the text (code
 * points), labels in the labelset, no overlaps within an agent, one score
 * or one per span.  Meanwhile opt->find_dataset (when set) looks the
 * dataset up and lists its records; else, or when it does not exist,
 * opt->open_dataset finds or creates it after the check.  A record whose
 * text differs from the one on the server is refused unless
 * replace_changed.  Any problem stops the push before a single record is
 * sent, naming up to 10 records.  Then reads the file again (each row
 * must be byte for byte the one checked: else "changed while it was
 * pushed", before that record is sent) and sends the records that are new
 * or changed, batch_size per request, concurrency requests in flight.
 * Records already on the server with the same metadata and suggestion are
 * not sent (counted unchanged).  Logs (debug) the time of each phase:
 * "push: N records checked in X ms", "push: dataset ready in Y ms",
 * "push: the server's M records listed in L ms (W ms of it after the
 * check)", "push: sent N records in Z ms (R records/s, B requests, C us
 * of CPU a record read)".
 */
int apf_argilla_push(struct apf_argilla *a, struct apf_argilla_dataset *ds, const struct apf_labelset *ls,
		     const struct apf_argilla_push_options *opt, struct apf_argilla_push_stats *stats,
		     struct apf_err *err);

struct apf_argilla_pull_options {
	const char *out;          /* local Parquet file, written atomically (temp + rename) */
	const char *status;       /* keep only responses with this status; NULL: all */
	const char *since;        /* ISO timestamp: only records or responses updated since; NULL: all */
	volatile sig_atomic_t *cancel;
	apf_argilla_progress_fn progress;
	void *progress_arg;
};

struct apf_argilla_pull_stats {
	uint64_t records;         /* written */
	uint64_t responses;       /* response entries written */
	uint64_t submitted;
	double seconds;
};

/*
 * Reads every record of the dataset with responses and suggestions
 * (GET .../records?include=responses,suggestions, 1,000 a page; a record
 * seen twice while annotators work is kept once) and writes the Parquet
 * export (layout: docs/argilla.md, the Argilla SDK's to_datasets() plus
 * entities.responses.usernames and .updated_at).
 */
int apf_argilla_pull(struct apf_argilla *a, const struct apf_argilla_dataset *ds,
		     const struct apf_argilla_pull_options *opt, struct apf_argilla_pull_stats *stats,
		     struct apf_err *err);

/*
 * Helpers, exposed for the unit tests.
 *
 * apf_argilla_agent_name() maps an agent name onto Argilla's pattern
 * ^(?=.*[a-zA-Z0-9])[a-zA-Z0-9-_:./\s]+$ (1..200 chars): other characters
 * become '-', a name without a letter or digit gets "agent-" in front.
 */
void apf_argilla_agent_name(const char *in, char *out, size_t n);

/* One span in code points. */
struct apf_argilla_span {
	int64_t start, end;
	int label;       /* index in the labelset */
	double score;
	int agents;      /* how many agents proposed exactly this span */
};

/*
 * The span-level exact-match F1 of two span lists (1.0 when both are
 * empty).
 */
double apf_argilla_span_f1(const struct apf_argilla_span *a, size_t na, const struct apf_argilla_span *b,
			   size_t nb);

/*
 * Merges the spans of several agents into one list without overlaps (what
 * Argilla takes as the one suggestion of a record): spans proposed by more
 * agents first, then higher score, then earlier start; each kept span has
 * the highest score proposed for it.  in is reordered; the result (sorted
 * by start) is written to out (room for n), its length returned.
 */
size_t apf_argilla_merge_spans(struct apf_argilla_span *in, size_t n, struct apf_argilla_span *out);

/*
 * suggestions_json (INTERFACES.md): a JSON list with one element per agent,
 * {"question_name":..,"value":[{"start":..,"end":..,"label":..}],
 * "score":N|[N per span]|null,"agent":..,"type":..}, read strictly as JSON
 * and checked against the text (text_cps code points) and the labelset:
 * integer start and end, 0 <= start < end <= text_cps, labels in the
 * labelset, scores in [0, 1], one score or one per span, no overlap within
 * an agent.  On success sg->spans holds every agent's spans in order and
 * sg->agents[i] the range of agent i (its name mapped by
 * apf_argilla_agent_name()).  On failure -1, and why says what (as
 * "suggestion I: ..." for a problem of element I).  sg is reused from one
 * call to the next (zero it first; apf_argilla_suggestions_release() at the
 * end); json need not end with '\0' and must be valid UTF-8.
 */
struct apf_argilla_sugg_agent {
	size_t first, n;  /* in spans */
	char name[201];
};
struct apf_argilla_sugg_state;
struct apf_argilla_suggestions {
	struct apf_argilla_span *spans;
	size_t nspans, cap_spans;
	struct apf_argilla_sugg_agent *agents;
	size_t nagents, cap_agents;
	struct apf_argilla_sugg_state *st;
};
int apf_argilla_suggestions_parse(struct apf_argilla_suggestions *sg, const char *json, size_t len, size_t text_cps,
				  const struct apf_labelset *ls, char *why, size_t why_n);
void apf_argilla_suggestions_release(struct apf_argilla_suggestions *sg);
/* The checks of one span that every reader of suggestions_json makes
 * (label in the labelset, 0 <= start < end <= text_cps, a given score in
 * [0, 1], no overlap with the spans of this agent, those from first on),
 * then the span appended to sg->spans with score 1.0 when none was given.
 * i numbers the span in why ("span I: ..."); -1 on a problem. */
int apf_argilla_suggestions_add_span(struct apf_argilla_suggestions *sg, size_t first, size_t i, int64_t start,
				     int64_t end, const char *label, int has_score, double score, size_t text_cps,
				     const struct apf_labelset *ls, char *why, size_t why_n);

#endif
