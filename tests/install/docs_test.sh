#!/bin/sh
# Usage: docs_test.sh NAME SOURCE_DIR GPUMEM
#   man_options   every variable of shim/options.c's table has its entry in
#                 doc/libgpumem.7, and the page renders without a warning
#   man_commands  every command of gpumem (its usage text and its table of
#                 commands) and every flag of gpumem run is in doc/gpumem.1
#   completion    doc/gpumem.bash-completion parses, completes commands and
#                 run's flags, and knows every command
set -u
name=$1 source=$2 gpumem=$3
fail() { echo "FAIL: $*"; exit 1; }
man1=$source/doc/gpumem.1 man7=$source/doc/libgpumem.7
# groff's own escapes: \- is a minus
unescape() { sed 's/\\-/-/g; s/\\f[BIRP]//g' "$1"; }
render_check() {
  command -v groff > /dev/null || return 0
  out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$1" 2>&1)
  [ -z "$out" ] || fail "groff warns on $1: $out"
}
# the commands: the rows of commands[] in tools/gpumem.c and the usage text
commands() {
  { sed -n 's/^ *{ "\([a-z]*\)", gpumem__cmd_[a-z_]* },$/\1/p' "$source/tools/gpumem.c"
    "$gpumem" help 2>&1 | sed -n 's/^  gpumem \([a-z]*\).*/\1/p'; } | sort -u
}
# the options of gpumem CMD in its usage text (its line and the continuation lines under it)
flags_of() {
  "$gpumem" help 2>&1 | awk -v c="$1" '/^  gpumem [a-z]/ { on = ($2 == c) } on' | grep -o -- '--[a-z][a-z-]*' | sort -u
}

case $name in
man_options)
  vars=$(sed -n 's/^ *\[OPT_[A-Z_]*\] = { "\(GPUMEM_[A-Z_]*\)".*/\1/p' "$source/shim/options.c")
  [ "$(echo "$vars" | wc -l)" -ge 11 ] || fail "read only $(echo "$vars" | wc -l) options from shim/options.c"
  for v in $vars; do
    unescape "$man7" | grep -q "^\.B $v\$" || fail "$v (shim/options.c) has no entry (.B $v) in doc/libgpumem.7"
  done
  render_check "$man7"
  echo "ok: $(echo $vars | wc -w) variables"
  ;;
man_commands)
  n=0
  for c in $(commands); do
    unescape "$man1" | grep -q "^\.B gpumem $c" || fail "gpumem $c is not in the SYNOPSIS of doc/gpumem.1"
    unescape "$man1" | grep -q "^\.BR* $c\b" || fail "gpumem $c has no entry under COMMANDS in doc/gpumem.1"
    n=$((n + 1))
  done
  [ $n -ge 7 ] || fail "only $n commands found"
  for f in $("$gpumem" run --help | grep -o -- '--[a-z-]*' | sort -u); do
    unescape "$man1" | grep -q -- "^\.BI* $f\b" || fail "gpumem run $f has no entry in doc/gpumem.1"
  done
  # every option of every command's usage line, and nothing left from before a command existed
  for c in $(commands); do
    for f in $(flags_of "$c"); do
      unescape "$man1" | grep -q -- "$f\b" || fail "gpumem $c $f is not in doc/gpumem.1"
    done
  done
  ! grep -n '(issue [0-9]*)' "$man1" || fail "doc/gpumem.1 still describes an issue, not the command"
  render_check "$man1"
  echo "ok: $n commands"
  ;;
completion)
  command -v bash > /dev/null || { echo "skipped: no bash"; exit 77; }
  bash -n "$source/doc/gpumem.bash-completion" || fail "syntax"
  for c in $(commands); do
    grep -q "^ *local commands=\".*\b$c\b" "$source/doc/gpumem.bash-completion" || fail "completion lacks $c"
  done
  for c in $(commands); do
    [ "$c" = run ] || [ "$c" = help ] && continue
    for f in $(flags_of "$c"); do
      got=$(bash -c '. "$1"; COMP_WORDS=(gpumem $2 $3); COMP_CWORD=2; _gpumem; echo "${COMPREPLY[*]}"' sh \
        "$source/doc/gpumem.bash-completion" "$c" "$f")
      echo " $got " | grep -q -- " $f " || fail "gpumem $c $f<TAB> does not complete: '$got'"
    done
  done
  got=$(bash -c '. "$1"; COMP_WORDS=(gpumem r); COMP_CWORD=1; _gpumem; echo "${COMPREPLY[*]}"' sh \
    "$source/doc/gpumem.bash-completion")
  [ "$got" = "report run" ] || fail "gpumem r<TAB>: '$got'"
  got=$(bash -c '. "$1"; COMP_WORDS=(gpumem run --al); COMP_CWORD=2; _gpumem; echo "${COMPREPLY[*]}"' sh \
    "$source/doc/gpumem.bash-completion")
  [ "$got" = "--alarm" ] || fail "gpumem run --al<TAB>: '$got'"
  got=$(bash -c '. "$1"; COMP_WORDS=(gpumem run --alarm 95 python -); COMP_CWORD=5; _gpumem; echo "${COMPREPLY[*]}"' sh \
    "$source/doc/gpumem.bash-completion")
  [ -z "$got" ] || fail "the command's own arguments got gpumem's flags: '$got'"
  echo ok
  ;;
*) fail "unknown test $name" ;;
esac
