#!/usr/bin/env python3
"""tests/server/test_api_proxy.py — kura-server behind reverse proxies it
trusts (`trusted_proxies` in its config): the client is read from
X-Forwarded-For, right to left, skipping trusted hops, so an API key's CIDR
allowlist and the sign-in limit per address see the real client; what a
client writes into the header itself proves nothing, and without
`trusted_proxies` (or from a peer not trusted) the header is ignored."""
import os

import kura_api_harness as h


def run(srv):
    conf = os.path.join(srv.dir, "kura-server.conf")
    with open(conf, "w") as f:
        f.write("# test\ntrusted_proxies = 127.0.0.1/32 ::1/128 10.9.0.0/16\nthreads = 2\n")
    pw = h.new_password()
    srv.user_add("admin", "administrator", pw)
    srv.start(["--config", conf])
    admin = h.signin(srv, "admin", pw)
    r = srv.request("POST", "/v1/api-keys", {"name": "desk", "role": "viewer",
                                             "scopes": ["wallets:read"], "cidrs": ["203.0.113.0/24"]},
                    auth=admin)
    h.check(r.status == 201, "api key: %r" % r)
    key = h.ApiKey(r.json()["key"])

    def wallets(xff):
        return srv.request("GET", "/v1/wallets", auth=key,
                           headers={"X-Forwarded-For": xff} if xff is not None else None)

    cases = [
        (None, False, "no header: the proxy's own address"),
        ("203.0.113.7", True, "the client named by a trusted proxy"),
        ("198.51.100.1", False, "a client outside the allowlist"),
        ("203.0.113.7, 198.51.100.1", False, "the client wrote an allowed address in front"),
        ("203.0.113.7, 10.9.1.1", True, "a chain of trusted proxies is skipped"),
        (" 203.0.113.7 ,127.0.0.1 ", True, "spaces around entries"),
        ("not-an-address", False, "a malformed entry: the last trusted hop"),
        ("203.0.113.7, junk", False, "a malformed nearest entry"),
        ("203.0.113.7:443", False, "an address with a port is not an address"),
    ]
    for xff, allowed, what in cases:
        r = wallets(xff)
        if allowed:
            h.check(r.status == 200, "%s (%r): %r" % (what, xff, r))
        else:
            h.check(r.status == 403 and r.error == "ADDRESS_NOT_ALLOWED", "%s (%r): %r" % (what, xff, r))
    srv.stop()

    # Without trusted_proxies the header is nobody's word.
    srv.start()
    r = wallets("203.0.113.7")
    h.check(r.status == 403 and r.error == "ADDRESS_NOT_ALLOWED", "untrusted header obeyed: %r" % r)
    srv.stop()

    # A bad list stops the start with the line named.
    with open(conf, "w") as f:
        f.write("trusted_proxies = 127.0.0.1/99\n")
    import subprocess
    p = subprocess.run([srv.binary, "serve", "--config", conf] + srv.common() + ["--listen", "127.0.0.1:0"],
                       env=srv.env, capture_output=True, timeout=60)
    h.check(p.returncode == 2 and b"trusted_proxies" in p.stderr, "bad trusted_proxies: exit %d %r" % (p.returncode, p.stderr))
    print("trusted proxies: %d cases checked" % len(cases))


if __name__ == "__main__":
    h.main(run)
