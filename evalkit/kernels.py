"""Warm kernels: one Jupyter kernel kept alive across report notebooks, reset between them.

A fresh kernel spends about a second starting and importing before a notebook draws anything. A
:class:`WarmKernel` starts once and runs notebook after notebook through papermill (so parameters
cells, papermill's metadata and its error handling are unchanged), resetting the kernel's state
before each one:

* the user namespace and the execution counter (IPython ``reset(new_session=True)``), so a global
  set by one notebook is gone for the next and execution counts start at 1 as in a fresh kernel;
* the working directory (papermill's ``cwd``) and ``sys.path`` as they were at start;
* matplotlib: every figure closed and ``rcParams`` restored to the values a fresh kernel has after
  importing pyplot;
* the warnings filters, and evalkit's own module state (the theme flag of
  :mod:`evalkit.report.notebook`).

Imported modules stay imported (that is the saving): a new kernel imports what the report notebooks
import (evalkit's notebook helpers, pandas, matplotlib) before its first notebook, so a pool started
early (:meth:`KernelPool.start_warm_up`) has them loaded by the time the results are. A kernel that
died is replaced by a new one before the next notebook; the notebook it was running fails as it
would have in a fresh kernel.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

KERNEL = "python3"
STARTUP_TIMEOUT = 60
#: Run once in a new kernel: what a fresh kernel looks like after importing pyplot, kept outside the
#: user namespace (which every reset clears).
_PRIME = """
import os as _os, sys as _sys, warnings as _warnings, types as _types
import matplotlib as _mpl, matplotlib.pyplot as _plt
_state = _types.ModuleType("_evalkit_fresh_state")
_state.rc = dict(_mpl.rcParams)
_state.cwd = _os.getcwd()
_state.path = list(_sys.path)
_state.filters = list(_warnings.filters)
_sys.modules["_evalkit_fresh_state"] = _state


def _restore(cwd, _state=_state, _os=_os, _sys=_sys, _warnings=_warnings, _mpl=_mpl, _plt=_plt):
    _plt.close("all")
    _mpl.rcParams.clear()
    _mpl.rcParams.update(_state.rc)
    _sys.path[:] = _state.path
    _warnings.filters[:] = _state.filters
    _os.chdir(cwd)
    notebook = _sys.modules.get("evalkit.report.notebook")
    if notebook is not None:
        notebook._reset_kernel_state()


_state.restore = _restore
try:  # what every report notebook imports first: loaded now, while the report process is still cleaning
    import evalkit.notebook, evalkit.report.plots, evalkit.data.pipeline, evalkit.data.cohort
except Exception:
    pass
"""
#: Run before every notebook; ``{cwd}`` is the notebook's working directory.
_RESET = """
__import__("sys").modules["_evalkit_fresh_state"].restore({cwd!r})
get_ipython().reset(new_session=True, aggressive=False)
"""
# (the restoring function lives outside the user namespace, with everything it uses bound when the
# kernel started, so nothing a notebook defined can change it; one IPython reset, not two: each
# collects garbage, about 0.07 s)


#: How long a new kernel client waits for a message on IOPub while it checks the kernel is ready.
#: jupyter_client waits 0.2 s (and 0.2 s more to find the channel empty) each time a client
#: connects: 0.4 s of every notebook, twice (the reset's client and papermill's). Messages on a
#: connected IOPub arrive within milliseconds; a missed one only means one more round.
READY_POLL = 0.02


async def _quick_wait_for_ready(self, timeout=None):
    """``KernelClient.wait_for_ready`` as jupyter_client does it, polling IOPub every ``READY_POLL`` seconds.

    The protocol is unchanged: ask for ``kernel_info`` until the reply comes and IOPub is seen to be
    connected, then drain IOPub; only the waits are shorter.
    """
    import time
    from queue import Empty

    from jupyter_core.utils import ensure_async

    deadline = time.time() + (float("inf") if timeout is None else timeout)
    while True:
        self.kernel_info()
        try:
            msg = await ensure_async(self.shell_channel.get_msg(timeout=1))
        except Empty:
            pass
        else:
            if msg["msg_type"] == "kernel_info_reply":
                try:  # IOPub connected? (the kernel_info request's status messages come through it)
                    await ensure_async(self.iopub_channel.get_msg(timeout=READY_POLL))
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
        if not await ensure_async(self.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.time() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
    while True:  # drain IOPub (replies are matched to their requests, so a late status message is harmless)
        try:
            await ensure_async(self.iopub_channel.get_msg(timeout=READY_POLL))
        except Empty:
            break


def _client_classes():
    """Kernel clients (asynchronous for papermill, blocking for the resets) with the quicker readiness check."""
    global QuickAsyncKernelClient, QuickBlockingKernelClient
    if QuickAsyncKernelClient is None:
        from jupyter_client.asynchronous import AsyncKernelClient
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_core.utils import run_sync

        class _Async(AsyncKernelClient):
            wait_for_ready = _quick_wait_for_ready

        class _Blocking(BlockingKernelClient):
            wait_for_ready = run_sync(_quick_wait_for_ready)

        _Async.__name__ = _Async.__qualname__ = "QuickAsyncKernelClient"
        _Blocking.__name__ = _Blocking.__qualname__ = "QuickBlockingKernelClient"
        _Async.__module__ = _Blocking.__module__ = __name__
        QuickAsyncKernelClient, QuickBlockingKernelClient = _Async, _Blocking
    return QuickAsyncKernelClient, QuickBlockingKernelClient


QuickAsyncKernelClient = QuickBlockingKernelClient = None


class WarmKernel:
    """A kernel that runs report notebooks one after another, reset between them.

    Parameters
    ----------
    kernel_name : str
    extra_arguments : list of str, optional
        Passed to the kernel at start (default: quiet logging).

    Examples
    --------
    >>> kernel = WarmKernel()  # doctest: +SKIP
    >>> kernel.run("notebooks/01_data_quality.ipynb", "out.ipynb", {"config_path": "..."}, cwd=".")  # doctest: +SKIP
    >>> kernel.shutdown()  # doctest: +SKIP
    """

    def __init__(self, kernel_name=KERNEL, extra_arguments=None):
        self.kernel_name = kernel_name
        self.extra_arguments = list(extra_arguments or ["--IPKernelApp.log_level=CRITICAL"])
        self.km = None
        self.starts = 0
        self.runs = 0
        self._lock = threading.Lock()

    def _alive(self):
        from jupyter_core.utils import run_sync

        return self.km is not None and run_sync(self.km.is_alive)()

    def _ensure(self):
        """A live kernel, primed: start one if there is none or the last one died.

        The manager is jupyter_client's ``AsyncKernelManager``, as nbclient's own: its clients are
        asynchronous, so nbclient notices a kernel that dies mid-cell instead of blocking on it.
        """
        if self._alive():
            return
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.shutdown()  # a crashed kernel: release what is left of it
        self.km = AsyncKernelManager(kernel_name=self.kernel_name)
        self.km.client_factory = _client_classes()[0]  # papermill's client: km.client()
        run_sync(self.km.start_kernel)(extra_arguments=self.extra_arguments)
        self.starts += 1
        self._execute(_PRIME)

    def _execute(self, code):
        """Run ``code`` in the kernel without recording history; raise on an error reply."""
        kc = _client_classes()[1](parent=self.km)  # the manager answers "is it alive?"
        kc.load_connection_info(self.km.get_connection_info())
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
            reply = kc.execute_interactive(code, store_history=False, timeout=STARTUP_TIMEOUT,
                                           output_hook=lambda msg: None)
        finally:
            kc.stop_channels()
        if reply["content"].get("status") != "ok":
            content = reply["content"]
            raise RuntimeError(f"kernel reset failed: {content.get('ename')}: {content.get('evalue')}")

    def run(self, src, dst, parameters, *, cwd, execution_timeout=600):
        """Execute notebook ``src`` with ``parameters`` into ``dst`` (papermill), in this kernel, from ``cwd``.

        Raises whatever :func:`papermill.execute_notebook` raises (``PapermillExecutionError`` for a
        failing cell; the partly executed notebook is written to ``dst`` first).
        """
        import papermill as pm

        with self._lock:
            self._ensure()
            self._execute(_RESET.format(cwd=str(cwd)))
            self.runs += 1
            return pm.execute_notebook(str(src), str(dst), parameters=parameters, kernel_name=self.kernel_name,
                                       km=self.km, progress_bar=False, execution_timeout=execution_timeout,
                                       log_output=False, request_save_on_cell_execute=False)
        # no cwd= for papermill: it would chdir this whole process (other threads included); the reset
        # above moved the kernel into ``cwd`` instead

    def shutdown(self):
        """Stop the kernel (idempotent)."""
        if self.km is not None:
            from jupyter_core.utils import run_sync

            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - nothing left to stop
                pass
            self.km = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


class KernelPool:
    """At most ``size`` warm kernels shared by the threads of a batch; a notebook takes one while it runs.

    Examples
    --------
    >>> pool = KernelPool(2)  # doctest: +SKIP
    >>> with pool.take() as kernel:  # doctest: +SKIP
    ...     kernel.run(src, dst, parameters, cwd=folder)
    >>> pool.shutdown()  # doctest: +SKIP
    """

    def __init__(self, size):
        self.size = max(1, int(size))
        self._free = queue.LifoQueue()
        self._kernels = []
        self._lock = threading.Lock()
        self._warming = None

    def warm_up(self, nice=0):
        """Start every kernel now, in parallel, so that they boot while the first cohort is cleaned.

        Parameters
        ----------
        nice : int, optional
            CPU niceness of the kernels, set before they start so that their start-up already yields
            to the work that matters more (a report's own cleaning and analysis).

        A kernel that fails to start is still handed out: its first notebook tries again and fails
        with the reason (see :func:`evalkit.runner._run_notebook`), instead of the batch waiting forever.
        """
        import os

        with self._lock:
            new = [WarmKernel() for _ in range(self.size - len(self._kernels))]
            self._kernels.extend(new)

        def start(kernel):
            try:
                if nice:  # Linux: a child process inherits the niceness of the thread that forks it
                    try:
                        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
                    except (AttributeError, OSError):
                        pass
                kernel._ensure()
            except Exception:  # noqa: BLE001 - retried, and reported, by the notebook that takes it
                kernel.shutdown()

        try:
            with ThreadPoolExecutor(max_workers=len(new) or 1) as pool:
                list(pool.map(start, new))
        finally:
            for kernel in new:
                self._free.put(kernel)

    def start_warm_up(self, nice=0):
        """:meth:`warm_up` in a background thread; :meth:`shutdown` waits for it, so no kernel outlives the pool."""
        self._warming = threading.Thread(target=self.warm_up, kwargs={"nice": nice}, name="evalkit-kernel-warm-up",
                                         daemon=True)
        self._warming.start()
        return self._warming

    @contextmanager
    def take(self):
        """A free kernel for the duration of the ``with`` block (waits when all are busy)."""
        try:
            kernel = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                kernel = WarmKernel() if len(self._kernels) < self.size else None
                if kernel is not None:
                    self._kernels.append(kernel)
            if kernel is None:
                kernel = self._free.get()
        try:
            yield kernel
        finally:
            self._free.put(kernel)

    @property
    def starts(self):
        """Kernels started so far (replacements of crashed kernels included)."""
        return sum(k.starts for k in self._kernels)

    def shutdown(self):
        """Stop every kernel, after any warm-up still starting one (so none is left running)."""
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()
        with ThreadPoolExecutor(max_workers=max(1, len(self._kernels))) as pool:  # each waits for its process
            list(pool.map(WarmKernel.shutdown, self._kernels))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
