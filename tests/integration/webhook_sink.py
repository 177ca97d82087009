"""A webhook receiver for tests: appends each POSTed JSON body as one line to a file."""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

OUT = sys.argv[2]


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(OUT, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
