"""Home Assistant as a separate process in a temporary configuration directory.

Only the integration under test and the benchmark's probe are linked in; the process's CPU
time and memory are read from /proc, so they are Home Assistant's alone (the charge points
and the meter run in the benchmark's own process).
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).resolve().parent / "probe" / "ev_lb_bench_probe"

CONFIGURATION = """\
# Written by the live benchmark; removed when it ends.
homeassistant:
  name: Live benchmark
  unit_system: metric
  time_zone: UTC
  country: SE
http:
  server_host: 127.0.0.1
  server_port: {port}
config:
logger:
  default: warning
ev_lb_bench_probe:
"""


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ProcessSample:
    """CPU ticks (user + system, all threads) and memory of a process at one moment."""

    at: float
    cpu_ticks: int
    rss_mb: float
    peak_rss_mb: float


def sample_process(pid: int) -> ProcessSample:
    """Read /proc/<pid>/stat and status."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces; the fields after it are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    memory: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) / 1024
    return ProcessSample(time.monotonic(), ticks, memory["VmRSS"], memory["VmHWM"])


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def snapshot_integration(into: Path, commit: str = "HEAD") -> Path:
    """The integration as committed, so that edits in the checkout during a run change nothing."""
    archive = subprocess.run(  # noqa: S603 - fixed git command
        ["git", "archive", commit, "custom_components/ev_load_balancer"],  # noqa: S607
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into / "custom_components" / "ev_load_balancer"


def commit_of(rev: str = "HEAD") -> str:
    return subprocess.run(  # noqa: S603
        ["git", "rev-parse", "--short", rev],  # noqa: S607
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class HomeAssistantProcess:
    """`hass --config <temporary directory>`; `stop` ends it and removes the directory."""

    def __init__(
        self,
        *,
        integration: Path = REPO / "custom_components" / "ev_load_balancer",
        keep: bool = False,
        log_level: str = "warning",
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_dir = Path(tempfile.mkdtemp(prefix="ev-lb-live-"))
        self.integration = integration
        self.keep = keep
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.config_dir / "hass.out"

    def start(self) -> None:
        custom = self.config_dir / "custom_components"
        custom.mkdir()
        (custom / "ev_load_balancer").symlink_to(self.integration)
        (custom / "ev_lb_bench_probe").symlink_to(PROBE)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port, level=self.log_level)
        )
        hass = Path(sys.executable).parent / "hass"
        # Home Assistant finds custom integrations through the `custom_components` namespace
        # package with the configuration directory on sys.path only while it looks: a
        # PYTHONPATH holding the repository would leave it the repository's portion alone.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's hass
                [str(hass), "--config", str(self.config_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.config_dir,
                env=env,
            )

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("Home Assistant is not running")
        return self.process.pid

    def sample(self) -> ProcessSample:
        return sample_process(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The end of Home Assistant's output, for errors."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def warnings(self) -> list[str]:
        """Warnings and errors Home Assistant logged, minus its usual start-up notices."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        noise = ("has not been tested by Home Assistant", "zlib_ng and isal")
        return [
            line
            for line in text.splitlines()
            if (" WARNING " in line or " ERROR " in line) and not any(n in line for n in noise)
        ]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.keep:
            shutil.rmtree(self.config_dir, ignore_errors=True)
