# slowlab.py: servers for the doctor's silence, slowness and TIME_WAIT lab cases, on 127.0.0.1.
#   python3 slowlab.py MODE PORT [ARG]
# MODE waits         a framed protocol where the client speaks first: reads everything sent
#                    and waits for more, never answering what it does not understand
#      blocked       HTTP/1.1 (threaded) whose handler for GET blocks forever; malformed
#                    requests still get the usual error page at once
#      slow SECONDS  HTTP/1.1 (threaded) answering GET with 200 after SECONDS
#      timewait REUSE  binds PORT (with SO_REUSEADDR when REUSE is "reuse"), takes two
#                    connections and closes them first, so their server ends stay in TIME_WAIT
#                    on PORT; prints "closed PORT" and exits
# Prints "listening PORT" when ready.
import http.server
import socket
import socketserver
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
arg = sys.argv[3] if len(sys.argv) > 3 else ''


def waits():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(16)
    print('listening', s.getsockname()[1], flush=True)

    def serve(c):
        while c.recv(4096):
            pass
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def http_lab():
    delay = float(arg or 0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if mode == 'blocked':
                threading.Event().wait()
            time.sleep(delay)
            try:
                self.send_response(200)
                self.send_header('content-length', '3')
                self.end_headers()
                self.wfile.write(b'ok\n')
            except OSError:
                pass

        def log_message(self, *a):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address):
            pass

    srv = Server(('127.0.0.1', port), Handler)
    print('listening', srv.server_address[1], flush=True)
    srv.serve_forever()


def timewait():
    s = socket.socket()
    if arg == 'reuse':
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(4)
    pairs = []
    for _ in range(2):
        c = socket.create_connection(('127.0.0.1', port))
        a, _ = s.accept()
        pairs.append((c, a))
    for c, a in pairs:
        a.close()          # the server closes first: its end goes to TIME_WAIT
        c.recv(1)          # the client sees the FIN ...
        c.close()          # ... and closes too
    s.close()
    print('closed', port, flush=True)


{'waits': waits, 'blocked': http_lab, 'slow': http_lab, 'timewait': timewait}[mode]()
