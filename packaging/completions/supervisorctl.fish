# fish completion for supervisorctl (supervisor-rs).
#
# Completes options, actions, and the names of processes and groups, which
# it asks the running daemon for: it runs supervisorctl `avail` with the
# connection options already typed on the line (-c, -s, -u, -p), so it asks
# the daemon the command will talk to.

set -g __supervisorctl_actions add avail clear exit fg help maintail open pid quit reload remove reread restart shutdown signal start status stop tail update version

# The supervisorctl command typed so far, cut to the command and its
# connection options.
function __supervisorctl_ctl
    set -l words (commandline -opc)
    set -l ctl $words[1]
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case -c --configuration -s --serverurl -u --username -p --password
                set -l next (math $i + 1)
                if test $next -le (count $words)
                    set ctl $ctl $words[$i] $words[$next]
                end
                set i $next
            case '--configuration=*' '--serverurl=*' '--username=*' '--password=*'
                set ctl $ctl $words[$i]
            case -r --history_file
                set i (math $i + 1)
            case '-*'
            case '*'
                break
        end
        set i (math $i + 1)
    end
    printf '%s\n' $ctl
end

# The configured process names ("group:process", or "name" when group and
# process share it).
# How many words follow the action on the line, before the one completed.
function __supervisorctl_nargs
    set -l words (commandline -opc)
    # Counted from the first word that is an action.
    set -l n 0
    set -l seen 0
    for w in $words[2..-1]
        if test $seen -eq 1
            set n (math $n + 1)
        else if contains -- $w $__supervisorctl_actions
            set seen 1
        end
    end
    echo $n
end

function __supervisorctl_names
    set -l ctl (__supervisorctl_ctl)
    $ctl avail 2>/dev/null | string replace -r '\s.*' ''
end

# Every name, and "group:*" for each group with processes of their own.
function __supervisorctl_targets
    set -l names (__supervisorctl_names)
    printf '%s\n' $names
    string match -r '^[^:]+(?=:)' -- $names | sort -u | string replace -r '$' ':*'
end

function __supervisorctl_groups
    __supervisorctl_names | string replace -r ':.*' '' | sort -u
end

complete -c supervisorctl -f
complete -c supervisorctl -s c -l configuration -r -F -d 'config file'
complete -c supervisorctl -s h -l help -d 'show help and exit'
complete -c supervisorctl -s i -l interactive -d 'open the interactive shell'
complete -c supervisorctl -s s -l serverurl -x -d 'URL supervisord listens on'
complete -c supervisorctl -s u -l username -x -d 'user name for authentication'
complete -c supervisorctl -s p -l password -x -d 'password for authentication'
complete -c supervisorctl -s r -l history_file -r -F -d 'history file of the shell'

set -l no_action "not __fish_seen_subcommand_from $__supervisorctl_actions"
complete -c supervisorctl -n $no_action -a "$__supervisorctl_actions"

complete -c supervisorctl -n '__fish_seen_subcommand_from start stop restart clear' -a 'all (__supervisorctl_targets)'
complete -c supervisorctl -n '__fish_seen_subcommand_from status' -a '--json (__supervisorctl_targets)'
complete -c supervisorctl -n '__fish_seen_subcommand_from pid fg' -a '(__supervisorctl_names)'
complete -c supervisorctl -n '__fish_seen_subcommand_from pid' -a all
complete -c supervisorctl -n '__fish_seen_subcommand_from signal; and test (__supervisorctl_nargs) -eq 0' -a 'HUP INT QUIT KILL TERM USR1 USR2 STOP CONT'
complete -c supervisorctl -n '__fish_seen_subcommand_from signal; and test (__supervisorctl_nargs) -ge 1' -a 'all (__supervisorctl_targets)'
complete -c supervisorctl -n '__fish_seen_subcommand_from tail' -a '-f stdout stderr (__supervisorctl_names)'
complete -c supervisorctl -n '__fish_seen_subcommand_from update' -a 'all --dry-run'
complete -c supervisorctl -n '__fish_seen_subcommand_from update add remove' -a '(__supervisorctl_groups)'
complete -c supervisorctl -n '__fish_seen_subcommand_from help' -a "$__supervisorctl_actions"
complete -c supervisorctl -n '__fish_seen_subcommand_from maintail' -a '-f'
