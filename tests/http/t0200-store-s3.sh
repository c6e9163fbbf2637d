#!/usr/bin/env bash
# t0200-store-s3.sh: the s3:// object store against s3rver behind the
# SigV4-verifying proxy (tests/fakes/s3proxy.js): round trips of 0 B, 1 B,
# 1 MiB and 50 MiB (multipart), listing 1,000 keys, refused credentials,
# retries on injected faults, a server killed mid-upload, key checks, and
# that the secret never shows in any output.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/s3.sh"

ALL=$T_DIR/all-output   # every stdout and stderr of apflow, searched for the secret at the end
keep() { cat "$T_OUT" "$T_ERR" >>"$ALL"; }
now_ms() { date +%s%3N; }

t_ok "s3rver and the verifying proxy start" s3_start apflow-test
t_match "apflow talks to the proxy on 127.0.0.1" '^http://127\.0\.0\.1:[0-9]+$' "$AWS_ENDPOINT_URL"

head -c 0 /dev/zero >f0
printf 'x' >f1
head -c 1048576 /dev/urandom >f1m
head -c 52428800 /dev/urandom >f50m

# ---- round trips ----
for f in f0 f1 f1m; do
	t_ok "put $f" "$APFLOW" store put "rt/$f" "$f"; keep
	t_ok "get $f to a file" "$APFLOW" store get "rt/$f" "$f.back"; keep
	t_ok "$f comes back byte for byte" cmp "$f" "$f.back"
done
t_eq "objects up to the multipart size go in one PutObject" 3 "$(s3_log_count '^PutObject PUT /apflow-test/rt/f(0|1|1m) 200')"
t_eq "... and no multipart upload" 0 "$(s3_log_count '^CreateMultipartUpload')"

start=$(now_ms)
t_ok "put 50 MiB" "$APFLOW" store put rt/f50m f50m; keep
put_ms=$(( $(now_ms) - start ))
start=$(now_ms)
t_ok "get 50 MiB" "$APFLOW" store get rt/f50m f50m.back; keep
get_ms=$(( $(now_ms) - start ))
echo "# 50 MiB through the proxy to s3rver (ASan build): put ${put_ms} ms, get ${get_ms} ms"
t_eq "50 MiB comes back with the same SHA-256" "$(sha256sum <f50m)" "$(sha256sum <f50m.back)"
t_eq "50 MiB went through CreateMultipartUpload" 1 "$(s3_log_count '^CreateMultipartUpload POST /apflow-test/rt/f50m\?uploads= 200')"
t_eq "... in four 16 MiB parts" 4 "$(s3_log_count '^UploadPart PUT /apflow-test/rt/f50m\?partNumber=[1-4]&uploadId=[0-9a-f]+ 200')"
t_eq "... and one CompleteMultipartUpload" 1 "$(s3_log_count '^CompleteMultipartUpload POST /apflow-test/rt/f50m\?uploadId=[0-9a-f]+ 200')"
t_ok "head 50 MiB" "$APFLOW" store head rt/f50m; keep
t_match "head gives the size" '^size: 52428800$' "$(cat "$T_OUT")"

t_ok "get to standard output" sh -c "'$APFLOW' store get rt/f1m - >f1m.stdout"
t_ok "... byte for byte" cmp f1m f1m.stdout
t_ok "put from standard input (spooled, then signed)" sh -c "'$APFLOW' store put rt/stdin - <f1m"
t_ok "... comes back" sh -c "'$APFLOW' store get rt/stdin | cmp - f1m"
t_ok "put from a pipe" sh -c "cat f1 | '$APFLOW' store put rt/pipe -"
t_eq "... comes back" x "$("$APFLOW" store get rt/pipe)"

# Keys that need percent-encoding: the proxy recomputes the canonical URI.
odd="odd/a b+c=d&e(1)!*'~\$@;,.txt"
t_ok "put a key with reserved characters" "$APFLOW" store put "$odd" f1; keep
t_ok "get it back" "$APFLOW" store get "$odd" odd.back; keep
t_ok "... byte for byte" cmp f1 odd.back
t_ok "put a UTF-8 key" "$APFLOW" store put "odd/café/€.pdf" f1; keep
t_eq "list shows both keys exactly" "$(printf '%s\n%s' "$odd" "odd/café/€.pdf")" "$("$APFLOW" store ls odd/)"

# ---- listing 1,000 keys ----
t_ok "1,000 keys put through the proxy (aws4-signed)" node "$APFLOW_TOP/tests/fakes/s3put-many.js" apflow-test 'many/k%d' 1000
seq -f 'many/k%04g' 0 999 >want-many
t_ok "ls many/" "$APFLOW" store ls many/; keep
cp "$T_OUT" got-many
t_eq "ls lists exactly the 1,000 keys" 1000 "$(wc -l <got-many)"
t_ok "... in key order" cmp got-many want-many
tokens=$(s3_log_count '^ListObjectsV2 GET /apflow-test\?continuation-token=')
t_ok "ls of the whole bucket" "$APFLOW" store ls; keep
cp "$T_OUT" all-keys
t_eq "... lists every object of the bucket (more than one 1,000-key page)" \
	"$(find "$S3_DIR/apflow-test" -name '*._S3rver_object' | wc -l)" "$(wc -l <all-keys)"
t_eq "... each once" "" "$(sort all-keys | uniq -d)"
t_eq "... following a continuation token" $((tokens + 1)) "$(s3_log_count '^ListObjectsV2 GET /apflow-test\?continuation-token=[^ ]+&list-type=2 200')"
t_ok "ls --json" "$APFLOW" store ls many/k099 --json; keep
t_eq "--json gives an array of key, size, mtime, etag" \
	'[{"key":"many/k0990","size":10},{"key":"many/k0999","size":10}]' \
	"$(node -e 'const a=JSON.parse(require("fs").readFileSync(0));if(!a.every(o=>/^\d{4}-\d\d-\d\dT/.test(o.mtime)&&o.etag))process.exit(1);const s=a.map(o=>({key:o.key,size:o.size}));console.log(JSON.stringify([s[0],s[s.length-1]]))' <"$T_OUT")"

# ---- refused credentials ----
before=$(s3_log_count 'SignatureDoesNotMatch')
t_rc 1 "a wrong secret fails with exit 1" env AWS_SECRET_ACCESS_KEY=not-the-secret "$APFLOW" store put rt/denied f1; keep
t_match "the error names the object, the bucket and HTTP 403" \
	"^apflow: error: cannot put 's3://apflow-test/rt/denied': HTTP 403 SignatureDoesNotMatch: " "$(cat "$T_ERR")"
t_eq "the proxy refused the signature" $((before + 1)) "$(s3_log_count '^PutObject PUT /apflow-test/rt/denied 403 SignatureDoesNotMatch')"
t_rc 1 "nothing was stored under the key" "$APFLOW" store head rt/denied; keep
head -c 8388608 f50m >f8m
t_rc 1 "a wrong secret fails an 8 MiB put too" env AWS_SECRET_ACCESS_KEY=not-the-secret "$APFLOW" store put rt/denied8 f8m; keep
t_match "... naming the bucket and HTTP 403" "cannot put 's3://apflow-test/rt/denied8': HTTP 403 SignatureDoesNotMatch" "$(cat "$T_ERR")"
t_eq "... refused after 100-continue was asked, before the body was sent" 1 \
	"$(s3_log_count '^PutObject PUT /apflow-test/rt/denied8 403 SignatureDoesNotMatch \(before the body\)')"
t_rc 1 "a wrong secret fails a 50 MiB (multipart) put" env AWS_SECRET_ACCESS_KEY=not-the-secret "$APFLOW" store put rt/denied50 f50m; keep
t_match "... naming the bucket and HTTP 403" "cannot put 's3://apflow-test/rt/denied50' \(creating the multipart upload\): HTTP 403 SignatureDoesNotMatch" "$(cat "$T_ERR")"
t_rc 1 "an unknown access key fails with exit 1" env AWS_ACCESS_KEY_ID=AKIANOBODY "$APFLOW" store ls; keep
t_match "... HTTP 403 InvalidAccessKeyId naming the bucket" "cannot list 's3://apflow-test': HTTP 403 InvalidAccessKeyId" "$(cat "$T_ERR")"
t_ok "temporary credentials: the session token is signed and accepted" \
	env AWS_SESSION_TOKEN="$S3_TOKEN" "$APFLOW" store put rt/token f1; keep
t_rc 1 "a wrong session token is refused" env AWS_SESSION_TOKEN=expired "$APFLOW" store get rt/token out; keep
t_match "... with HTTP 403 InvalidToken" "cannot get 's3://apflow-test/rt/token': HTTP 403 InvalidToken" "$(cat "$T_ERR")"
t_rc 1 "a missing bucket fails" env APFLOW_STORE=s3://no-such-bucket "$APFLOW" store put k f1; keep
t_match "... naming it" "'s3://no-such-bucket/k': HTTP 404 NoSuchBucket" "$(cat "$T_ERR")"
t_rc 1 "get of a missing key fails" "$APFLOW" store get rt/none out; keep
t_match "... with HTTP 404 NoSuchKey" "cannot get 's3://apflow-test/rt/none': HTTP 404 NoSuchKey" "$(cat "$T_ERR")"
t_ok "... and leaves no file" test ! -e out

# ---- retries ----
s3_fault 'type=status&status=503&count=2&match=PutObject'
t_ok "two injected 503s are retried and the put succeeds" "$APFLOW" store put rt/retried f1m; keep
t_match "... saying it retries" "HTTP 503; retrying in [0-9]+ ms \(attempt 2 of 5\)" "$(cat "$T_ERR")"
t_eq "... three requests reached the proxy" 3 "$(s3_log_count '^PutObject PUT /apflow-test/rt/retried ')"
t_ok "... and the object is whole" sh -c "'$APFLOW' store get rt/retried | cmp - f1m"
s3_fault 'type=status&status=503&count=1&retry_after=1&match=HeadObject'
start=$(now_ms)
t_ok "Retry-After is honoured" "$APFLOW" store head rt/retried; keep
t_match "... waiting about a second" '^1[0-9]{3}$|^[2-4][0-9]{3}$' "$(( $(now_ms) - start ))"
s3_fault 'type=status&status=500&count=10&match=PutObject'
t_rc 1 "a store that keeps failing gives up after s3_retries" "$APFLOW" -c s3_retries=2 store put rt/failing f1; keep
t_match "... naming the bucket, the status and the attempts" \
	"cannot put 's3://apflow-test/rt/failing': HTTP 500 InternalError: Injected fault\. \(after 3 attempts\)" "$(cat "$T_ERR")"
s3_reset_faults
s3_fault 'type=status&status=400&count=1&match=PutObject'
n=$(s3_log_count '^PutObject')
t_rc 1 "a 400 is not retried" "$APFLOW" store put rt/bad f1; keep
t_eq "... one request only" $((n + 1)) "$(s3_log_count '^PutObject')"
s3_fault 'type=cut&after=1048576&count=1&match=UploadPart'
t_ok "a connection cut in the middle of a part is retried" "$APFLOW" store put rt/cut f50m; keep
t_eq "... the proxy cut it" 1 "$(s3_log_count '^UploadPart PUT /apflow-test/rt/cut\?partNumber=1&.* cut after')"
t_ok "... and the object is whole" sh -c "'$APFLOW' store get rt/cut | cmp - f50m"

# A multipart upload that fails for good is aborted: no parts stay behind.
s3_fault 'type=status&status=500&count=20&match=UploadPart'
t_rc 1 "a multipart upload whose parts keep failing fails" "$APFLOW" -c s3_retries=1 store put rt/aborted f50m; keep
t_match "... saying which part" "cannot put 's3://apflow-test/rt/aborted' \(part 1 of 4\): HTTP 500" "$(cat "$T_ERR")"
t_eq "... and aborts the upload" 1 "$(s3_log_count '^AbortMultipartUpload DELETE /apflow-test/rt/aborted\?uploadId=[0-9a-f]+ 204')"
t_eq "... so no upload is pending" 0 "$(s3_pending_uploads)"
t_rc 1 "... and nothing is under the key" "$APFLOW" store head rt/aborted; keep
s3_reset_faults

# ---- the server killed in the middle of an upload ----
s3_fault 'type=stall&after=4194304&count=1&match=UploadPart'
"$APFLOW" store put rt/killed f50m >killed.out 2>killed.err &
put_pid=$!
for _ in $(seq 1 300); do
	[ "$(s3_log_count '^UploadPart .* stalled after')" -ge 1 ] && break
	sleep 0.1
done
t_eq "the upload is under way when the server dies" 1 "$(s3_log_count '^UploadPart PUT /apflow-test/rt/killed\?partNumber=1&.* stalled after')"
s3_kill
wait "$put_pid"
t_eq "apflow exits 1 when the server is killed mid-upload" 1 "$?"
cat killed.out killed.err >>"$ALL"
t_match "... with an error naming the object and the reason" \
	"^apflow: error: cannot put 's3://apflow-test/rt/killed' \(part 1 of 4\): .*(refused|reset|Connection|connect).*\(after 5 attempts\)" "$(cat killed.err)"
t_ok "the server comes back on the same port and data" s3_restart
t_rc 1 "no object is under the final key" "$APFLOW" store head rt/killed; keep
t_match "... head says 404" "HTTP 404" "$(cat "$T_ERR")"
t_eq "... nor in the listing" "" "$("$APFLOW" store ls rt/killed)"
t_eq "its parts stay pending (abort could not reach the server; S3 lifecycle rules expire them)" 1 "$(s3_pending_uploads)"
t_ok "the same put succeeds now" "$APFLOW" store put rt/killed f50m; keep
t_eq "... whole" "$(sha256sum <f50m)" "$("$APFLOW" store get rt/killed | sha256sum)"

# ---- keys ----
n=$(wc -l <"$S3_LOG")
t_rc 1 "a key with .. is refused" "$APFLOW" store put ../x f1; keep
t_match "... saying why" "invalid key: '\.' or '\.\.' segment" "$(cat "$T_ERR")"
t_rc 1 "an absolute key is refused" "$APFLOW" store put /etc/x f1; keep
t_rc 1 "a key with a .. segment inside is refused" "$APFLOW" store get a/../../b out; keep
t_eq "... before any request" "$n" "$(wc -l <"$S3_LOG")"
t_rc 2 "a missing argument is a usage error" "$APFLOW" store put onlykey; keep

# ---- a store under a prefix ----
t_ok "put under s3://bucket/prefix" env APFLOW_STORE=s3://apflow-test/pre/fix "$APFLOW" store put doc.pdf f1; keep
t_eq "the prefixed store lists its keys without the prefix" doc.pdf "$(APFLOW_STORE=s3://apflow-test/pre/fix "$APFLOW" store ls)"
t_eq "the bucket holds it under the prefix" pre/fix/doc.pdf "$("$APFLOW" store ls pre/)"

# ---- delete ----
t_ok "rm deletes" "$APFLOW" store rm rt/f1 rt/f0; keep
t_rc 1 "... the key is gone" "$APFLOW" store head rt/f1; keep
t_ok "rm of a missing key succeeds" "$APFLOW" store rm rt/f1; keep

# ---- secrets ----
t_ok "debug logging of a put" "$APFLOW" --log-level debug store put rt/debug f50m; keep
t_eq "the secret appears in no output of apflow" 0 "$(grep -cF "$S3_SECRET" "$ALL")"
t_eq "... nor does the session token" 0 "$(grep -cF "$S3_TOKEN" "$ALL")"
t_eq "... nor in the proxy's request log" 0 "$(grep -cF "$S3_SECRET" "$S3_LOG")"
t_eq "no sanitizer report in any output" 0 "$(grep -cE 'Sanitizer|runtime error' "$ALL")"
t_done
