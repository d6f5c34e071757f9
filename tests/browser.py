"""Open a page in headless Chromium and report every request it made: the offline check for tests.

Import it from a test with::

    sys.path.insert(0, os.path.dirname(__file__))
    import browser

How it works: Chromium is started with ``--remote-debugging-pipe`` and driven
over the DevTools protocol (JSON messages separated by NUL bytes on file
descriptors 3 and 4), so nothing depends on log formats or a free port. The
page is opened from a ``file://`` address with the Network, Page and Log
domains enabled; after the load event the page is given time to go quiet, then
a PNG screenshot is taken. Every request other than the page itself and
``data:`` URIs is listed; requests that failed (no network, refused by the
page's Content-Security-Policy, HTTP 4xx/5xx) are listed separately.

:func:`open_page` (or :class:`Browser` for several pages in one browser) keeps a
loaded page open for several steps: run JavaScript in
it (:meth:`Page.evaluate`, through ``Runtime.evaluate``, which the page's
Content-Security-Policy does not govern, so a test can inject axe-core into a
page that allows no script), switch it to print media, or print it to PDF
(:meth:`Page.print_pdf`, ``Page.printToPDF``). :func:`print_pdf` and
:func:`run_script` are the one-step forms. :func:`built_once` lets several test
modules share one sample report per test run.
"""
from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

# Without these Chromium reaches for the network (updates, sync, field trials, QUIC).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--no-default-browser-check",
]
_CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
_apt_tried = False


def chromium_path():
    """Return the Chromium executable, installing the Debian package once if allowed.

    Looks at ``$EVALKIT_CHROMIUM``, then ``chromium``/``chromium-browser``/
    ``google-chrome`` on ``PATH`` and ``/usr/bin/chromium``. If none is found,
    the process runs as root and ``EVALKIT_NO_APT`` is not set, runs
    ``apt-get install -y chromium`` (after ``apt-get update`` if needed) once per
    process.

    Returns
    -------
    str or None
        The path, or None if Chromium is not available.
    """
    global _apt_tried
    found = _find()
    if found or _apt_tried or os.environ.get("EVALKIT_NO_APT"):
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    _apt_tried = True
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for commands in (
        [["apt-get", "install", "-y", "chromium"]],
        [["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]],
    ):
        try:
            if all(subprocess.run(c, env=env, capture_output=True, timeout=900).returncode == 0
                   for c in commands):
                break
        except (OSError, subprocess.TimeoutExpired):
            return None
    return _find()


def _find():
    override = os.environ.get("EVALKIT_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _binary(executable):
    """The real browser behind Debian's /usr/bin/chromium shell wrapper.

    The wrapper adds its own flags (remote extensions, GPU rasterisation, API
    keys); starting the binary directly keeps the flags to exactly ours.
    """
    real = Path("/usr/lib/chromium/chromium")
    if Path(executable).resolve() == Path("/usr/bin/chromium") and os.access(real, os.X_OK):
        return str(real)
    return executable


def _above_4(fd):
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class _DevTools:
    """Minimal DevTools-protocol client over Chromium's pipe (fd 3 in, fd 4 out)."""

    def __init__(self, executable, user_data_dir):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child's ends go above 4 first, so dup2 onto 3 and 4 always makes a new
        # descriptor (dup2 of an fd onto itself would keep close-on-exec set).
        to_browser_r, from_browser_w = _above_4(to_browser_r), _above_4(from_browser_w)

        def wire():  # runs in the child before exec: place the pipes at fds 3 and 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [_binary(executable), *CHROMIUM_FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, close_fds=False, start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._messages = queue.Queue()
        self._next_id = 0
        self.events = []
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._messages.put(None)
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\0")
            for raw in complete:
                self._messages.put(json.loads(raw))

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    def _pump(self, deadline):
        """Take one message (or None on timeout), filing events as they come."""
        try:
            message = self._messages.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if message is None:
            raise RuntimeError("Chromium closed the DevTools pipe: "
                               + self.stderr.decode(errors="replace")[-2000:])
        if "method" in message:
            self.events.append(message)
        return message

    def send(self, method, params=None, session=None, timeout=20.0):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._pump(deadline)
            if reply and reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(f"Chromium did not answer {method} within {timeout} s")

    def wait_for(self, method, timeout, session=None):
        """Wait for an event ``method`` (from ``session`` only, if given); True if it came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] == method and (session is None or e.get("sessionId") == session)
                   for e in self.events):
                return True
            self._pump(deadline)
        return False

    def settle(self, quiet, timeout):
        """Wait until no event has arrived for ``quiet`` seconds (late or dynamic loads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pump(min(deadline, time.monotonic() + quiet)) is None:
                return

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started, nothing else
            self.proc.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


def _nonblank(png_bytes, min_pixels=25):
    """True if at least ``min_pixels`` pixels differ from the top-left (background) one.

    A page with nothing drawn is exactly uniform; one short word of text already
    changes hundreds of pixels.
    """
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(io.BytesIO(png_bytes), format="png")[..., :3]
    differs = np.abs(pixels - pixels[0, 0]).max(axis=-1) > 0.02
    return bool(differs.sum() >= min_pixels)


def screenshot(html_path, png_path, *, width=1200, height=900, timeout=30.0):
    """Open ``html_path`` in headless Chromium, screenshot it, and list its requests.

    Parameters
    ----------
    html_path : str or pathlib.Path
        The page, opened as ``file://``.
    png_path : str or pathlib.Path
        Where the PNG screenshot (viewport size) is written.
    width, height : int
        Viewport in CSS pixels.
    timeout : float
        Seconds allowed for loading.

    Returns
    -------
    dict
        ``requests``: every URL requested besides the page and ``data:`` URIs;
        ``failed_requests``: ``"URL (reason)"`` for requests that failed, were
        blocked (e.g. by Content-Security-Policy) or got HTTP 400+;
        ``console_errors``: error-level console and log messages;
        ``nonblank``: whether the screenshot shows anything but background;
        ``loaded``: whether the load event fired; ``seconds``: wall time.

    Raises
    ------
    RuntimeError
        If Chromium is not available or stops answering.
    """
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install -y chromium)")
    started = time.monotonic()
    page_url = Path(html_path).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
    tools = _DevTools(executable, profile)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget",
                             {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Network.enable", "Page.enable", "Log.enable", "Runtime.enable"):
            tools.send(method, session=session)
        tools.send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                   session=session)
        tools.send("Page.navigate", {"url": page_url}, session=session)
        loaded = tools.wait_for("Page.loadEventFired", timeout)
        tools.settle(quiet=0.5, timeout=5.0)
        shot = tools.send("Page.captureScreenshot", {"format": "png"}, session=session)
        png = base64.b64decode(shot["data"])
        Path(png_path).write_bytes(png)
    finally:
        tools.close()
        shutil.rmtree(profile, ignore_errors=True)

    urls, requests, failed, console = {}, [], [], []
    for event in tools.events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if url != page_url and not url.startswith("data:") and url not in requests:
                requests.append(url)
        elif method == "Network.loadingFailed":
            reason = params.get("blockedReason") or params.get("errorText", "failed")
            failed.append(f"{urls.get(params['requestId'], '?')} ({reason})")
        elif method == "Network.responseReceived" and params["response"].get("status", 0) >= 400:
            failed.append(f"{params['response']['url']} (HTTP {params['response']['status']})")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            console.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip())
        elif method == "Runtime.exceptionThrown":
            console.append(params["exceptionDetails"].get("text", "exception"))
    return {
        "requests": requests,
        "failed_requests": failed,
        "console_errors": console,
        "nonblank": _nonblank(png),
        "loaded": loaded,
        "seconds": round(time.monotonic() - started, 2),
    }


# --------------------------------------------------------------------------- pages kept open

#: A4 in inches, as ``Page.printToPDF`` takes it.
A4_INCHES = (8.27, 11.69)


class Page:
    """A page loaded in headless Chromium: run scripts in it, emulate print, print it to PDF.

    Made by :func:`open_page`; not meant to be built directly.
    """

    def __init__(self, tools, session, url):
        self._tools = tools
        self._session = session
        self.url = url

    def send(self, method, params=None, timeout=20.0):
        """Send one DevTools command to this page and return its result."""
        return self._tools.send(method, params, session=self._session, timeout=timeout)

    def evaluate(self, expression, *, await_promise=True, timeout=60.0):
        """Evaluate JavaScript in the page and return its value (JSON-serialisable values only).

        Parameters
        ----------
        expression : str
            A JavaScript expression; a promise is awaited when ``await_promise``.
        await_promise : bool, default True
        timeout : float
            Seconds allowed.

        Returns
        -------
        object
            The value, converted from JSON.

        Raises
        ------
        RuntimeError
            If the script throws (the message carries the exception's description).
        """
        reply = self.send("Runtime.evaluate",
                          {"expression": expression, "returnByValue": True,
                           "awaitPromise": await_promise, "userGesture": False},
                          timeout=timeout)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "exception")
            raise RuntimeError(f"script failed in {self.url}: {text}")
        return reply.get("result", {}).get("value")

    def emulate_media(self, media):
        """Lay the page out for ``"print"`` or ``"screen"`` (``""`` restores the default)."""
        self.send("Emulation.setEmulatedMedia", {"media": media})

    def set_viewport(self, width, height):
        """Resize the layout viewport, in CSS pixels."""
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": int(width), "height": int(height), "deviceScaleFactor": 1,
                   "mobile": False})

    def print_pdf(self, pdf_path, *, paper=A4_INCHES, timeout=60.0):
        """Print the page to PDF as Chromium's print preview would, and write it.

        Parameters
        ----------
        pdf_path : str or pathlib.Path
            Where the PDF is written.
        paper : tuple of float, default A4
            Paper width and height in inches. The stylesheet's ``@page`` size and
            margins win where it sets them (``preferCSSPageSize``).
        timeout : float
            Seconds allowed.

        Returns
        -------
        pathlib.Path
            ``pdf_path``.
        """
        width, height = paper
        reply = self.send("Page.printToPDF",
                          {"paperWidth": width, "paperHeight": height, "printBackground": True,
                           "preferCSSPageSize": True, "displayHeaderFooter": False},
                          timeout=timeout)
        pdf_path = Path(pdf_path)
        pdf_path.write_bytes(base64.b64decode(reply["data"]))
        return pdf_path


class Browser:
    """One headless Chromium for several pages in turn (starting it costs about a second).

    Use as a context manager; :meth:`open` loads a page in a new tab.

    Raises
    ------
    RuntimeError
        If Chromium is not available.
    """

    def __init__(self):
        executable = chromium_path()
        if executable is None:
            raise RuntimeError("Chromium is not installed (apt-get install -y chromium)")
        self._profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
        self._tools = _DevTools(executable, self._profile)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the browser and remove its profile."""
        self._tools.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    @contextmanager
    def open(self, html_path, *, width=1200, height=900, timeout=30.0):
        """Load ``html_path`` (as ``file://``) in a new tab; yield it as a :class:`Page`, then close the tab.

        Parameters
        ----------
        html_path : str or pathlib.Path
        width, height : int
            Viewport in CSS pixels.
        timeout : float
            Seconds allowed for loading.

        Raises
        ------
        RuntimeError
            If Chromium stops answering or the page does not load in time.
        """
        tools = self._tools
        url = Path(html_path).resolve().as_uri()
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            session = tools.send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
            page = Page(tools, session, url)
            for method in ("Page.enable", "Runtime.enable"):
                page.send(method)
            page.set_viewport(width, height)
            page.send("Page.navigate", {"url": url})
            if not tools.wait_for("Page.loadEventFired", timeout, session=session):
                raise RuntimeError(f"{url} did not finish loading within {timeout} s")
            tools.settle(quiet=0.2, timeout=3.0)
            yield page
        finally:
            try:
                tools.send("Target.closeTarget", {"targetId": target}, timeout=10)
            except (RuntimeError, TimeoutError):
                pass


@contextmanager
def open_page(html_path, *, width=1200, height=900, timeout=30.0):
    """Open ``html_path`` in a fresh headless Chromium and yield it as a :class:`Page`.

    Parameters
    ----------
    html_path : str or pathlib.Path
        The page, opened as ``file://``.
    width, height : int
        Viewport in CSS pixels.
    timeout : float
        Seconds allowed for loading.

    Yields
    ------
    Page
        Loaded (the load event fired and the page went quiet).

    Raises
    ------
    RuntimeError
        If Chromium is not available, stops answering or the page does not load.
    """
    with Browser() as chromium, chromium.open(html_path, width=width, height=height,
                                             timeout=timeout) as page:
        yield page


def built_once(tmp_path_factory, name, build):
    """Make a folder once per test run, shared by the modules and pytest-xdist workers that ask for it.

    Parameters
    ----------
    tmp_path_factory : pytest.TempPathFactory
    name : str
        The folder's name under the run's temporary root.
    build : callable
        ``build(folder)`` fills the (new, empty) folder; an exception leaves no
        folder behind, so the next caller tries again.

    Returns
    -------
    pathlib.Path
        The folder, complete.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's root, shared by the workers' own temporary folders
    folder = root / name
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / f".{name}.done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            (root / f".{name}.done").touch()
    return folder


def print_pdf(html_path, pdf_path, *, paper=A4_INCHES, timeout=60.0):
    """Print ``html_path`` to ``pdf_path`` (A4 unless ``paper`` says otherwise) in headless Chromium.

    Returns
    -------
    pathlib.Path
        ``pdf_path``.
    """
    with open_page(html_path) as page:
        return page.print_pdf(pdf_path, paper=paper, timeout=timeout)


def run_script(html_path, expression, *, timeout=60.0):
    """Open ``html_path``, evaluate the JavaScript ``expression`` there and return its value.

    A returned promise is awaited; the value must be JSON-serialisable.
    """
    with open_page(html_path) as page:
        return page.evaluate(expression, timeout=timeout)
