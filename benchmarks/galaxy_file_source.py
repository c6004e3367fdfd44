"""realize_to / write_from of one file through galaxy.files: our NeLS plugin
against Galaxy's stock ``ssh`` plugin, same sshd, same file, alternating;
both also against OpenSSH scp. Ratio = other's time / our time (> 1: we
are faster). Run with Galaxy's Python:

    .venv-galaxy/bin/python benchmarks/galaxy_file_source.py [--size-mib 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

from common import openssh_options, random_file, save_result, timed  # noqa: I001 - benchmarks/common.py
from galaxy.files import ConfiguredFileSources, ConfiguredFileSourcesConf
from galaxy.files.models import FileSourcePluginsConfig
from werkzeug.serving import make_server

from nels_sandbox.nels_api import create_app  # noqa: E402
from nels_sandbox.sshd import Sshd  # noqa: E402
from nels_sandbox.world import World  # noqa: E402


class User:
    """The user context Galaxy hands a file source."""

    def __init__(self, username, token):
        self.username, self.email, self.ftp_dir = username, f"{username}@example.org", None
        self.preferences = {"nels|access_token": token}
        self.role_names, self.group_names = set(), set()
        self.is_admin, self.anonymous = False, False
        self.oidc_access_tokens, self.oidc_access_token_expirations = {}, {}
        self.user_vault = self.app_vault = self.file_sources = None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nels-gxbench-"))
    src = random_file(work / "source.bin", args.size_mib)

    with Sshd(work / "sshd") as sshd:
        world = World(work / "nels", sshd)
        user = world.add_user("bench", "Bench", "bench-pw")
        world.add_client("galaxy", "secret")
        home = world.home(user)
        (home / "Personal" / "bench").mkdir()
        shutil.copy(src, home / "Personal" / "bench" / "seed.bin")
        app = create_app(world)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        api = f"http://127.0.0.1:{server.server_port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        # sign-in is not what is measured: the sandbox issues a token directly
        token = world.issue(user.nels_id, "galaxy")["access_token"]

        conf = [
            {
                "type": "nels",
                "id": "nels",
                "writable": True,
                "backend": "sftp",
                "api_url": f"{api}/nels-api2",
                "access_token": "${user.preferences['nels|access_token']}",
                "host": "127.0.0.1",
                "port": sshd.port,
                "known_hosts": sshd.known_hosts,
            },
            {
                "type": "ssh",
                "id": "stock",
                "writable": True,
                "host": "127.0.0.1",
                "port": sshd.port,
                "user": sshd.login,
                "pkey": user.private_key,
                "path": str(home),
            },
        ]
        sources = ConfiguredFileSources(
            FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=conf)
        )
        ours = sources.find_best_match("gxfiles://nels/Personal")
        stock = sources.find_best_match("gxfiles://stock/Personal")
        ctx = User("bench", token)
        scp = ["scp", *openssh_options(work, sshd, user.private_key)]
        remote = f"{sshd.login}@127.0.0.1:Personal/bench"

        ops = {
            "ours_realize": lambda: ours.realize_to(
                "/Personal/bench/seed.bin", str(work / "ours.bin"), user_context=ctx
            ),
            "stock_realize": lambda: stock.realize_to(
                "/Personal/bench/seed.bin", str(work / "stock.bin"), user_context=ctx
            ),
            "scp_realize": lambda: subprocess.run(
                [*scp, f"{remote}/seed.bin", str(work / "scp.bin")], check=True
            ),
            "ours_write": lambda: ours.write_from(
                "/Personal/bench/ours-up.bin", str(src), user_context=ctx
            ),
            "stock_write": lambda: stock.write_from(
                "/Personal/bench/stock-up.bin", str(src), user_context=ctx
            ),
            "scp_write": lambda: subprocess.run(
                [*scp, str(src), f"{remote}/scp-up.bin"], check=True
            ),
        }
        ops["ours_realize"]()  # connect once outside the timings, as a warm server is
        # each write and each realize starts with no file at its target, as
        # Galaxy's do (a new dataset, a new file in NeLS): over an old file,
        # a truncating writer refills the pages it has just freed, while ours
        # (a partial, then a rename) must find new ones
        everyone = ["ours", "stock", "scp"]
        targets = {f"{who}_realize": work / f"{who}.bin" for who in everyone}
        bench = home / "Personal" / "bench"
        targets |= {f"{who}_write": bench / f"{who}-up.bin" for who in everyone}

        times: dict[str, list[float]] = {k: [] for k in ops}
        for r in range(args.rounds):
            for direction in ("realize", "write"):
                order = everyone[r % 3 :] + everyone[: r % 3]  # rotate who goes first
                for who in order:
                    key = f"{who}_{direction}"
                    targets[key].unlink(missing_ok=True)
                    times[key].append(timed(ops[key]))
            mib = args.size_mib
            print(
                f"round {r + 1}: "
                + ", ".join(f"{k} {mib / v[-1]:.0f} MiB/s" for k, v in times.items())
            )
        assert (work / "ours.bin").read_bytes() == src.read_bytes()
        server.shutdown()

    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "size_mib": args.size_mib,
        "rounds": args.rounds,
        "realize_ours_vs_stock_ssh": round(med["stock_realize"] / med["ours_realize"], 3),
        "write_ours_vs_stock_ssh": round(med["stock_write"] / med["ours_write"], 3),
        "realize_ours_vs_scp": round(med["scp_realize"] / med["ours_realize"], 3),
        "write_ours_vs_scp": round(med["scp_write"] / med["ours_write"], 3),
        "realize_stock_vs_scp": round(med["scp_realize"] / med["stock_realize"], 3),
        "write_stock_vs_scp": round(med["scp_write"] / med["stock_write"], 3),
    }
    save_result("galaxy_file_source", result)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
