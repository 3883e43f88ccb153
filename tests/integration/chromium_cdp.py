#!/usr/bin/env python3
"""Drives a page in headless Chromium over the DevTools protocol, for console_browser_test.sh.

  chromium_cdp.py CHROMIUM PROFILE_DIR URL SCREENSHOT SCRIPT...

Opens URL, waits for its load event, evaluates each SCRIPT in the page in turn (a JavaScript
expression; a promise is awaited; `waitFor(selector, predicate)` resolves with the text of the
elements matching selector once predicate(elements) holds, and fails after 15 s), prints each
value as one JSON line, then saves a PNG of the page into SCREENSHOT. A failing script exits 1
with the reason. The WebSocket client is the few lines below (Debian's python3 has no module for
it): text frames only, masked as a client must.
"""
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request

WAIT_FOR = """const waitFor = (sel, pred) => new Promise((ok, no) => {
  const t0 = Date.now();
  (function poll() {
    const found = document.querySelectorAll(sel);
    if (pred(found)) ok(Array.from(found).map(e => e.textContent));
    else if (Date.now() - t0 > 15000) no(new Error("timed out waiting for " + sel));
    else setTimeout(poll, 100);
  })();
});"""


class DevTools:
    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            sys.exit(f"DevTools refused the WebSocket: {head[:200]!r}")
        self.next_id = 0
        self.events = []

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            sys.exit("DevTools closed the connection")
        return chunk

    def _exact(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, obj):
        data = json.dumps(obj).encode()
        n = len(data)
        if n < 126:
            header = bytes([0x81, 0x80 | n])
        elif n < 65536:
            header = bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
        else:
            header = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _message(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            message += self._exact(n)
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method, **params):
        self.next_id += 1
        self._send({"id": self.next_id, "method": method, "params": params})
        while True:
            m = self._message()
            if m.get("id") == self.next_id:
                if "error" in m:
                    sys.exit(f"{method}: {m['error']}")
                return m["result"]
            if "method" in m:
                self.events.append(m["method"])

    def wait_event(self, method):
        while method not in self.events:
            m = self._message()
            if "method" in m:
                self.events.append(m["method"])


def main():
    chromium, profile, url, screenshot, scripts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + profile,
             "--remote-debugging-port=0", "--window-size=1280,900"]
    proc = subprocess.Popen([chromium] + flags + ["about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            sys.exit("chromium printed no DevTools address")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [p for p in json.load(r) if p["type"] == "page"]
        devtools = DevTools(port, pages[0]["webSocketDebuggerUrl"].split(str(port), 1)[1])
        devtools.call("Page.enable")
        devtools.call("Page.navigate", url=url)
        devtools.wait_event("Page.loadEventFired")
        for script in scripts:
            r = devtools.call("Runtime.evaluate", expression=f"(() => {{ {WAIT_FOR} return ({script}); }})()",
                              awaitPromise=True, returnByValue=True)
            if "exceptionDetails" in r:
                details = r["exceptionDetails"]
                sys.exit(f"script failed: {details.get('exception', {}).get('description', details.get('text'))}\n{script}")
            print(json.dumps(r["result"].get("value")), flush=True)
        shot = devtools.call("Page.captureScreenshot", format="png")
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    finally:
        proc.terminate()
        proc.wait()


main()
