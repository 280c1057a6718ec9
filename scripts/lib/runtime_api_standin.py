"""A minimal stand-in for the Lambda Runtime API, for scripts/bench.

Starts a function binary with AWS_LAMBDA_RUNTIME_API pointing here and reports
the time from process start until the binary asks for its first event
(GET /2018-06-01/runtime/invocation/next): the init phase Lambda bills.

usage: runtime_api_standin.py RUNS BINARY [BINARY ...]   (env passed through)
prints one line per binary: name, median init ms, min, max
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    first_next = None
    got_next = threading.Event()

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next") and not Handler.got_next.is_set():
            Handler.first_next = time.perf_counter()
            Handler.got_next.set()
        # Never hand out an event: the binary waits here until it is killed.
        time.sleep(30)

    def log_message(self, *args):
        pass


def measure(binary, server_port):
    Handler.first_next = None
    Handler.got_next.clear()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server_port}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    })
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = Handler.got_next.wait(timeout=20)
    proc.kill()
    proc.wait()
    if not ok:
        raise SystemExit(f"{binary} never asked for an event")
    return (Handler.first_next - start) * 1000


def main():
    runs = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    for binary in sys.argv[2:]:
        samples = [measure(binary, port) for _ in range(runs)]
        print(f"{os.path.basename(binary)} {statistics.median(samples):.1f} {min(samples):.1f} {max(samples):.1f}")


if __name__ == "__main__":
    main()
