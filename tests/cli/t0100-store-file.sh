#!/usr/bin/env bash
# t0100-store-file.sh: the file:// object store through 'apflow store':
# round trips of 0 B, 1 B, 1 MiB and 50 MiB, listing 1,000 keys in order,
# a put killed in the middle (no final key, no visible temp, an old object
# left whole), concurrent puts, key checks, rm and the output formats.
. "$(dirname "$0")/../lib.sh"
# Sanitizers exit 1 by default, which an expected "exit 1" would accept:
# make their reports fail every t_rc.

export APFLOW_STORE=file://lake
now_ms() { date +%s%3N; }
tmp_files() { find lake -name '.apflow-tmp-*' | wc -l; }

head -c 0 /dev/zero >f0
printf 'x' >f1
head -c 1048576 /dev/urandom >f1m
head -c 52428800 /dev/urandom >f50m

# ---- round trips ----
for f in f0 f1 f1m; do
	t_ok "put $f" "$APFLOW" store put "rt/$f" "$f"
	t_ok "get $f to a file" "$APFLOW" store get "rt/$f" "$f.back"
	t_ok "$f comes back byte for byte" cmp "$f" "$f.back"
done
start=$(now_ms)
t_ok "put 50 MiB" "$APFLOW" store put rt/f50m f50m
put_ms=$(( $(now_ms) - start ))
start=$(now_ms)
t_ok "get 50 MiB" "$APFLOW" store get rt/f50m f50m.back
get_ms=$(( $(now_ms) - start ))
echo "# 50 MiB to file:// (ASan build, with fsync): put ${put_ms} ms, get ${get_ms} ms"
t_eq "50 MiB comes back with the same SHA-256" "$(sha256sum <f50m)" "$(sha256sum <f50m.back)"
t_ok "an object is a plain file at DIR/KEY" cmp f50m lake/rt/f50m
t_ok "get to standard output" sh -c "'$APFLOW' store get rt/f1m >f1m.stdout"
t_ok "... byte for byte" cmp f1m f1m.stdout
t_ok "put from standard input" sh -c "cat f1m | '$APFLOW' store put rt/stdin -"
t_ok "... byte for byte" cmp f1m lake/rt/stdin
t_ok "an absolute file:// URL reaches the same objects" "$APFLOW" --store "file://$PWD/lake" store get rt/f1 abs.back
t_ok "... byte for byte" cmp f1 abs.back
t_ok "head" "$APFLOW" store head rt/f1m
t_match "head shows the size and mtime" "^key: rt/f1m
size: 1048576
mtime: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z
etag: -$" "$(cat "$T_OUT")"
t_eq "no temp file is left behind" 0 "$(tmp_files)"

# ---- listing ----
mkdir -p lake/many
for i in $(seq -f '%04g' 0 999); do printf '%s' "$i" >"lake/many/k$i"; done
seq -f 'many/k%04g' 0 999 >want-many
t_ok "ls many/" "$APFLOW" store ls many/
cp "$T_OUT" got-many
t_eq "ls lists exactly the 1,000 keys" 1000 "$(wc -l <got-many)"
t_ok "... in key order" cmp got-many want-many
t_eq "a prefix need not end at a '/'" "$(printf 'many/k0990\nmany/k0991')" "$("$APFLOW" store ls many/k099 | head -2)"
t_ok "ls -l" "$APFLOW" store ls -l many/k0999
t_match "-l shows size, mtime and key" '^ +4  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  many/k0999$' "$(cat "$T_OUT")"
t_ok "ls --json" "$APFLOW" store ls --json rt/f1
t_eq "--json gives key, size, mtime, etag" '[{"key":"rt/f1","size":1},{"key":"rt/f1m","size":1048576}]' \
	"$(node -e 'const a=JSON.parse(require("fs").readFileSync(0));console.log(JSON.stringify(a.map(o=>({key:o.key,size:o.size}))))' <"$T_OUT")"
t_eq "ls --json of nothing is an empty array" "[]" "$("$APFLOW" store ls --json nothing/)"
# Byte order of whole keys, as S3 lists them: "a-c" < "a.b" < "a/b".
mkdir -p lake/ord/a
: >lake/ord/a/b; : >lake/ord/a-c; : >lake/ord/a.b
t_eq "keys list in byte order, not directory order" "$(printf 'ord/a-c\nord/a.b\nord/a/b')" "$("$APFLOW" store ls ord/)"

# ---- a put killed in the middle ----
mkfifo slow
"$APFLOW" store put big/new slow 2>killed.err &
put_pid=$!
exec 3>slow
head -c 10485760 f50m >&3
for _ in $(seq 1 100); do
	[ "$(find lake/big -name '.apflow-tmp-*' -size +9M 2>/dev/null | wc -l)" -ge 1 ] && break
	sleep 0.05
done
t_eq "the put is writing its temp file" 1 "$(find lake/big -name '.apflow-tmp-*' -size +9M | wc -l)"
kill -9 "$put_pid"
wait "$put_pid" 2>/dev/null
exec 3>&-
t_rc 1 "a killed put leaves no object under the final key" "$APFLOW" store head big/new
t_match "... head says so" "cannot head 'file://.*/lake/big/new': no such object" "$(cat "$T_ERR")"
t_eq "... the listing shows no temp file" "" "$("$APFLOW" store ls big/)"
t_ok "... and the temp is only hidden, not gone (it was killed mid-write)" test "$(tmp_files)" -eq 1

t_ok "put the old version of a key" "$APFLOW" store put big/old f1m
"$APFLOW" store put big/old slow 2>killed.err &
put_pid=$!
exec 3>slow
head -c 10485760 f50m >&3
for _ in $(seq 1 100); do
	[ "$(find lake/big -name '.apflow-tmp-*' -size +9M 2>/dev/null | wc -l)" -ge 2 ] && break
	sleep 0.05
done
kill -9 "$put_pid"
wait "$put_pid" 2>/dev/null
exec 3>&-
t_ok "a put killed while replacing a key leaves the old object whole" sh -c "'$APFLOW' store get big/old | cmp - f1m"
t_eq "the listing shows the keys only" "big/old" "$("$APFLOW" store ls big/)"
t_ok "the killed key can be put again" "$APFLOW" store put big/new f1
t_eq "... and lists" "$(printf 'big/new\nbig/old')" "$("$APFLOW" store ls big/)"

# ---- concurrent puts of one key: the key is one of them, whole ----
for i in 1 2 3 4 5 6; do head -c $((300000 + i)) f50m >"c$i"; done
for i in 1 2 3 4 5 6; do "$APFLOW" store put race/key "c$i" & done
wait
n=0
for i in 1 2 3 4 5 6; do cmp -s "c$i" lake/race/key && n=$((n + 1)); done
t_eq "six concurrent puts of one key leave exactly one of them, whole" 1 "$n"

# ---- errors and keys ----
t_rc 1 "get of a missing key fails" "$APFLOW" store get rt/none out
t_match "... saying it is missing" "^apflow: error: cannot get 'file://.*/lake/rt/none': no such object$" "$(cat "$T_ERR")"
t_ok "... and leaves no file" test ! -e out
cp f1 existing
t_rc 1 "get of a missing key over an existing file fails" "$APFLOW" store get rt/none existing
t_ok "... and leaves the file as it was" cmp f1 existing
t_rc 1 "put of a missing file fails" "$APFLOW" store put rt/x no-such-file
t_match "... naming the file" "cannot open 'no-such-file': No such file" "$(cat "$T_ERR")"
t_rc 1 "a key with .. is refused" "$APFLOW" store put ../escaped f1
t_match "... saying why" "invalid key: '\.' or '\.\.' segment" "$(cat "$T_ERR")"
t_ok "... and nothing is written outside the store" test ! -e escaped
t_rc 1 "an absolute key is refused" "$APFLOW" store put /tmp/x f1
t_match "... saying why" "invalid key: absolute key" "$(cat "$T_ERR")"
t_rc 1 "a .. inside a key is refused" "$APFLOW" store get rt/../../etc/passwd out
t_rc 1 "an empty segment is refused" "$APFLOW" store put a//b f1
t_rc 1 "the temp-file prefix is reserved" "$APFLOW" store put a/.apflow-tmp-1 f1
t_rc 1 "a prefix with .. is refused" "$APFLOW" store ls ../
t_rc 2 "an unknown subcommand is a usage error" "$APFLOW" store frob
t_rc 2 "put without FILE is a usage error" "$APFLOW" store put k
t_ok "--help lists the subcommands" "$APFLOW" store --help
t_match "... put, get, ls, rm, head" 'store put KEY.*
.*store get KEY.*
.*store ls \[PREFIX\].*
.*store rm KEY.*
.*store head KEY' "$(cat "$T_OUT")"

# ---- rm ----
t_ok "rm deletes several keys" "$APFLOW" store rm rt/f0 rt/f1 ord/a/b
t_rc 1 "... they are gone" "$APFLOW" store head rt/f1
t_ok "... and directories they emptied are gone too" test ! -e lake/ord/a
t_ok "rm of a missing key succeeds" "$APFLOW" store rm rt/f0
t_rc 1 "rm with an invalid key fails" "$APFLOW" store rm rt/f1m ../x
t_ok "... but still deletes the valid ones" test ! -e lake/rt/f1m
t_done
