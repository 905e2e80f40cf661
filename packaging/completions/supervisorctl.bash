# bash completion for supervisorctl (supervisor-rs).
#
# Completes options, actions, and the names of processes and groups, which
# it asks the running daemon for: it calls supervisorctl `avail` with the
# connection options already typed on the line (-c, -s, -u, -p), so it asks
# the daemon the command will talk to. Works with or without the
# bash-completion package. Names hold colons (group:process), which bash
# splits words at, so the word being completed is taken from the line itself
# and the part up to its last colon is left out of the candidates.

_supervisorctl_actions='add avail clear exit fg help maintail open pid quit reload remove reread restart shutdown signal start status stop tail update version'
_supervisorctl_options='-c --configuration -h --help -i --interactive -s --serverurl -u --username -p --password -r --history_file'

# The configured process names, one a line ("group:process", or "name" when
# group and process share it), from the daemon the typed options point at.
_supervisorctl_names() {
    "$@" avail 2>/dev/null | while read -r name _; do
        [ -n "$name" ] && printf '%s\n' "$name"
    done
}

_supervisorctl() {
    local line=${COMP_LINE:0:COMP_POINT}
    local cur=${line##*[[:space:]]}
    local -a words
    read -r -a words <<< "${line%"$cur"}"

    # Walk the words before the current one: the command, its options (with
    # their values), then the action and its arguments.
    local -a ctl=("${words[0]}")
    local action='' prev='' i w
    local -a args=()
    for ((i = 1; i < ${#words[@]}; i++)); do
        w=${words[i]}
        if [[ -n $action ]]; then
            args+=("$w")
            continue
        fi
        case $w in
            -c|--configuration|-s|--serverurl|-u|--username|-p|--password)
                if ((i + 1 < ${#words[@]})); then
                    ctl+=("$w" "${words[i + 1]}")
                    ((i++))
                else
                    prev=$w
                fi
                ;;
            -r|--history_file)
                if ((i + 1 < ${#words[@]})); then ((i++)); else prev=$w; fi
                ;;
            --configuration=*|--serverurl=*|--username=*|--password=*) ctl+=("$w") ;;
            -*) ;;
            *) action=$w ;;
        esac
    done

    # Candidates are kept in an array and filtered by hand: names such as
    # "group:*" must never meet word splitting or pathname expansion.
    local -a candidates=()
    if [[ -z $action ]]; then
        case $prev in
            -c|--configuration|-r|--history_file)
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                return 0
                ;;
            -s|--serverurl|-u|--username|-p|--password)
                return 0
                ;;
        esac
        if [[ $cur == -* ]]; then
            read -r -a candidates <<< "$_supervisorctl_options"
        else
            read -r -a candidates <<< "$_supervisorctl_actions"
        fi
    else
        local -a names=() groups=() plain=() targets=()
        case $action in
            start|stop|restart|clear|status|pid|signal|tail|fg|update|add|remove)
                mapfile -t names < <(_supervisorctl_names "${ctl[@]}")
                mapfile -t groups < <(printf '%s\n' "${names[@]}" | sed -n 's/^\([^:]*\):.*/\1/p' | sort -u)
                mapfile -t plain < <(printf '%s\n' "${names[@]}" | grep -v -e : -e '^$')
                # What takes a process or a whole group: every name, and
                # "group:*" for each group with processes of their own.
                targets=("${names[@]}")
                for w in "${groups[@]}"; do targets+=("$w:*"); done
                ;;
        esac
        case $action in
            start|stop|restart|clear)
                candidates=(all "${targets[@]}") ;;
            status)
                candidates=(--json "${targets[@]}") ;;
            pid)
                candidates=(all "${names[@]}") ;;
            fg)
                ((${#args[@]} == 0)) && candidates=("${names[@]}") ;;
            signal)
                if ((${#args[@]} == 0)); then
                    candidates=(HUP INT QUIT KILL TERM USR1 USR2 STOP CONT)
                else
                    candidates=(all "${targets[@]}")
                fi
                ;;
            tail)
                # tail [-f|-N] name [stdout|stderr]
                local named=0
                for w in "${args[@]}"; do [[ $w == -* ]] || named=$((named + 1)); done
                if ((named == 0)); then
                    candidates=(-f "${names[@]}")
                elif ((named == 1)); then
                    candidates=(stdout stderr)
                fi
                ;;
            update)
                candidates=(all --dry-run "${groups[@]}" "${plain[@]}") ;;
            add|remove)
                candidates=("${groups[@]}" "${plain[@]}") ;;
            help)
                ((${#args[@]} == 0)) && read -r -a candidates <<< "$_supervisorctl_actions" ;;
            maintail)
                candidates=(-f) ;;
        esac
    fi

    # bash replaces only the part of the word after its last colon.
    local colon_prefix=''
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        colon_prefix=${cur%"${cur##*:}"}
    fi
    COMPREPLY=()
    for w in "${candidates[@]}"; do
        [[ -n $w && $w == "$cur"* ]] && COMPREPLY+=("${w#"$colon_prefix"}")
    done
    return 0
}

complete -F _supervisorctl supervisorctl
