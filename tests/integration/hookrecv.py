#!/usr/bin/env python3
"""A webhook receiver for tests: hookrecv.py PORT_FILE OUT_DIR [--fail N] [--hang N] [--tls CERT KEY]

Listens on 127.0.0.1 (a free port, written to PORT_FILE), stores each POST as
OUT_DIR/NNN.json (the body) and OUT_DIR/NNN.hdr (the headers, "Name: value" lines),
answers 500 to the first --fail requests and never answers the next --hang ones
(the connection is kept open), then 200; with --tls, HTTPS with that certificate. Runs
until killed."""
import http.server
import os
import ssl
import sys
import threading
import time

port_file, out_dir = sys.argv[1], sys.argv[2]
fail = int(sys.argv[sys.argv.index("--fail") + 1]) if "--fail" in sys.argv else 0
hang = int(sys.argv[sys.argv.index("--hang") + 1]) if "--hang" in sys.argv else 0
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count[0] += 1
            n = count[0]
        with open(os.path.join(out_dir, "%03d.json" % n), "wb") as f:
            f.write(body)
        with open(os.path.join(out_dir, "%03d.hdr" % n), "w") as f:
            for k, v in self.headers.items():
                f.write("%s: %s\n" % (k, v))
        if n <= fail:
            self.send_response(500)
        elif n <= fail + hang:
            time.sleep(3600)
            return
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if "--tls" in sys.argv:
    i = sys.argv.index("--tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
