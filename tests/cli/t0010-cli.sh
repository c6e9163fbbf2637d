#!/usr/bin/env bash
# The command line: help, version, dispatch errors, exit codes, config display.
. "$(dirname "$0")/../lib.sh"

t_rc 0 "apflow --help exits 0" "$APFLOW" --help
t_match "--help lists the commands" '^  init +create the warehouse' "$(cat "$T_OUT")"
t_match "--help lists config" '^  config +show the effective settings' "$(cat "$T_OUT")"
t_rc 2 "no command: usage on stderr, exit 2" "$APFLOW"
t_match "usage names the form" '^usage: apflow ' "$(cat "$T_ERR")"
t_rc 2 "unknown command exits 2" "$APFLOW" frobnicate
t_eq "unknown command: one clear line" "apflow: 'frobnicate' is not an apflow command (see 'apflow --help')" "$(cat "$T_ERR")"
t_rc 2 "unknown global option exits 2" "$APFLOW" --frobnicate
t_eq "unknown option: one clear line" "apflow: unknown option '--frobnicate' (see 'apflow --help')" "$(cat "$T_ERR")"
t_rc 2 "unknown command option exits 2" "$APFLOW" config --bogus
t_eq "unknown command option: one line naming it" "apflow config: unknown option '--bogus' (see 'apflow config --help')" "$(cat "$T_ERR")"
t_rc 2 "-c without = exits 2" "$APFLOW" -c data_dir config

for cmd in $("$APFLOW" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
	t_rc 0 "apflow $cmd --help exits 0" "$APFLOW" "$cmd" --help
	t_match "apflow $cmd --help prints usage" "^usage: apflow $cmd" "$(cat "$T_OUT")"
	"$APFLOW" help "$cmd" >help.out 2>&1
	t_eq "apflow help $cmd equals $cmd --help" "$(cat "$T_OUT")" "$(cat help.out)"
done
t_rc 2 "apflow help of an unknown command exits 2" "$APFLOW" help nope

t_rc 0 "apflow version exits 0" "$APFLOW" version
v=$(cat "$T_OUT")
t_match "version names apflow" '^apflow [0-9]+\.[0-9]+\.[0-9]+$' "$(sed -n 1p "$T_OUT")"
t_match "version names DuckDB 1.4" '^duckdb v1\.4\.[0-9]+$' "$v"
t_match "version names MuPDF" '^mupdf 1\.[0-9]+\.[0-9]+$' "$v"
t_match "version names Tesseract" '^tesseract 5\.[0-9.]+$' "$v"
t_match "version names libcurl" '^libcurl [0-9]+\.[0-9]+\.[0-9]+$' "$v"
t_rc 0 "apflow --version works too" "$APFLOW" --version

# libduckdb is loaded (dlopen) by commands that open the warehouse, not
# linked: the others start without it (src/core/duckdb_dl.h).
for bin in "$APFLOW" "$APFLOW_TOP/apflow"; do
	[ -x "$bin" ] || continue
	t_ok "readelf -d ${bin#"$APFLOW_TOP"/}" readelf -d "$bin"
	t_nomatch "${bin#"$APFLOW_TOP"/} does not need libduckdb" 'NEEDED.*libduckdb' "$(cat "$T_OUT")"
	t_nomatch "${bin#"$APFLOW_TOP"/} does not need libcurl, libmicrohttpd or Tesseract" \
		'NEEDED.*(libcurl|libmicrohttpd|libtesseract)' "$(cat "$T_OUT")"
	t_match "${bin#"$APFLOW_TOP"/} has DuckDB's directory in its RUNPATH" \
		"RUNPATH.*$APFLOW_TOP/third_party/duckdb/lib" "$(cat "$T_OUT")"
done
t_rc 0 "--help under LD_DEBUG=files" env LD_DEBUG=files "$APFLOW" --help
t_nomatch "--help does not load libduckdb" 'libduckdb' "$(cat "$T_ERR")"
t_nomatch "--help does not load libcurl, libmicrohttpd, GnuTLS or Tesseract" \
	'file=(libcurl|libmicrohttpd|libgnutls|libtesseract)' "$(cat "$T_ERR")"
t_rc 0 "config under LD_DEBUG=files" env LD_DEBUG=files "$APFLOW" config
t_nomatch "config does not load libduckdb" 'libduckdb' "$(cat "$T_ERR")"
t_rc 0 "version under LD_DEBUG=files" env LD_DEBUG=files "$APFLOW" version
t_match "version loads libduckdb from the RUNPATH" "file=$APFLOW_TOP/third_party/duckdb/lib/libduckdb.so " \
	"$(cat "$T_ERR")"
t_match "version loads libcurl (to name its version)" 'file=libcurl\.so' "$(cat "$T_ERR")"

# Configuration: precedence and where each value comes from.
cat >apflow.conf <<'CONF'
# a comment
data_dir = ./from-file
s3_region = eu-central-1
argilla_api_key = file-secret-argilla-0001
CONF
export AWS_REGION=auto
export AWS_SECRET_ACCESS_KEY=env-secret-aws-0002
export AWS_ACCESS_KEY_ID=env-access-key-0003
export motherduck_token=env-secret-md-0004
export APFLOW_UPLOAD_TOKEN=env-secret-upload-0005
export ARGILLA_API_KEY=env-secret-argilla-0006
t_rc 0 "apflow config exits 0" "$APFLOW" -c lock_timeout=7 config
cfg=$(cat "$T_OUT")
t_match "config names the file" '^# config file: apflow.conf$' "$cfg"
t_match "file value and origin" '^data_dir += \./from-file +# file apflow\.conf:2$' "$cfg"
t_match "env beats file" '^s3_region += auto +# env AWS_REGION$' "$cfg"
t_match "flag beats default" '^lock_timeout += 7 +# flag -c$' "$cfg"
t_match "default store follows data_dir" '^store += file://\./from-file/lake +# default$' "$cfg"
t_match "secret shown only as set" '^s3_secret_access_key += \(set, hidden\) +# env AWS_SECRET_ACCESS_KEY$' "$cfg"
t_match "env beats file for secrets too" '^argilla_api_key += \(set, hidden\) +# env ARGILLA_API_KEY$' "$cfg"
t_nomatch "no secret printed (text)" 'secret-|access-key-0003' "$cfg$(cat "$T_ERR")"
t_rc 0 "apflow config --json exits 0" "$APFLOW" config --json
t_nomatch "no secret printed (json)" 'secret-|access-key-0003' "$(cat "$T_OUT" "$T_ERR")"
t_match "json marks secrets" '"secret": true' "$(cat "$T_OUT")"
t_rc 0 "--data-dir flag after the command" "$APFLOW" config --data-dir /tmp/x
t_match "--data-dir is a flag" '^data_dir += /tmp/x +# flag --data-dir$' "$(cat "$T_OUT")"
t_rc 0 "--store=URL form" "$APFLOW" --store=s3://bucket/pfx config
t_match "--store is a flag" '^store += s3://bucket/pfx +# flag --store$' "$(cat "$T_OUT")"
t_rc 2 "unknown -c key is a usage error (exit 2)" "$APFLOW" -c nope=1 config
t_eq "unknown -c key message" "apflow: error: unknown setting 'nope' (see 'apflow config')" "$(cat "$T_ERR")"

printf 'data_dir = x\nwhat is this\n' >bad.conf
t_rc 1 "malformed config file exits 1" "$APFLOW" --config bad.conf config
t_eq "malformed config file: file:line" "apflow: error: bad.conf:2: expected 'key = value'" "$(cat "$T_ERR")"
t_rc 1 "missing --config file exits 1" "$APFLOW" --config missing.conf config
t_match "missing config file is named" "cannot open 'missing.conf'" "$(cat "$T_ERR")"
APFLOW_CONFIG=bad.conf t_rc 1 "APFLOW_CONFIG is read" "$APFLOW" config
t_rc 2 "bad log level exits 2" "$APFLOW" --log-level loud config

t_done
