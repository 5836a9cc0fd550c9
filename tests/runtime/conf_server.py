"""An HTTP(S) server on loopback that serves configuration files for the
remote-include tests (Traffic rule: 127.0.0.1 only). Each path answers
with a body, a status, an optional delay and an optional redirect, all
changeable while the server runs; it counts the requests of each path."""
import http.server
import os
import ssl
import subprocess
import threading
import time


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost (openssl);
    returns (certificate path, key path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


class ConfServer:
    def __init__(self, certificate=None):
        self.lock = threading.Lock()
        self.routes = {}   # path -> (status, body bytes, delay, location)
        self.counts = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.counts[self.path] = \
                        server.counts.get(self.path, 0) + 1
                    status, body, delay, location = server.routes.get(
                        self.path, (404, b"not here\n", 0, None))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if certificate:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*certificate)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                                server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def set(self, path, body, status=200, delay=0, location=None):
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.routes[path] = (status, body, delay, location)

    def count(self, path):
        with self.lock:
            return self.counts.get(path, 0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
