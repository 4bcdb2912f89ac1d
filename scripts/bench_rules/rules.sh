# shellcheck shell=bash
# rules.sh: the generated parts of bench.sh's `rules` test: the allowlist and the rule sections
# (sourced by bench.sh, which adds global, defaults and backend b; see scripts/BENCH-NOTES.md).
# Written for HAProxy 2.6 first: the same text is l4lb's conf, as the conf language is HAProxy's.

# rules_allowlist N: N IPv4 networks, one a line, as `acl NAME src -f FILE` reads them: each in
# its own /16 (11.0.0.0 to 110.255.0.0, none overlapping, none holding 127.0.0.1), prefix lengths
# cycling /16 /20 /24 /28 and bare /32 addresses, every one aligned to its mask (nginx warns
# otherwise). The one before last is 127.0.0.0/30, the client's 127.0.0.1 (a list scanned in order
# finds it only at its end); 127.0.0.9 is in none, so a client from there is refused. N >= 2.
rules_allowlist() {
  awk -v n="$1" 'BEGIN {
    split("16 20 24 28 32", plen, " ")
    for (i = 0; i < n; i++) {
      if (i == n - 2) { print "127.0.0.0/30"; continue }
      p = plen[i % 5 + 1]
      o1 = 11 + i % 100; o2 = int(i / 100) % 256; o3 = (i * 37) % 256; o4 = (i * 91) % 256
      if (p <= 16) o3 = 0; else if (p == 20) o3 -= o3 % 16
      if (p <= 24) o4 = 0; else if (p == 28) o4 -= o4 % 16
      printf "%d.%d.%d.%d%s\n", o1, o2, o3, o4, p == 32 ? "" : "/" p
    }
  }'
}

# rules_nginx_allow LIST: LIST as nginx stream `allow` lines (nginx checks them in order).
rules_nginx_allow() { awk '{ printf "allow %s;\n", $1 }' "$1"; }

# rules_sections PORT LIST RULES SERVERS...: frontend fr on 127.0.0.1:PORT that lets in only the
# sources in LIST and routes by RULES `use_backend beN if { dst_port X }` rules, of which only
# the last matches (the others name ports 10001 and up, never PORT), then default_backend b
# (which the caller writes); and backends be1..beRULES, each `balance leastconn` over SERVERS
# (ADDR:PORT words), as b is.
rules_sections() {
  local port=$1 list=$2 n=$3 i s k
  shift 3
  printf 'frontend fr\n  bind 127.0.0.1:%s\n' "$port"
  printf '  acl allowed src -f %s\n' "$list"
  printf '  tcp-request connection reject unless allowed\n'
  for ((i = 1; i < n; i++)); do printf '  use_backend be%d if { dst_port %d }\n' "$i" $((10000 + i)); done
  printf '  use_backend be%d if { dst_port %s }\n' "$n" "$port"
  printf '  default_backend b\n'
  for ((i = 1; i <= n; i++)); do
    printf 'backend be%d\n  balance leastconn\n' "$i"
    k=0
    for s in "$@"; do k=$((k + 1)); printf '  server s%d %s\n' "$k" "$s"; done
  done
}

# rules_check PORT: do the rules hold on 127.0.0.1:PORT? A request from 127.0.0.1 must get 200 and
# one from 127.0.0.9 (outside the allowlist) none; says what went wrong, on stderr, otherwise.
rules_check() {
  local ok no
  ok=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" || true)
  no=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.9 "http://127.0.0.1:$1/" || true)
  [ "$ok" = 200 ] && [ "$no" = 000 ] && return 0
  echo "rules check on 127.0.0.1:$1: from 127.0.0.1 HTTP '$ok' (want 200), from 127.0.0.9 '$no' (want none, 000)" >&2
  return 1
}
