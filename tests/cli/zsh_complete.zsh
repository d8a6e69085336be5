#!/bin/zsh -f
# Prints the completions zsh offers for a command line, one per line, by driving a real
# interactive zsh in a pseudo-terminal (completion only runs inside the line editor).
# usage: zsh -f zsh_complete.zsh COMPLETION_DIR 'netdx-doctor --j'
zmodload zsh/zpty || exit 3
local dir=$1 line=$2
zpty -b comp zsh -f -i
zpty -w comp "PS1='' RPS1='' PROMPT=''"
zpty -w comp "fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
# Every candidate passed to compadd is printed after a marker. The markers are split in the
# commands ("<h""it>") so the terminal's echo of these lines never matches them.
zpty -w comp 'compadd () { local -a __hits; builtin compadd -O __hits "$@"; (( $#__hits )) && print -rl -- "<h""it>${^__hits[@]}"; builtin compadd "$@"; }'
zpty -w comp 'zstyle ":completion:*" menu no; zstyle ":completion:*" list-prompt ""; LISTMAX=100000'
zpty -w comp 'finish () { print -r -- "<do""ne>"; zle send-break }; zle -N finish; bindkey "^X" finish'
zpty -n -w comp "${line}"$'\t'$'\C-x'
local out
zpty -r -m comp out '*<done>*'
zpty -d comp
out=${out//$'\r'/}
for l in ${(f)out}; do
  [[ $l == *'<hit>'* ]] && print -r -- ${l##*<hit>}
done
exit 0
