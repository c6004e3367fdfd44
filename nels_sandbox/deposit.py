"""The ENA and BioStudies stand-ins started together, as ``nels-bundle
sandbox --ena --biostudies`` and the web demo (``nels-bundle serve --demo``)
run them: the Webin service (checked against ENA's schemas), its upload area
(a real FTPS server), and the BioStudies submission API, on loopback ports."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

WEBIN_ACCOUNT = "Webin-40001"
BIOSTUDIES_LOGIN = "demo@example.org"
_HERE = Path(__file__).resolve().parent


@dataclass
class DepositSandboxes:
    """ENA's Webin service and upload area (real FTPS), and BioStudies' API;
    the fields of a stand-in not started are empty."""

    webin_url: str = ""
    taxonomy_url: str = ""  # ENA's taxonomy lookups, answered by the Webin stand-in
    checklist_dir: str | None = None  # ENA's sample checklists, when this machine has them
    upload_host: str = ""
    upload_port: int = 0
    upload_ca: str = ""
    xsd_dir: str | None = None
    account: str = ""  # Webin-NNNNN
    password: str = field(default="", repr=False)
    biostudies_url: str = ""
    biostudies_login: str = ""
    biostudies_password: str = field(default="", repr=False)
    webin_world: object = field(default=None, repr=False)
    biostudies_world: object = field(default=None, repr=False)


def start_deposit(
    directory: Path,
    xsd_dir: Path | None,
    served: list,
    *,
    ena: bool = True,
    biostudies: bool = True,
    webin_port: int = 0,
    upload_port: int = 0,
    biostudies_port: int = 0,
) -> DepositSandboxes:
    """Start the stand-ins asked for (a port of 0: any free one), each added to
    ``served`` (things with ``stop()``) as soon as it runs, so a caller stopped
    half-way stops what did start. The upload area lives in
    ``directory/webin-upload-area``. The Webin stand-in checks every document
    against ENA's schemas in ``xsd_dir`` (see :func:`local_ena_schemas`)."""
    from nels_sandbox.serving import Served

    d = DepositSandboxes()
    if ena:
        from nels_core.deposit.xsd import EnaSchemas
        from nels_sandbox.ftp import UploadArea
        from nels_sandbox.webin import WebinWorld
        from nels_sandbox.webin import create_app as webin_app

        account, password = WEBIN_ACCOUNT, secrets.token_urlsafe(12)
        root = directory / "webin-upload-area"
        ftp = UploadArea(root, {account: password}, port=upload_port).start()
        served.append(ftp)
        webin_world = WebinWorld({account: password}, upload_root=root)
        webin = Served(webin_app(webin_world, EnaSchemas(xsd_dir)), webin_port).start()
        served.append(webin)
        d.webin_url = webin.url + "/ena/submit"
        d.taxonomy_url = webin.url + "/ena/taxonomy/rest"
        checklists = local_ena_checklists()
        d.checklist_dir = str(checklists) if checklists else None
        d.upload_host, d.upload_port, d.upload_ca = ftp.host, ftp.port, str(ftp.cert)
        d.xsd_dir = str(xsd_dir) if xsd_dir else None
        d.account, d.password, d.webin_world = account, password, webin_world
    if biostudies:
        from nels_sandbox.biostudies import BioStudiesWorld
        from nels_sandbox.biostudies import create_app as biostudies_app

        login, password = BIOSTUDIES_LOGIN, secrets.token_urlsafe(12)
        bs_world = BioStudiesWorld({login: password})
        bs = Served(biostudies_app(bs_world), biostudies_port).start()
        served.append(bs)
        d.biostudies_url = bs.url + "/biostudies/submissions/api"
        d.biostudies_login, d.biostudies_password = login, password
        d.biostudies_world = bs_world
    return d


def ena_schemas_in(folder: str | os.PathLike) -> bool:
    """``folder`` holds every schema of ENA's the Webin stand-in loads."""
    from nels_core.deposit.xsd import COMMON, SCHEMAS

    return all((Path(folder) / n).is_file() for n in (*SCHEMAS.values(), COMMON))


def local_ena_schemas() -> Path | None:
    """ENA's schemas if this machine has them (never downloaded here):
    ``$NELS_ENA_XSD_DIR``, else ``ena/`` of the published specs
    (``$NELS_SPECS``, else ``../shared/specs`` beside the project, as the SEEK
    sandbox finds its schemas), else the cache ``nels-bundle ena prepare`` fills."""
    from nels_core.deposit.xsd import CACHE

    return _local("NELS_ENA_XSD_DIR", "ena", CACHE, ena_schemas_in)


def local_ena_checklists() -> Path | None:
    """ENA's sample checklists if this machine has them, found as the schemas are."""
    from nels_core.deposit.checklists import CACHE

    def holds(folder) -> bool:
        return (Path(folder) / "ERC000011.json").is_file()

    return _local("NELS_ENA_CHECKLIST_DIR", "ena/checklists", CACHE, holds)


def _local(variable: str, in_specs: str, cache: Path, holds) -> Path | None:
    """The first of ``$variable``, the published specs' ``in_specs`` and the
    cache that ``holds`` what is wanted."""
    specs = os.environ.get("NELS_SPECS")
    for folder in (
        os.environ.get(variable),
        Path(specs) / in_specs if specs else None,
        _HERE.parent.parent / "shared" / "specs" / in_specs,
        cache,
    ):
        if folder and holds(folder):
            return Path(folder)
    return None
