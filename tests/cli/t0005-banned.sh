#!/usr/bin/env bash
# Every source file of apflow reaches include/apflow/banned.h (git's list of
# functions that make overflows easy: strcpy, sprintf, atoi ...), so that
# using one does not compile.  Read from the dependency files the sanitizer
# build writes (build/asan/src/**/*.d), which name every header a file
# included; a file the build has not compiled fails too.
. "$(dirname "$0")/../lib.sh"
cd "$APFLOW_TOP" || exit 1
n=0
missing=()
for src in src/*.c src/*/*.c; do
	n=$((n + 1))
	dep=build/asan/${src%.c}.d
	if [ ! -f "$dep" ]; then
		missing+=("$src (not built: run make build/asan/apflow)")
	elif ! grep -q 'include/apflow/banned\.h' "$dep"; then
		missing+=("$src")
	fi
done
t_ok "there are sources to check ($n)" test "$n" -gt 50
t_eq "every source file includes banned.h (directly or through apflow/util.h)" "" "${missing[*]+${missing[*]}}"
# And the ban works: a file calling one does not compile.
printf '#include <string.h>\n#include "apflow/banned.h"\nvoid f(char *d, const char *s);\nvoid f(char *d, const char *s) { strcpy(d, s); }\n' >"$T_DIR/b.c"
t_rc 1 "strcpy does not compile" ${CC:-cc} -c -I include -o "$T_DIR/b.o" "$T_DIR/b.c"
t_match "... saying it is banned" 'sorry_strcpy_is_a_banned_function' "$(cat "$T_ERR")"
t_done
