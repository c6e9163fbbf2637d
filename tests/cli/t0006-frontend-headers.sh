#!/usr/bin/env bash
# The front-end (src/main.c, src/cmd/) includes no third-party header: each
# library sits behind one adapter in src/core/ (docs: ../shared/STYLE.md,
# "a library core and thin front-ends").  A header in <> must be one of
# the C standard library's or POSIX's (and glibc's getopt.h for
# getopt_long); everything else comes through "apflow/..." or "cmd/...".
. "$(dirname "$0")/../lib.sh"
cd "$APFLOW_TOP" || exit 1

allowed=" assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h locale.h math.h
 setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h
 stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h wchar.h wctype.h
 aio.h arpa/inet.h cpio.h dirent.h dlfcn.h fcntl.h fmtmsg.h fnmatch.h ftw.h glob.h grp.h iconv.h
 langinfo.h libgen.h monetary.h mqueue.h net/if.h netdb.h netinet/in.h netinet/tcp.h nl_types.h poll.h
 pthread.h pwd.h regex.h sched.h search.h semaphore.h spawn.h strings.h sys/ipc.h sys/mman.h sys/msg.h
 sys/resource.h sys/select.h sys/sem.h sys/shm.h sys/socket.h sys/stat.h sys/statvfs.h sys/time.h
 sys/times.h sys/types.h sys/uio.h sys/un.h sys/utsname.h sys/wait.h syslog.h tar.h termios.h
 ulimit.h unistd.h utime.h utmpx.h wordexp.h getopt.h "
allowed=" $(echo $allowed) " # one space between names, for the match below

# Prints "file:line: <header>" for each include in <> that is not allowed.
foreign_includes() {
	local f n line h
	for f in "$@"; do
		n=0
		while IFS= read -r line; do
			n=$((n + 1))
			[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]] || continue
			h=${BASH_REMATCH[1]}
			[[ $allowed == *" $h "* ]] || echo "$f:$n: <$h>"
		done <"$f"
	done
}

files=(src/main.c src/cmd/*.c src/cmd/*.h)
t_ok "there are front-end files to check (${#files[@]})" test "${#files[@]}" -gt 20
t_eq "no front-end file includes a third-party header" "" "$(foreign_includes "${files[@]}")"

# The check can fail: a file including jansson, curl or DuckDB is named.
printf '#include <stdio.h>\n#include <sys/stat.h>\n#include "apflow/util.h"\n#include <jansson.h>\n  #  include <curl/curl.h>\n#include <duckdb.h>\n' >"$T_DIR/bad.c"
t_eq "... a file including jansson.h, curl/curl.h and duckdb.h is named with each line" \
"$T_DIR/bad.c:4: <jansson.h>
$T_DIR/bad.c:5: <curl/curl.h>
$T_DIR/bad.c:6: <duckdb.h>" "$(foreign_includes "$T_DIR/bad.c")"
t_done
