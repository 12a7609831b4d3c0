#!/usr/bin/env bash
# cold-no-network.sh KURA-COLD — kura-cold has no network code (DESIGN
# "Parts"): none of the binary's dynamic imports is a socket, name-resolution
# or HTTP call. Checked with nm -D --undefined-only (objdump -T as a fallback);
# the same check run on ssh, which does import them, shows that it can fail.
set -u
cold=$1
# Sockets, name resolution, raw network I/O, and the libraries that do it for
# you (curl, OpenSSL's connect BIOs and TLS sessions).
forbidden='^(socket|socketpair|connect|bind|listen|accept|accept4|getaddrinfo|getnameinfo|gethostbyname|gethostbyname2|gethostbyname_r|gethostbyaddr|getservbyname|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|setsockopt|getsockopt|getpeername|getsockname|shutdown|res_query|res_search|res_init|res_ninit|getifaddrs|if_nameindex|curl_.*|BIO_new_connect|BIO_new_accept|BIO_s_connect|BIO_s_socket|BIO_do_connect|SSL_connect|SSL_new|SSL_CTX_new)$'

imports() { # the undefined dynamic symbols of $1, one a line, without @VERSION
  if command -v nm >/dev/null 2>&1; then
    nm -D --undefined-only "$1" | awk '{print $NF}'
  else
    objdump -T "$1" | awk '/\*UND\*/ {print $NF}'
  fi | sed 's/@.*//' | sort -u
}

fail=0
list=$(imports "$cold") || { echo "FAILED: cannot list the imports of $cold"; exit 1; }
if [ -z "$list" ]; then echo "FAILED: no imports listed for $cold (not a dynamic binary?)"; exit 1; fi
bad=$(printf '%s\n' "$list" | grep -E "$forbidden")
if [ -n "$bad" ]; then
  echo "FAILED: kura-cold imports network functions:"
  printf '  %s\n' $bad
  fail=1
fi

# The check must be able to fail: ssh imports socket and connect.
if ssh=$(command -v ssh); then
  if ! imports "$ssh" | grep -qE "$forbidden"; then
    echo "FAILED: the check finds no network import in $ssh: it cannot see any"
    fail=1
  fi
fi
[ "$fail" = 0 ] && echo "kura-cold: $(printf '%s\n' "$list" | wc -l) imports, none of them network calls"
exit $fail
