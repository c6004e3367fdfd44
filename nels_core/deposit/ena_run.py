"""One ENA deposit of an ISA bundle, start to end, for the CLI and the web
app alike: the rules, the XML (checked against ENA's schemas), the plan
against the deposit record, the submission and the write-back of the
accessions into the bundle. Who asks (and how they show it) is theirs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NelsError
from ..reads_check import ReadFile, check_reads
from ..taxonomy import Taxonomy
from ..wording import counted
from .checklists import EnaChecklists
from .embargo import Release
from .ena_submit import Outcome, Plan, plan, submit
from .ena_xml import prepare
from .isa_reader import read_bundle
from .model import Deposit
from .record import DepositRecord
from .rules import check_public
from .webin import WebinClient
from .writeback import write_accessions
from .xsd import EnaSchemas


@dataclass
class EnaRun:
    server: str  # "test", "production" or the stand-in's address: the record's key
    deposit: Deposit
    record: DepositRecord
    warnings: list[str] = field(default_factory=list)
    plan: Plan | None = None  # set by a dry run
    outcome: Outcome | None = None  # set by a submission
    cells: int = 0  # accessions written into the bundle's ISA files
    release: Release | None = None  # when ENA makes the data public

    @property
    def project(self) -> str:
        return (
            self.record.objects.get("project", {})
            .get(self.deposit.identifier, {})
            .get("accession", "")
        )


def deposit_in_ena(
    bundle: Path,
    server: str,
    client: WebinClient | None,
    *,
    upload_reads: Callable[[str, list[tuple[str, str, str]]], object] | None = None,
    checklist: str = "ERC000011",
    center: str | None = None,
    hold_until: dt.date | None = None,
    schemas: EnaSchemas | None = None,
    open_reads: Callable[[str], tuple] | None = None,
    taxonomy: Taxonomy | None = None,
    checklists: EnaChecklists | None = None,
    check_login: Callable[[], None] | None = None,
    say: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> EnaRun:
    """Without a client, a dry run: the plan against the record, nothing sent.
    ``upload_reads(location, files)`` sends the runs' files from the bundle's
    source (``nels://...`` or a local folder) to the Webin upload area;
    ``open_reads(location)`` gives (store, base) where they are read for the
    check before anything is sent (whole, not empty, pairs of equal length);
    ``check_login()`` tries the Webin account first, whatever is to be sent."""
    deposit = read_bundle(bundle)
    warnings = check_public(deposit, "ENA")  # a sensitive project stops here
    prepared = prepare(
        deposit,
        checklist=checklist,
        center=center,
        hold_until=hold_until,
        schemas=schemas or EnaSchemas(),
        taxonomy=taxonomy,
        checklists=checklists,
    )
    warnings += list(dict.fromkeys(prepared.warnings))
    release = prepared.release
    if release.date is None:
        warnings.append(release.sentence())
    for w in warnings:  # read before anything is sent
        warn(w)
    if release.date is not None:
        say(release.sentence())
    if open_reads is not None:
        _check_reads(bundle, deposit, open_reads, dry_run=client is None, warn=warn, say=say)
    run = EnaRun(server, deposit, DepositRecord.load(bundle, "ena", server), warnings)
    run.release = release
    if client is None:
        run.plan = plan(prepared, run.record)
        return run
    if check_login is not None:
        say(f"trying the Webin account {client.account}")
        check_login()
    run.outcome = submit(
        prepared,
        run.record,
        client,
        deposit.identifier,
        center=center,
        upload_files=upload_reads and (lambda files: upload_reads(deposit.location, files)),
        say=say,
    )
    run.cells = write_accessions(bundle, deposit.identifier, run.record.objects)
    return run


def _check_reads(bundle: Path, deposit: Deposit, open_reads, *, dry_run: bool, warn, say) -> None:
    files = [
        ReadFile(f.path, f.md5, r.name if len(r.files) > 1 else "")
        for s in deposit.samples
        for r in s.runs
        for f in r.files
    ]
    try:
        store, base = open_reads(deposit.location)
    except NelsError as e:
        if not dry_run:
            raise
        warn(f"the read files were not checked (their source cannot be read here: {e})")
        return
    say(f"checking {counted(len(files), 'read file')}: whole, not empty, pairs of equal length")
    check_reads(store, base, files, bundle)
