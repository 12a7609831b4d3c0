#!/usr/bin/env python3
"""tests/server/test_api_tls.py — kura-server with tls_cert/tls_key from its
config file: answers HTTPS only, the session cookie is Secure, HSTS is sent,
and a missing key file stops the start (exit 2). The certificate is made for
the test with the openssl command (skipped, 77, without it)."""
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys

import kura_api_harness as h


def run(srv):
    if not shutil.which("openssl"):
        print("SKIPPED: no openssl command")
        sys.exit(77)
    cert, key = os.path.join(srv.dir, "cert.pem"), os.path.join(srv.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    conf = os.path.join(srv.dir, "kura-server.conf")
    with open(conf, "w") as f:
        f.write("# test\ntls_cert = %s\ntls_key = %s\nthreads = 2\n" % (cert, key))
    pw = h.new_password()
    srv.user_add("admin", "administrator", pw)

    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False

    def get(method, path, body=None, headers=None):
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=60)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        c.close()
        return out

    # The harness's readiness probe speaks plain HTTP: poll over TLS instead.
    portfile = os.path.join(srv.dir, "port")
    srv.log = open(os.path.join(srv.dir, "server.log"), "ab")
    srv.proc = subprocess.Popen([srv.binary, "serve", "--config", conf] + srv.common() +
                                ["--listen", "127.0.0.1:0", "--port-file", portfile],
                                env=srv.env, stdout=srv.log, stderr=srv.log)
    import time
    for _ in range(600):
        if os.path.exists(portfile) and open(portfile).read().strip():
            break
        time.sleep(0.05)
    srv.port = int(open(portfile).read())
    for _ in range(100):
        try:
            st, hd, body = get("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    h.check(st == 200, "healthz over TLS: %d" % st)
    h.check(hd.get("strict-transport-security", "").startswith("max-age="), "HSTS")
    st, hd, body = get("POST", "/v1/session", ('{"username":"admin","password":"%s"}' % pw).encode(),
                       {"Content-Type": "application/json"})
    h.check(st == 201, "sign-in over TLS: %d %s" % (st, body[:200]))
    h.check(re.search(r";\s*Secure", hd.get("set-cookie", "")) is not None, "cookie not Secure: %s" % hd.get("set-cookie"))
    # Plain HTTP on the TLS port gets no answer it could use.
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/healthz")
        plain = c.getresponse().status
    except (OSError, http.client.HTTPException):
        plain = None
    h.check(plain != 200, "plain HTTP answered 200 on the TLS port")
    srv.stop()

    os.unlink(key)
    p = subprocess.run([srv.binary, "serve", "--config", conf] + srv.common() + ["--listen", "127.0.0.1:0"],
                       env=srv.env, capture_output=True, timeout=60)
    h.check(p.returncode == 2 and b"key.pem" in p.stderr, "missing key: exit %d %r" % (p.returncode, p.stderr))


if __name__ == "__main__":
    h.main(run)
