# tests/lib/serve.sh: sourced by the tests that start `apflow serve` with
# its log in serve.log.
#
#   serve_listening [TRIES]
# Waits until serve.log says "listening on" (TRIES checks 0.1 s apart,
# default 100), then sets PORT and URL (http://127.0.0.1:PORT).
serve_listening() {
	local tries=${1:-100}
	for _ in $(seq "$tries"); do
		grep -q '^listening on ' serve.log 2>/dev/null && break
		sleep 0.1
	done
	PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' serve.log)
	URL=http://127.0.0.1:$PORT
}
