#!/usr/bin/env bash
# Prints, for every tests/confs/*.cfg, what `l4lb -c` says and whether that is
# what the file's marks ask for (tests/confs/README.md), as a Markdown table.
# Rerun it after a merge to see which keywords still block which files.
#
# usage: scripts/confs_check.sh [--no-build]
#   L4LB=path/to/l4lb   use that binary (default: cargo build, target/debug/l4lb)
#   HAPROXY=path        also run `haproxy -c` on each file (default: the one
#                       on PATH, if any; HAPROXY= to skip)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ ${1:-} != --no-build && -z ${L4LB:-} ]]; then
    cargo build --quiet
fi
l4lb=${L4LB:-$root/target/debug/l4lb}
haproxy=${HAPROXY-$(command -v haproxy || true)}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The map and pattern files the files name as @DIR@/NAME, as the test does.
cp tests/confs/data/* "$tmp"/

# The keywords of each waited family; the same lists as tests/confs/marks.rs.
health_checks='option httpchk|http-check|option mysql-check|option pgsql-check|option redis-check|option smtpchk|option ldap-check|option ssl-hello-chk|option log-health-checks|option external-check|external-check|check-ssl|check-send-proxy|check-sni|check-alpn|verify|agent-check|agent-port|agent-inter|agent-addr|agent-send'
routing='tcp-response'

# mark FILE NAME: the value of the `# l4lb-NAME:` marks (one per line).
mark() {
    sed -n '/^[^#]/q; s/^# *l4lb-'"$2"': *//p' "$1"
}

# substitute FILE: placeholders replaced (a port per distinct @FE_/@BE_ name,
# @DIR@ by the temp dir), as the test does; -c binds nothing.
substitute() {
    awk -v dir="$tmp" '{
        out = ""; line = $0
        while (match(line, /@(FE|BE)_[A-Za-z0-9_.-]+@/)) {
            key = substr(line, RSTART, RLENGTH)
            if (!(key in port)) port[key] = 20001 + n++
            out = out substr(line, 1, RSTART - 1) port[key]
            line = substr(line, RSTART + RLENGTH)
        }
        line = out line
        gsub(/@DIR@/, dir, line)
        print line
    }' "$1"
}

in_family() { # KEYWORD FAMILY-REGEX
    [[ $1 =~ ^($2)$ ]]
}


header="| file | family | marks | \`l4lb -c\` | errors (keyword x count) | verdict |"
[[ -n $haproxy ]] && header+=" \`haproxy -c\` |"
echo "$header"
echo "$header" | sed 's/[^|]*|/---|/g; s/^---|/|/'
fail=0
for f in tests/confs/*.cfg; do
    name=$(basename "$f")
    family=$(mark "$f" family)
    test=$(mark "$f" test)
    waits=$(mark "$f" waits | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//')
    conf="$tmp/$name"
    substitute "$f" >"$conf"
    set +e
    "$l4lb" -c -f "$conf" >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    # The keyword of every error line about this file.
    keywords=$(sed -n "s|^l4lb: $conf:[0-9]*: '\([^']*\)': .*|\1|p" "$tmp/err")
    others=$(grep '^l4lb: ' "$tmp/err" | grep -v "^l4lb: $conf:[0-9]*: '" |
        grep -vi '^l4lb: warning' | grep -vc '^l4lb: configuration is invalid' || true)
    counted=$(printf '%s\n' "$keywords" | sed '/^$/d' | sort | uniq -c |
        awk '{c=$1; $1=""; sub(/^ /,""); printf "%s%s x%d", sep, $0, c; sep=", "}')
    ((others > 0)) && counted+="${counted:+, }$others without keyword"
    result=$([[ $rc == 0 ]] && echo "valid" || echo "exit $rc")
    allowed=''
    [[ $waits == *health-checks* ]] && allowed+="${allowed:+|}$health_checks"
    [[ $waits == *routing* ]] && allowed+="${allowed:+|}$routing"
    if [[ -z $waits ]]; then
        verdict=$([[ $rc == 0 ]] && echo "ok" || echo "**FAIL**: must load")
    elif [[ $rc != 1 ]]; then
        verdict="**FAIL**: must fail on $waits only"
    else
        foreign=''
        while IFS= read -r kw; do
            [[ -z $kw ]] && continue
            in_family "$kw" "$allowed" || foreign+="${foreign:+, }$kw"
        done <<<"$keywords"
        ((others > 0)) && foreign+="${foreign:+, }(errors without keyword)"
        if [[ -n $foreign ]]; then
            verdict="**FAIL**: not waited for: $(tr ',' '\n' <<<"$foreign" | sed 's/^ //' | sort -u | paste -sd, | sed 's/,/, /g')"
        else
            verdict="ok (waits)"
        fi
    fi
    [[ $verdict == ok* ]] || fail=$((fail + 1))
    marks="$test${waits:+; waits $waits}"
    row="| $name | $family | $marks | $result | ${counted:--} | $verdict |"
    if [[ -n $haproxy ]]; then
        if "$haproxy" -c -q -f "$conf" >/dev/null 2>&1; then row+=' valid |'; else row+=' **refused** |'; fi
    fi
    echo "$row"
done
echo
echo "$fail file(s) not as their marks say."
