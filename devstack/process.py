"""One child process of the stack: its own process group, its log file, a clean stop.

Each child gets its own process group (so a stop reaches everything it spawned) and is
asked by the kernel to die with the launcher (PR_SET_PDEATHSIG), so a launcher that is
itself killed leaves no orphaned JVM or server behind.

The death signal is set by util-linux's ``setpriv`` (which then execs the command), not by a
``preexec_fn``: Python code run between fork and exec in a process with other threads (the
test suite's gRPC and driver threads) once segfaulted the child, and the restarted service
"exited during start-up" without a line in its log.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def _dying_with_parent(argv: Sequence[str]) -> list[str]:
    setpriv = shutil.which("setpriv")  # util-linux, an essential package on Debian
    if setpriv is None:
        raise RuntimeError("setpriv (util-linux) is missing: children would outlive a killed launcher")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                _dying_with_parent(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once it has exited (negative: the signal that ended it)."""
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def signal(self, sig: int) -> None:
        """Signals the whole group (a wrapper's children included)."""
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()
        # Anything left in the group (a grandchild that ignored SIGTERM) goes too.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
