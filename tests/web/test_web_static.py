#!/usr/bin/env python3
"""tests/web/test_web_static.py — kura-server's web pages (server/api/static.c)
on the real server: a web root of known files (and a secret beside it, and a
symbolic link leading out), then every way out of the root a URL can try.

  python3 test_web_static.py KURA_SERVER_BINARY

Checks: `/` is index.html; content types by extension; the pages' strict
Content-Security-Policy and the other security headers; caching (no-cache
for pages, immutable for fingerprinted assets/); HEAD; traversal ("..",
percent-encoded, backslashes, double slashes, hidden files, symbolic links
out of the root, unknown extensions) is a JSON 404 that never shows the
secret; POST to a page is not served; /v1 stays the API's (the route table,
not files: a file named like a route is never served); web_root = off serves
nothing.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import kura_api_harness as H  # noqa: E402

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
SECRET = b"TOP-SECRET-OUTSIDE-THE-WEB-ROOT"


def raw(srv, method, target):
    """One request with the request target sent byte for byte (http.client
    would refuse some of these)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, target)).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def run(srv):
    root = os.path.join(srv.dir, "web")
    os.makedirs(os.path.join(root, "assets"))
    os.makedirs(os.path.join(root, "sub"))
    files = {
        "index.html": b"<!doctype html><title>kura</title><script src=\"/assets/app-ABC123.js\"></script>",
        "assets/app-ABC123.js": b"console.log('kura')",
        "assets/app-ABC123.css": b"body{}",
        "favicon.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        "sub/page.txt": b"text",
        ".hidden.html": b"hidden",
        "notes.exe": b"MZ",
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    with open(os.path.join(srv.dir, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink(os.path.join(srv.dir, "secret.txt"), os.path.join(root, "escape.txt"))
    os.symlink(srv.dir, os.path.join(root, "up"))
    os.makedirs(os.path.join(root, "v1"))
    with open(os.path.join(root, "v1", "wallets.json"), "wb") as f:
        f.write(b"{\"not\": \"the API\"}")
    conf = os.path.join(srv.dir, "kura.conf")
    with open(conf, "w") as f:
        f.write("web_root = %s\n" % root)
    srv.start(["--config", conf])

    # pages and their headers
    want = [("/", "text/html; charset=utf-8", "no-cache", files["index.html"]),
            ("/index.html", "text/html; charset=utf-8", "no-cache", files["index.html"]),
            ("/assets/app-ABC123.js", "text/javascript; charset=utf-8",
             "public, max-age=31536000, immutable", files["assets/app-ABC123.js"]),
            ("/assets/app-ABC123.css", "text/css; charset=utf-8",
             "public, max-age=31536000, immutable", files["assets/app-ABC123.css"]),
            ("/favicon.svg", "image/svg+xml", "no-cache", files["favicon.svg"]),
            ("/sub/page.txt", "text/plain; charset=utf-8", "no-cache", b"text")]
    for path, ctype, cache, body in want:
        st, h, b = raw(srv, "GET", path)
        H.check(st == 200, "GET %s: %d" % (path, st))
        H.check(h.get("content-type") == ctype, "GET %s: content type %r" % (path, h.get("content-type")))
        H.check(h.get("cache-control") == cache, "GET %s: cache %r" % (path, h.get("cache-control")))
        H.check(h.get("content-security-policy") == CSP, "GET %s: CSP %r" % (path, h.get("content-security-policy")))
        H.check(h.get("x-content-type-options") == "nosniff", "GET %s: nosniff" % path)
        H.check(h.get("x-frame-options") == "DENY", "GET %s: X-Frame-Options" % path)
        H.check(h.get("referrer-policy") == "no-referrer", "GET %s: Referrer-Policy" % path)
        H.check(b == body, "GET %s: body %r" % (path, b[:80]))
    st, h, b = raw(srv, "HEAD", "/index.html")
    H.check(st == 200 and b == b"" and h.get("content-length") == str(len(files["index.html"])),
            "HEAD /index.html: %d %r %r" % (st, h.get("content-length"), b[:40]))

    # ways out of the root, hidden and unknown files: a JSON 404, never a byte of the secret
    hostile = ["/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
               "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/escape.txt",
               "/up/secret.txt", "/up/kura.conf", "//secret.txt", "/..\\secret.txt",
               "/%5c..%5csecret.txt", "/.hidden.html", "/notes.exe", "/assets/", "/sub",
               "/sub/", "/index.html/", "/./index.html", "/nothing.html",
               "/" + "a" * 300 + ".html", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q.html",
               "/%ff.html", "/in dex.html"]
    for path in hostile:
        st, h, b = raw(srv, "GET", path)
        H.check(SECRET not in b, "GET %s: leaked the secret" % path)
        H.check(st in (400, 404), "GET %s: %d (want 404)" % (path, st))
        if st == 404:
            H.check(h.get("content-type") == "application/json" and b'"NOT_FOUND"' in b,
                    "GET %s: not the API's 404: %r" % (path, b[:80]))

    # libmicrohttpd decodes %00 into a NUL, which ends the path: at most the
    # file before it, with that file's type (never a .txt of index.html's bytes)
    st, h, b = raw(srv, "GET", "/index.html%00.txt")
    H.check(st == 404 or (b == files["index.html"] and h.get("content-type") == "text/html; charset=utf-8"),
            "GET /index.html%%00.txt: %d %r" % (st, h.get("content-type")))

    # POST to a page is no page; /v1 is the API's route table, never files
    st, h, b = raw(srv, "POST", "/index.html")
    H.check(st == 404 and b"<!doctype" not in b, "POST /index.html: %d" % st)
    st, h, b = raw(srv, "GET", "/v1/wallets.json")
    H.check(st == 404 and b"not" not in b.split(b"NOT_FOUND")[0], "GET /v1/wallets.json: %d %r" % (st, b[:80]))
    st, h, b = raw(srv, "GET", "/v1/wallets")
    H.check(st == 401 and h.get("cache-control") == "no-store", "GET /v1/wallets: %d" % st)
    st, h, b = raw(srv, "GET", "/healthz")
    H.check(st == 200, "GET /healthz: %d" % st)
    srv.stop()

    # web_root = off: no pages at all
    with open(conf, "w") as f:
        f.write("web_root = off\n")
    srv.start(["--config", conf])
    st, h, b = raw(srv, "GET", "/")
    H.check(st == 404 and h.get("content-type") == "application/json", "web_root off: GET / %d" % st)
    srv.stop()
    print("ok: %d pages, %d hostile paths" % (len(want), len(hostile)))


if __name__ == "__main__":
    H.main(run)
