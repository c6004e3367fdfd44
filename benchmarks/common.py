"""What every benchmark here does the same way."""

from __future__ import annotations

import json
import os
import queue
import socket
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def timed(fn) -> float:
    """Seconds ``fn`` takes, started with no dirty pages, so one measurement's
    write-back does not land in the next one's time."""
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def random_file(path: Path, size_mib: int) -> Path:
    with open(path, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    return path


def openssh_options(work: Path, sshd, private_key: str) -> list[str]:
    """The OpenSSH client options (scp/sftp) that reach ``sshd`` with this key
    and its pinned host key, as the baselines use them."""
    key_file = work / "id"
    key_file.write_text(private_key)
    key_file.chmod(0o600)
    known_hosts = work / "known_hosts"
    known_hosts.write_text(sshd.known_hosts)
    return [
        "-q",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "BatchMode=yes",
        "-i",
        str(key_file),
        "-P",
        str(sshd.port),
    ]


def work_dir(on_disk: bool) -> Path:
    """A fresh folder for one run: in /dev/shm unless ``on_disk`` (or there is
    none), since disk write-back of one round otherwise lands in the next."""
    shm = Path("/dev/shm")
    where = None if on_disk or not shm.is_dir() else shm
    return Path(tempfile.mkdtemp(prefix="nels-bench-", dir=where))


def in_child(script: str, mode: str, *args: Path) -> dict:
    """Run ``script --child MODE ARGS`` in a fresh process (its peak memory its
    own) and return what it printed: ``{"seconds", "peak_rss_mib"}``."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, script, "--child", mode, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(r.stdout)


def report_child(seconds: float) -> None:
    """The child's side of :func:`in_child`."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mib": round(peak / 1024, 1)}))


def save_result(name: str, result: dict) -> None:
    """Print ``result`` and keep it as results/<name>.json (not committed), with
    the machine it was measured on: sessions land on different hosts."""
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps({**result, "machine": machine()}, indent=1) + "\n"
    (RESULTS / f"{name}.json").write_text(text)
    print(text, end="")


def cpu_ticks() -> tuple[int, int]:
    """(steal, all) CPU ticks since boot, summed over CPUs: steal is the time
    the host ran others while this VM had work ready."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return 0, 0
    ticks = [int(f) for f in fields]
    return ticks[7] if len(ticks) > 7 else 0, sum(ticks)


_STARTED = cpu_ticks()


def steal_percent(since: tuple[int, int]) -> float | None:
    """The host's share of the CPU time since ``since`` (from ``cpu_ticks``)."""
    steal, total = (now - then for now, then in zip(cpu_ticks(), since, strict=True))
    return round(100 * steal / total, 1) if total else None


def machine() -> dict:
    """What a ratio here depends on: the processor, its shared cache, whether
    it hashes SHA-256 in hardware, the kernel, the load at the end, and how
    much of the run the host took for others (steal)."""
    steal = steal_percent(_STARTED)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), "")  # fmt: skip
    l3 = Path("/sys/devices/system/cpu/cpu0/cache/index3/size")
    return {
        "cpu": model,
        "l3_cache": l3.read_text().strip() if l3.exists() else "",
        "sha_ni": " sha_ni" in cpuinfo,
        "kernel": os.uname().release,
        "load_1min": round(os.getloadavg()[0], 2),
        "steal_percent": steal,
    }


class DelayProxy:
    """A TCP proxy to a loopback port that holds what passes ``delay`` seconds
    in each direction: a network's round trip of twice that on loopback (no
    netem here), its bandwidth left alone."""

    def __init__(self, target_port: int, delay: float):
        self.target, self.delay = target_port, delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, server):  # as ssh and sshd set theirs: no Nagle wait
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for src, dst in ((client, server), (server, client)):
                held: queue.SimpleQueue = queue.SimpleQueue()
                threading.Thread(target=self._take, args=(src, held), daemon=True).start()
                threading.Thread(target=self._give, args=(dst, held), daemon=True).start()

    def _take(self, src, held) -> None:
        while True:
            try:
                data = src.recv(1 << 16)
            except OSError:
                data = b""
            held.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def _give(self, dst, held) -> None:
        while True:
            due, data = held.get()
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._listener.close()
