#!/bin/sh
# install-deps.sh: install what apflow needs to build, run and test.
#
# Idempotent: it installs only what is missing, so `make` can call it cheaply.
# Works as root or through sudo.  Nothing is downloaded except through apt and
# npm, and every npm package is pinned (scripts/npm/package-lock.json).
#
#   scripts/install-deps.sh          build + runtime + test dependencies
#   scripts/install-deps.sh --check  exit 0 when everything is present, 1 otherwise
set -eu

DUCKDB_VERSION=1.4.4
DUCKDB_BINDINGS_VERSION=1.4.4-r.4

top=$(cd "$(dirname "$0")/.." && pwd)
tp="$top/third_party"

APT_PACKAGES="build-essential pkg-config ca-certificates curl
 libmupdf-dev mupdf-tools libmujs-dev libgumbo-dev libjbig2dec0-dev libopenjp2-7-dev
 libjpeg-dev libfreetype-dev libharfbuzz-dev zlib1g-dev
 libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng
 libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libpcre2-dev libssl-dev
 libcmocka-dev chromium poppler-utils fonts-dejavu-core
 jq file time procps ripgrep
 clang libclang-rt-dev"

check=0
[ "${1:-}" = "--check" ] && check=1

missing_apt() {
	for p in $APT_PACKAGES; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$p"
	done
	# Node.js may come from elsewhere than Debian (its npm then conflicts with
	# Debian's): any working node + npm will do.
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || printf 'nodejs npm '
}

duckdb_ok() {
	[ -f "$tp/duckdb/include/duckdb.h" ] && [ -f "$tp/duckdb/lib/libduckdb.so" ] &&
		[ "$(cat "$tp/duckdb/VERSION" 2>/dev/null)" = "$DUCKDB_VERSION" ]
}

npm_ok() {
	[ -f "$tp/npm/node_modules/.apflow-stamp" ] &&
		cmp -s "$top/scripts/npm/package-lock.json" "$tp/npm/node_modules/.apflow-stamp"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "install-deps: need root or sudo to run: $*" >&2
		exit 1
	fi
}

miss=$(missing_apt)
if [ $check -eq 1 ]; then
	[ -z "$miss" ] && duckdb_ok && npm_ok && exit 0
	exit 1
fi

if [ -n "$miss" ]; then
	echo "install-deps: installing Debian packages: $miss" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss >/dev/null
fi

if ! duckdb_ok; then
	echo "install-deps: fetching DuckDB $DUCKDB_VERSION (libduckdb.so + duckdb.h) from npm" >&2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "@duckdb/node-bindings-linux-x64@$DUCKDB_BINDINGS_VERSION" "duckdb@$DUCKDB_VERSION" >/dev/null)
	mkdir -p "$tmp/b" "$tmp/h"
	tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp/b" package/libduckdb.so package/package.json
	tar -xzf "$tmp"/duckdb-"$DUCKDB_VERSION".tgz -C "$tmp/h" package/src/duckdb/src/include/duckdb.h package/package.json
	got_b=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/b/package/package.json")
	got_h=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/h/package/package.json")
	if [ "$got_b" != "$DUCKDB_BINDINGS_VERSION" ] || [ "$got_h" != "$DUCKDB_VERSION" ]; then
		echo "install-deps: DuckDB version mismatch: bindings $got_b, header $got_h" >&2
		exit 1
	fi
	if ! grep -q "v$DUCKDB_VERSION" "$tmp/b/package/libduckdb.so"; then
		echo "install-deps: libduckdb.so does not carry version v$DUCKDB_VERSION" >&2
		exit 1
	fi
	rm -rf "$tp/duckdb.new"
	mkdir -p "$tp/duckdb.new/lib" "$tp/duckdb.new/include"
	cp "$tmp/b/package/libduckdb.so" "$tp/duckdb.new/lib/"
	cp "$tmp/h/package/src/duckdb/src/include/duckdb.h" "$tp/duckdb.new/include/"
	echo "$DUCKDB_VERSION" >"$tp/duckdb.new/VERSION"
	rm -rf "$tp/duckdb"
	mv "$tp/duckdb.new" "$tp/duckdb"
fi

if ! npm_ok; then
	echo "install-deps: installing test tools from npm (s3rver, aws4, playwright-core)" >&2
	mkdir -p "$tp/npm"
	cp "$top/scripts/npm/package.json" "$top/scripts/npm/package-lock.json" "$tp/npm/"
	(cd "$tp/npm" && npm ci --silent --no-audit --no-fund >/dev/null)
	cp "$top/scripts/npm/package-lock.json" "$tp/npm/node_modules/.apflow-stamp"
fi
exit 0
