"""Start and stop the double from Python tests (used by this folder's tests and by Tests/EndToEnd)."""
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRY = os.path.join(HERE, "kube_double.py")


class Double:
    def __init__(self, directory, *args, token="knot-test-token", env=None):
        self.dir = str(directory)
        self.token = token
        cmd = [sys.executable, ENTRY, "--dir", self.dir, "--token", token] + list(args)
        self.stderr_path = os.path.join(self.dir + ".stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                     env=env)
        line = self._readline(30)
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("kube double did not start: %r\n%s" % (line, self.stderr()))
        self.url = line.split(" ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ca = os.path.join(self.dir, "ca.crt")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")

    def _readline(self, timeout):
        result = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline().decode()), daemon=True)
        t.start()
        t.join(timeout)
        return result[0] if result else ""

    def session(self, token=None, cert=False):
        import requests
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
        s.verify = self.ca
        if cert:
            s.cert = (os.path.join(self.dir, "client.crt"), os.path.join(self.dir, "client.key"))
        elif token is not False:
            s.headers["Authorization"] = "Bearer " + (token or self.token)
        return s

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode


def wait_for(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll until predicate() returns something truthy; return it, or fail with the last value."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, message, last))
