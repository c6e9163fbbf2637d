#!/usr/bin/env bash
# apflow config tells an empty setting from an unset one, and never shows a
# secret: an empty upload_token is refused by serve, so it is shown invalid.
. "$(dirname "$0")/../lib.sh"

line() { grep "^$1 " "$T_OUT"; }

t_rc 0 "config with nothing set" "$APFLOW" config
t_eq "unset token" "upload_token           = (unset)                                  # default" "$(line upload_token)"

APFLOW_UPLOAD_TOKEN= t_rc 0 "config with APFLOW_UPLOAD_TOKEN empty" "$APFLOW" config
t_eq "empty token from the environment: invalid, and where from" \
	"upload_token           = (empty: invalid)                         # env APFLOW_UPLOAD_TOKEN" "$(line upload_token)"
APFLOW_UPLOAD_TOKEN= t_rc 0 "config --json with APFLOW_UPLOAD_TOKEN empty" "$APFLOW" config --json
t_match "json says so too" '"upload_token": \{ ?"value": "\(empty: invalid\)", "source": "env APFLOW_UPLOAD_TOKEN"' \
	"$(tr -d '\n' <"$T_OUT" | sed 's/  */ /g')"

t_rc 0 "config -c upload_token= (empty flag)" "$APFLOW" -c upload_token= config
t_eq "empty token from a flag" \
	"upload_token           = (empty: invalid)                         # flag -c" "$(line upload_token)"

printf 'upload_token = ""\nargilla_api_key =\n' >apflow.conf
APFLOW_UPLOAD_TOKEN=tok-secret-0001 ARGILLA_API_KEY= t_rc 0 "config: env token beats an empty file value" "$APFLOW" config
t_eq "env token shown hidden" \
	"upload_token           = (set, hidden)                            # env APFLOW_UPLOAD_TOKEN" "$(line upload_token)"
t_eq "another empty secret reads as unset" \
	"argilla_api_key        = (empty: unset)                           # file apflow.conf:2" "$(line argilla_api_key)"
t_nomatch "no secret printed" 'tok-secret' "$(cat "$T_OUT" "$T_ERR")"
APFLOW_UPLOAD_TOKEN=tok-secret-0001 t_rc 0 "config --json with a token" "$APFLOW" config --json
t_nomatch "no secret printed (json)" 'tok-secret' "$(cat "$T_OUT" "$T_ERR")"
rm apflow.conf

# serve refuses what config shows invalid, naming where it came from.
APFLOW_UPLOAD_TOKEN= t_rc 1 "serve refuses the empty token" "$APFLOW" serve --listen 127.0.0.1:0
t_eq "... naming the variable" \
	"apflow: error: the upload token from env APFLOW_UPLOAD_TOKEN is empty: set a token, or unset it to run without one" \
	"$(tail -n 1 "$T_ERR")"

t_done
