"""Headless Chromium over its DevTools protocol: load the book's pages, measure what a reader sees.

The book test (tests/test_book_legibility.py) uses :func:`measure_book`;
``python -m tests.chromium BUILT_HTML_DIR`` prints the same measurements
(for checking the stylesheet on a book built once, without the test run).
"""

import base64
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-allow-origins=*",
         # Scrollbars drawn over the content and hidden until used, as on macOS and phones: a box
         # that scrolls sideways without a scrollbar of its own looks cut off (issue 20's tables).
         "--enable-features=OverlayScrollbar")

# For every table, image, formula and code block in the article: where its right edge is, and whether
# the reader can see that there is more of it. An element is cut off when it reaches past the
# article's visible right edge and no box inside the article (it, or one of its ancestors below the
# article) scrolls it horizontally, when that box itself reaches past the edge, or when the box
# scrolls but shows no scrollbar (with overlay scrollbars, a table then simply ends at the column's
# edge: what the reader saw). The article's own container does not count: scrolling the whole
# column sideways is no remedy.
MIN_PADDING_PX = 4  # each side of a table cell; the browser's own default is 1 px ("0.0911 0.1049 5")
MEASURE = r"""
(async () => {
  const MIN_PADDING = %d;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  if (document.fonts) { await document.fonts.ready; }
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  let right = Math.min(article.getBoundingClientRect().right, window.innerWidth);
  for (let a = article.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') { right = Math.min(right, a.getBoundingClientRect().right); }
  }
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const describe = el => {
    const bits = [el.tagName.toLowerCase()];
    if (el.id) bits.push('#' + el.id);
    if (typeof el.className === 'string' && el.className.trim()) bits.push('.' + el.className.trim().split(/\s+/).join('.'));
    const text = (el.getAttribute('src') || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60);
    return bits.join('') + ' "' + text + '"';
  };
  const cut = [], scrolled = [];
  let checked = 0;
  const selector = 'table, img, .math, mjx-container, pre';
  for (const el of article.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;   // hidden (a collapsed cell, a tab not shown)
    checked += 1;
    let holder = null, outer = null;  // the nearest box inside the article that scrolls this element sideways,
    for (let a = el; a && a !== article; a = a.parentElement) {   // and the next one out (a formula in a table)
      if (scrolls(a)) { if (holder) { outer = a; break; } holder = a; }
    }
    let edge, why = 'reaches past the column';
    if (holder) {
      edge = holder.getBoundingClientRect().right;      // its content scrolls: the box must fit…
      if (holder.scrollWidth > holder.clientWidth + 1) {
        scrolled.push(describe(el));
        const s = getComputedStyle(holder);
        const bar = holder.offsetHeight - holder.clientHeight - parseFloat(s.borderTopWidth) - parseFloat(s.borderBottomWidth);
        if (bar < 1) {                                   // …and show that it scrolls
          cut.push({element: describe(el), right: Math.round(box.left + el.scrollWidth), visible: Math.round(edge),
                    why: 'scrolls in a box without a scrollbar'});
          continue;
        }
      }
    } else {
      edge = box.left + Math.max(box.width, el.scrollWidth);  // content spilling out of a visible box counts
    }
    if (outer) edge = Math.min(edge, outer.getBoundingClientRect().right);  // the outer box scrolls it (checked itself)
    if (edge > right + 1) cut.push({element: describe(el), right: Math.round(edge), visible: Math.round(right), why});
  }
  const cells = [...article.querySelectorAll('td, th')].filter(c => c.getBoundingClientRect().width > 0);
  const unpadded = cells.filter(c => {
    const s = getComputedStyle(c);
    return Math.min(parseFloat(s.paddingLeft), parseFloat(s.paddingRight)) < MIN_PADDING;
  }).map(c => describe(c));
  const figures = [...article.querySelectorAll('img')].filter(i => i.naturalWidth > 0).map(i => ({
    src: (i.getAttribute('src') || '').split('/').pop(), shown: i.getBoundingClientRect().width, natural: i.naturalWidth}));
  return {
    checked, cut, scrolled, cells: cells.length, unpadded, figures,
    scroll_width: document.documentElement.scrollWidth, inner_width: window.innerWidth,
  };
})()
""" % MIN_PADDING_PX


def find_chromium():
    """The Chromium binary, or None (Debian: ``apt-get install -y chromium``)."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium, one page, driven over the DevTools protocol's websocket."""

    def __init__(self, binary=None, timeout=60):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        binary = binary or find_chromium()
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{binary} did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        while True:  # the page target appears shortly after the endpoint
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as answer:
                pages = [t for t in json.load(answer) if t["type"] == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=timeout,
                                                  suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, event, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, message in enumerate(self.events):
                if message.get("method") == event:
                    del self.events[: i + 1]
                    return message
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(event)

    def open(self, path, width, height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.events.clear()
        self.call("Page.navigate", url=Path(path).resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression):
        answer = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"page script failed: {answer['exceptionDetails']}")
        return answer["result"]["value"]

    def screenshot(self, target, width, max_height=12000):
        """The whole page (up to ``max_height`` px) as a PNG."""
        height = min(int(self.evaluate("document.documentElement.scrollHeight")), max_height)
        # A viewport as tall as the page (captureBeyondViewport would leave out the scrollbars).
        viewport = self.evaluate("window.innerHeight")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        shot = self.call("Page.captureScreenshot", format="png")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=viewport, deviceScaleFactor=1,
                  mobile=False)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_bytes(base64.b64decode(shot["data"]))

    def close(self):
        if getattr(self, "socket", None) is not None:
            self.socket.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def pages(html_dir):
    """The book's pages: every HTML file outside the build's own folders (``_static``, ``_sources``…),
    less redirects (``index.html`` sends the reader on to the first chapter)."""
    html_dir = Path(html_dir)
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(html_dir).parts)
                  and 'http-equiv="refresh"' not in p.read_text(errors="replace")[:2000].lower())


def measure_book(html_dir, screenshots=(), screenshot_dir=None):
    """``{(page, width name): measurements}`` for every page at every width of :data:`WIDTHS`;
    the pages in ``screenshots`` are also photographed at the desktop width into ``screenshot_dir``."""
    html_dir = Path(html_dir)
    found = {}
    browser = Browser()
    try:
        for name, (width, height) in WIDTHS.items():
            for page in pages(html_dir):
                browser.open(html_dir / page, width, height)
                try:
                    found[page, name] = browser.evaluate(MEASURE)
                except RuntimeError as error:
                    raise RuntimeError(f"{page} at {width} px: {error}") from None
                if name == "desktop" and page in screenshots:
                    browser.screenshot(Path(screenshot_dir) / (page.replace("/", "_").removesuffix(".html") + ".png"),
                                       width)
    finally:
        browser.close()
    return found


def shrunk_figures(found, column_px):
    """The images shown narrower than ``min(their own width, column_px)``: drawn ``column_px`` wide or less, a
    figure's type sizes hold on the page only if the page shows it at its own size (``[(page, src, shown, natural)]``)."""
    return [(page, f["src"], round(f["shown"]), f["natural"]) for (page, _), m in sorted(found.items())
            for f in m.get("figures", []) if f["shown"] < min(f["natural"], column_px) - 1]


def summary(found):
    lines = []
    for (page, name), m in sorted(found.items()):
        wide = m["scroll_width"] > m["inner_width"]
        lines.append(f"{name:7} {page:32} checked {m['checked']:3}  cut {len(m['cut']):2}  "
                     f"scroll in their box {len(m['scrolled']):2}  "
                     f"unpadded cells {len(m['unpadded']):3}/{m['cells']:3}  page scrolls sideways: "
                     f"{'YES ' + str(m['scroll_width']) if wide else 'no'}")
        lines += [f"          {c['element']} reaches {c['right']} px, visible to {c['visible']} px ({c['why']})"
                  for c in m["cut"]]
    return "\n".join(lines)


if __name__ == "__main__":
    html = Path(sys.argv[1])
    shots = sys.argv[2:]
    print(summary(measure_book(html, screenshots=shots, screenshot_dir=html / "_screenshots")))
