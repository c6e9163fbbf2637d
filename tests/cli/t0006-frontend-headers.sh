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

# Prints "TOP: <header> (file:line)" for each include in <> that is not
# allowed, in the files given or in the project's headers they include
# ("apflow/x.h" from include/, "cmd/x.h" or "server/x.h" from src/),
# followed to the end: a library reached through an apflow header counts.
foreign_includes() {
	local top
	declare -A seen
	walk() {	# file
		local f=$1 n=0 line h d
		while IFS= read -r line; do
			n=$((n + 1))
			if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
				h=${BASH_REMATCH[1]}
				[[ $allowed == *" $h "* ]] || echo "$top: <$h> ($f:$n)"
			elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
				h=${BASH_REMATCH[1]}
				for d in include src "$(dirname "$f")"; do
					if [ -f "$d/$h" ]; then
						[ -n "${seen[$d/$h]+x}" ] || { seen[$d/$h]=1; walk "$d/$h"; }
						break
					fi
				done
			fi
		done <"$f"
	}
	for top in "$@"; do
		seen=()
		walk "$top"
	done
}

files=(src/main.c src/cmd/*.c src/cmd/*.h)
t_ok "there are front-end files to check (${#files[@]})" test "${#files[@]}" -gt 20
t_eq "no front-end file includes a third-party header, directly or through an apflow header" "" "$(foreign_includes "${files[@]}")"

# The check can fail: a file including jansson, curl or DuckDB, directly
# or through a header of its own directory, is named with each line.
printf '#include <stdio.h>\n#include <sys/stat.h>\n#include "apflow/util.h"\n#include <jansson.h>\n  #  include <curl/curl.h>\n#include "bad.h"\n' >"$T_DIR/bad.c"
printf '#include <stddef.h>\n#include <duckdb.h>\n#include "bad.h"\n' >"$T_DIR/bad.h"
t_eq "... a file including jansson.h, curl/curl.h and (through bad.h) duckdb.h is named with each line" \
"$T_DIR/bad.c: <jansson.h> ($T_DIR/bad.c:4)
$T_DIR/bad.c: <curl/curl.h> ($T_DIR/bad.c:5)
$T_DIR/bad.c: <duckdb.h> ($T_DIR/bad.h:2)" "$(foreign_includes "$T_DIR/bad.c")"
t_done
