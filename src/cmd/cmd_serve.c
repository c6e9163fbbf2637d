/* cmd_serve.c: apflow serve, the upload server. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apflow/config.h"
#include "apflow/ingest.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "apflow/dataset.h"
#include "apflow/flow.h"
#include "cmd/cmd.h"
#include "server/server.h"

const char cmd_serve_usage[] =
	"usage: apflow serve [--listen ADDR:PORT] [--max-upload-mb N] [--upload-token TOKEN]\n"
	"                    [--open] [--threads N] [--workers N] [--grace-seconds N]\n"
	"                    [--max-connections N] [--max-per-address N] [--header-timeout S]\n"
	"                    [--idle-timeout S] [--min-rate BYTES] [--process[=DATASET]]\n"
	"\n"
	"Serves the upload page (GET /), POST /upload, GET /api/documents[/<doc_id>]\n"
	"and GET /healthz.  Uploads are checked (a PDF MuPDF can open), stored at\n"
	"raw/<doc_id>.pdf and recorded in md_raw_ocr (documents, uploads).\n"
	"\n"
	"  --listen ADDR:PORT    address to listen on (setting 'listen', default\n"
	"                        127.0.0.1:8080); port 0 picks a free port\n"
	"  --max-upload-mb N     largest request body on /upload (setting\n"
	"                        'max_upload_mb', default 100)\n"
	"  --upload-token TOKEN  require 'Authorization: Bearer TOKEN' on /upload and\n"
	"                        /api/documents; better set APFLOW_UPLOAD_TOKEN or\n"
	"                        'upload_token', which other users cannot see in ps;\n"
	"                        an empty token is an error\n"
	"  --open                listen on a non-loopback address without a token\n"
	"                        (refused otherwise); anyone who reaches the server\n"
	"                        can then upload and list documents\n"
	"  --threads N           HTTP threads (default 4)\n"
	"  --workers N           threads that finish uploads (default 16)\n"
	"  --grace-seconds N     on SIGINT/SIGTERM, how long requests in flight may\n"
	"                        take to finish (default 30)\n"
	"  --max-connections N   open connections at most (default: what ulimit -n\n"
	"                        allows, at most 1000)\n"
	"  --max-per-address N   open connections from one client address (default 32)\n"
	"  --header-timeout S    seconds a client has to send a whole request head\n"
	"                        (default 10)\n"
	"  --idle-timeout S      seconds a connection may send nothing (default 30)\n"
	"  --min-rate BYTES      bytes/s a request body must average once the head's\n"
	"                        time is over (default 1024)\n"
	"  --process[=DATASET]   a worker takes each upload through ocr, export,\n"
	"                        preannotate (rules) and merge into DATASET's\n"
	"                        argilla_records.parquet while uploads go on, and\n"
	"                        pushes it to Argilla when argilla_api_key is set\n"
	"                        (setting 'process': on = vessels_ocr_uploads, or a\n"
	"                        dataset name); GET /api/documents/<id> shows each\n"
	"                        document's stage\n"
	"See docs/security.md for running it on a network.\n"
	"\n"
	"Prints 'listening on http://ADDR:PORT' on stderr once it accepts requests.\n"
	"SIGINT or SIGTERM stops it: no new connections, requests in flight finish\n"
	"(or are dropped cleanly after the grace time), queued rows are committed;\n"
	"then it exits 0.\n";

static int parse_count(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (apf_parse_i64_in(v, lo, hi, out))
		return apf_cmd_usage_error("serve", "%s wants a number from %lld to %lld, not '%s'", opt,
					   (long long)lo, (long long)hi, v);
	return 0;
}

static void on_reconciled(const char *key, int rc, const char *why, void *arg)
{
	(void)arg;
	if (rc)
		apf_log_warn("'%s' in the store has no row and cannot have one: %s", key, why);
	else
		apf_log_info("'%s' was stored without its row: %s", key, why);
}

/* Store and warehouse agree before the first upload (ingest.h). */
static int reconcile(struct apf_ctx *ctx, struct apf_err *err)
{
	struct apf_ingest *ing = NULL;
	struct apf_ingest_reconcile r;
	int rc = apf_ingest_new(&ctx->cfg, ctx->store, ctx->writer, &ing, err);

	if (!rc)
		rc = apf_ingest_reconcile(ing, ctx->store, ctx->writer, 0, on_reconciled, NULL, &r, err);
	if (!rc && (r.missing || r.bad))
		apf_log_info("reconciled store and warehouse: %" PRIu64 " objects in raw/, %" PRIu64
			     " without a row, %" PRIu64 " recorded now, %" PRIu64 " named above",
			     r.objects, r.missing, r.recorded, r.bad);
	apf_ingest_free(ing);
	return rc;
}

/* The dataset of the setting process (serve --process), or NULL. */
static int process_dataset(struct apf_ctx *ctx, const char **out, struct apf_err *err)
{
	const char *v = apf_config_get(&ctx->cfg, APF_CFG_PROCESS);
	int b;

	*out = NULL;
	if (!v || !*v || (!apf_parse_bool(v, &b) && !b))
		return 0;
	if (!apf_parse_bool(v, &b))
		v = "vessels_ocr_uploads";
	if (apf_dataset_name_check(&ctx->cfg, v, err))
		return apf_error_prefix(err, "setting process");
	*out = v;
	return 0;
}

int cmd_serve(int argc, char **argv, struct apf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "max-upload-mb", required_argument, NULL, 'm' },
		{ "upload-token", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "workers", required_argument, NULL, 'w' },
		{ "grace-seconds", required_argument, NULL, 'g' },
		{ "open", no_argument, NULL, 'o' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "max-per-address", required_argument, NULL, 'A' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "min-rate", required_argument, NULL, 'R' },
		{ "process", optional_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct apf_server_opts so;
	struct apf_server *srv = NULL;
	struct apf_err err;
	int64_t mb, threads = 0, workers = 0, grace = 30, v;
	sigset_t set;
	struct apf_flow *flow = NULL;
	const char *dataset = NULL;
	int c, sig = 0;

	apf_err_clear(&err);
	memset(&so, 0, sizeof(so));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'm':
		case 't': {
			const char *key = c == 'l' ? "listen" : c == 'm' ? "max_upload_mb" : "upload_token";
			const char *flag = c == 'l' ? "--listen" : c == 'm' ? "--max-upload-mb" : "--upload-token";
			if (apf_config_set_flag(&ctx->cfg, key, optarg, flag, &err))
				return apf_cmd_fail(&err);
			break;
		}
		case 'T':
			if (parse_count("--threads", optarg, 1, 256, &threads))
				return 2;
			break;
		case 'w':
			if (parse_count("--workers", optarg, 1, 256, &workers))
				return 2;
			break;
		case 'g':
			if (parse_count("--grace-seconds", optarg, 0, 3600, &grace))
				return 2;
			break;
		case 'o':
			so.open = 1;
			break;
		case 'C':
			if (parse_count("--max-connections", optarg, 4, 100000, &v))
				return 2;
			so.max_connections = (unsigned)v;
			break;
		case 'A':
			if (parse_count("--max-per-address", optarg, 1, 100000, &v))
				return 2;
			so.max_per_addr = (unsigned)v;
			break;
		case 'H':
			if (parse_count("--header-timeout", optarg, 1, 3600, &v))
				return 2;
			so.header_timeout = (unsigned)v;
			break;
		case 'I':
			if (parse_count("--idle-timeout", optarg, 1, 3600, &v))
				return 2;
			so.idle_timeout = (unsigned)v;
			break;
		case 'R':
			if (parse_count("--min-rate", optarg, 1, 1 << 30, &v))
				return 2;
			so.min_rate = (unsigned)v;
			break;
		case 'P':
			if (apf_config_set_flag(&ctx->cfg, "process", optarg ? optarg : "on", "--process", &err))
				return apf_cmd_fail(&err);
			break;
		default:
			return apf_cmd_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return apf_cmd_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	mb = apf_config_get_i64(&ctx->cfg, APF_CFG_MAX_UPLOAD_MB, -1);
	if (mb < 1 || mb > 1 << 20)
		return apf_cmd_usage_error("serve", "max upload size wants a number of MiB from 1 to %d", 1 << 20);

	so.listen = apf_config_get(&ctx->cfg, APF_CFG_LISTEN);
	so.max_upload = (uint64_t)mb << 20;
	/* An empty token must not turn authentication off: apf_config_get()
	 * reads "" as unset. */
	if (apf_config_is_empty(&ctx->cfg, APF_CFG_UPLOAD_TOKEN)) {
		char origin[128];

		apf_config_origin(&ctx->cfg, APF_CFG_UPLOAD_TOKEN, origin, sizeof(origin));
		apf_error(&err, APF_ECONFIG,
			  "the upload token from %s is empty: set a token, or unset it to run without one", origin);
		return apf_cmd_fail(&err);
	}
	so.upload_token = apf_config_get(&ctx->cfg, APF_CFG_UPLOAD_TOKEN);
	so.threads = (unsigned)threads;
	so.workers = (unsigned)workers;
	so.store = ctx->store;
	so.writer = ctx->writer;

	/* Every thread started from here on inherits the blocked signals, so
	 * SIGINT and SIGTERM reach only the sigwait() below. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past RLIMIT_FSIZE a write fails with EFBIG, answered as an error,
	 * instead of killing the server. */
	signal(SIGXFSZ, SIG_IGN);

	if (reconcile(ctx, &err) && err.code != APF_ELOCKED)
		return apf_cmd_fail(&err);
	if (err.code == APF_ELOCKED) {
		/* Held by another process: the next start reconciles. */
		apf_log_warn("store and warehouse not reconciled: %s", err.msg);
		apf_err_clear(&err);
	}
	if (process_dataset(ctx, &dataset, &err))
		return apf_cmd_fail(&err);
	if (apf_server_start(&ctx->cfg, &so, &srv, &err))
		return apf_cmd_fail(&err);
	if (dataset && apf_flow_start(&ctx->cfg, ctx->store, ctx->writer, dataset, 0, &flow, &err)) {
		apf_server_stop(srv, 0);
		return apf_cmd_fail(&err);
	}
	if (flow)
		fprintf(stderr, "processing uploads into dataset %s%s\n", dataset,
			apf_config_get(&ctx->cfg, APF_CFG_ARGILLA_API_KEY) ? ", pushed to Argilla" : "");
	{
		/* The address as given, with the port actually bound. */
		const char *colon = strrchr(so.listen, ':');
		int hl = colon ? (int)(colon - so.listen) : 0;
		fprintf(stderr, "listening on http://%.*s:%u\n", hl ? hl : 9, hl ? so.listen : "127.0.0.1",
			apf_server_port(srv));
		if (so.upload_token && *so.upload_token)
			fprintf(stderr, "uploads need a bearer token\n");
		fflush(stderr);
	}
	sigwait(&set, &sig);
	fprintf(stderr, "stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	apf_server_stop(srv, grace * 1000);
	apf_flow_stop(flow, NULL);
	fprintf(stderr, "stopped\n");
	return 0;
}
