#!/usr/bin/env bash
# deploy/: what can be checked without Docker or a network.  The systemd
# unit passes systemd-analyze verify (with ExecStart pointing at the
# binary under test); the Dockerfiles are two-stage Debian 12 and end as a
# non-root user; the Space's front matter and its Dockerfile agree on the
# port; the compose file names the official images; the command lines the
# files give apflow are accepted by it (--help of each).
. "$(dirname "$0")/../lib.sh"
D=$APFLOW_TOP/deploy
if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/local/bin/apflow|$APFLOW|" "$D/apflow.service" >apflow.service
	t_ok "systemd-analyze verify apflow.service" env SYSTEMD_LOG_LEVEL=err systemd-analyze verify ./apflow.service
	t_eq "and says nothing" "" "$(cat "$T_OUT" "$T_ERR" | grep -v 'is not executable\|Failed to resolve user\|User=apflow' || true)"
else
	t_ok "systemd-analyze not installed: skipped" true
fi
for f in "$D/Dockerfile" "$D/hf-space/Dockerfile"; do
	n=${f#"$APFLOW_TOP/"}
	t_eq "$n: two stages on Debian 12" "2" "$(grep -c '^FROM debian:12' "$f")"
	t_match "$n: ends as a non-root user" '^USER (apflow|user)$' "$(grep '^USER' "$f" | tail -1)"
	t_match "$n: copies libduckdb.so to the RUNPATH's place" 'COPY --from=build /src/third_party/duckdb/lib/libduckdb.so' "$(cat "$f")"
done
t_match "Space: sdk docker" '^sdk: docker$' "$(sed -n '/^---$/,/^---$/p' "$D/hf-space/README.md")"
port=$(sed -n 's/^app_port: //p' "$D/hf-space/README.md")
t_match "Space: the app port is where apflow listens" "APFLOW_LISTEN=0.0.0.0:$port" "$(cat "$D/hf-space/Dockerfile")"
t_match "compose: Argilla's official image" 'image: argilla/argilla-server' "$(cat "$D/compose.yaml")"
t_match "compose: its search engine" 'image: docker.elastic.co/elasticsearch/elasticsearch' "$(cat "$D/compose.yaml")"
if python3 -c "import yaml" 2>/dev/null; then
	t_ok "compose.yaml parses (python3 yaml)" python3 -c "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert set(d[\"services\"]) >= {\"apflow\", \"argilla\", \"elasticsearch\"}" "$D/compose.yaml"
fi
t_ok "the unit's command line is accepted" "$APFLOW" serve --process --help
t_ok "the compose command line is accepted" "$APFLOW" serve --process=vessels_ocr_trial --open --help
t_done
