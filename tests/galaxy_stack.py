"""The suite's real Galaxy 26.1.2 and what it reaches: shared by the API tests
(test_galaxy_server.py) and the browser tests (test_galaxy_browser.py), so
the suite starts one Galaxy.

Galaxy runs with the samples an admin copies, as they are: the NeLS file
source from ``galaxy_plugin/samples/file_sources_conf.yml`` (only the
addresses and the pinned host key point at the sandbox) and the preferences
from ``user_preferences_extra_conf.yml``. Its tasks run on a Celery worker
with Redis, as in production. The NeLS sandbox holds the test cast's
projects and a NorSeq run of 16 paired samples with its ``md5sum.txt``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from conftest import ROOT, Cast, LiveServer

from nels_sandbox.galaxy_server import GalaxyServer
from nels_sandbox.nels_api import create_app
from nels_sandbox.sshd import Sshd
from nels_sandbox.web_site import Sandboxes, start_deposit_sandboxes, start_sandboxes
from nels_sandbox.world import World

GALAXY_VENV = Path(os.environ.get("NELS_GALAXY_VENV", ROOT / ".venv-galaxy"))
SAMPLES = ROOT / "galaxy_plugin" / "samples"
TOOL_XML = ROOT / "tool_xml"
TOOLS = tuple(sorted(p for p in TOOL_XML.glob("*.xml") if p.name != "macros.xml"))
RUN = "NorSeq/230101_A00123_0042_AHXXXXDSX5"  # in the test project
RUN_SAMPLES = tuple(f"{t}-{n}" for t in ("Liver", "Gill") for n in range(1, 9))
TOKEN_HELP_URL = "https://nels.example.org/how-to-get-a-token"


class Stack(NamedTuple):
    sshd: Sshd  # its own: other tests revoke every key of the shared one
    cast: Cast
    api: LiveServer
    galaxy: GalaxyServer
    sandboxes: Sandboxes  # the ENA stand-ins in .deposit
    delivered: dict[str, str]  # run file name -> MD5 in md5sum.txt


def file_sources(api_url: str, sshd) -> str:
    """The sample NeLS source, pointed at the sandbox and nothing else changed."""
    (source, *_) = yaml.safe_load((SAMPLES / "file_sources_conf.yml").read_text())
    source.update(
        api_url=f"{api_url}/nels-api2",
        host="127.0.0.1",
        port=sshd.port,
        known_hosts=sshd.known_hosts,
        token_help_url=TOKEN_HELP_URL,
    )
    return yaml.safe_dump([source], sort_keys=False)


def deliver_run(project_dir: Path) -> dict[str, str]:
    """A NorSeq run as a facility delivers it: paired FASTQ, sheet, md5sum.txt."""
    run = project_dir / RUN
    run.mkdir(parents=True)
    delivered = {}
    for n, sample in enumerate(RUN_SAMPLES, 1):
        for read in ("R1", "R2"):
            name = f"{sample}_S{n}_L001_{read}_001.fastq.gz"
            record = f"@{sample}:{read}:1\nACGTACGTAC\n+\nIIIIIIIIII\n".encode()
            data = gzip.compress(record * (n + 2), mtime=0)
            (run / name).write_bytes(data)
            delivered[name] = hashlib.md5(data).hexdigest()
    (run / "SampleSheet.csv").write_text(
        "[Header]\nFileFormatVersion,2\n[BCLConvert_Data]\nSample_ID,Index\n"
        + "".join(f"{s},ACGT\n" for s in RUN_SAMPLES)
    )
    (run / "md5sum.txt").write_text("".join(f"{m}  {n}\n" for n, m in delivered.items()))
    return delivered


def start_stack(tmp_path_factory, specs, redis_server) -> Stack:
    if not (GALAXY_VENV / "bin" / "galaxy-web").exists():
        if os.environ.get("CI"):
            pytest.fail(f"Galaxy's environment is missing at {GALAXY_VENV}: ./dev test builds it")
        pytest.skip(f"no Galaxy environment at {GALAXY_VENV} (./dev test builds it)")
    sshd = Sshd(tmp_path_factory.mktemp("galaxy-sshd")).start()
    cast = Cast(World(tmp_path_factory.mktemp("nels"), sshd))
    pdir = cast.world.project_dir(cast.project)
    fq = pdir / "raw" / "Liver-1_S1_L001_R1_001.fastq.gz"
    fq.write_bytes(
        gzip.compress(b"@r1\nACGTACGT\n+\nIIIIIIII\n@r2\nTTGGCCAA\n+\nIIIIIIII\n", mtime=0)
    )
    # the tools' test reads, as a sequencing facility delivers them into NeLS
    run = pdir / "Salmon_run"
    run.mkdir()
    for n, sample in enumerate(("Liver-1", "Gill-1"), 1):
        for read in ("R1", "R2"):
            data = (TOOL_XML / "test-data" / f"{sample}_{read}.fastq.gz").read_bytes()
            (run / f"{sample}_S{n}_L001_{read}_001.fastq.gz").write_bytes(data)
    delivered = deliver_run(pdir)
    (pdir / "results").mkdir()  # where members put what they made
    api = LiveServer(create_app(cast.world))
    # ENA's stand-ins (Webin and its FTPS upload area), reached by the tools
    # through the job environment, as an admin would point them at a proxy
    sandboxes = start_sandboxes(tmp_path_factory.mktemp("sandboxes"), samples=("Liver-1",))
    ena = start_deposit_sandboxes(sandboxes, specs / "ena")
    galaxy = GalaxyServer(
        tmp_path_factory.mktemp("galaxy"),
        GALAXY_VENV,
        file_sources(api.url, sshd),
        (SAMPLES / "user_preferences_extra_conf.yml").read_text(),
        celery_broker=redis_server.url(),
        tools=TOOLS,
        tool_env=Path(sys.prefix),  # the requirement nels-bundle: this environment
        job_env={
            "NELS_ENA_WEBIN_URL": ena.webin_url,
            "NELS_ENA_UPLOAD_HOST": ena.upload_host,
            "NELS_ENA_UPLOAD_PORT": str(ena.upload_port),
            "NELS_ENA_UPLOAD_CA": ena.upload_ca,
            "NELS_ENA_XSD_DIR": str(specs / "ena"),
            "NELS_ENA_CHECKLIST_DIR": str(specs / "ena" / "checklists"),
            "NELS_ENA_TAXONOMY_URL": ena.taxonomy_url,
        },
    )
    stack = Stack(sshd, cast, api, galaxy, sandboxes, delivered)
    try:
        galaxy.start()
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    stack.galaxy.stop()
    stack.sandboxes.stop()
    stack.api.stop()
    stack.sshd.stop()


def nels_token(stack: Stack, name: str) -> str:
    """A fresh NeLS access token for the cast member ``name``."""
    from test_api_client import sign_in

    return sign_in(stack.api, name, f"{name}-pw").tokens.access_token


def wait_for(check, timeout: float = 120, every: float = 1.0, what: str = "condition"):
    """``check()``'s first truthy answer, or an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(every)
