/* cmd_serve.c: apflow serve, the upload server. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "apflow/config.h"
#include "apflow/log.h"
#include "apflow/util.h"
#include "cmd/cmd.h"
#include "server/server.h"

const char cmd_serve_usage[] =
	"usage: apflow serve [--listen ADDR:PORT] [--max-upload-mb N] [--upload-token TOKEN]\n"
	"                    [--threads N] [--workers N] [--grace-seconds N]\n"
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
	"                        'upload_token', which other users cannot see in ps\n"
	"  --threads N           HTTP threads (default 4)\n"
	"  --workers N           threads that finish uploads (default 16)\n"
	"  --grace-seconds N     on SIGINT/SIGTERM, how long requests in flight may\n"
	"                        take to finish (default 30)\n"
	"\n"
	"Prints 'listening on http://ADDR:PORT' on stderr once it accepts requests.\n"
	"SIGINT or SIGTERM stops it: no new connections, requests in flight finish\n"
	"(or are dropped cleanly after the grace time), queued rows are committed;\n"
	"then it exits 0.\n";

static int parse_count(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (apf_parse_i64(v, out) || *out < lo || *out > hi)
		return apf_cmd_usage_error("serve", "%s wants a number from %lld to %lld, not '%s'", opt,
					   (long long)lo, (long long)hi, v);
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
		{ NULL, 0, NULL, 0 },
	};
	struct apf_server_opts so;
	struct apf_server *srv = NULL;
	struct apf_err err;
	int64_t mb, threads = 0, workers = 0, grace = 30;
	sigset_t set;
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

	if (apf_server_start(&ctx->cfg, &so, &srv, &err))
		return apf_cmd_fail(&err);
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
	fprintf(stderr, "stopped\n");
	return 0;
}
