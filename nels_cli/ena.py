"""``nels-bundle ena``: Webin XML for ENA from an ISA bundle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .main import err, out, read_secret
from .seek import database, seek_client, seek_options


@click.group("ena")
def ena_cmd() -> None:
    """Deposit an ISA bundle's reads in ENA (Webin)."""


@ena_cmd.command("prepare")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "dest", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--checklist", default="ERC000011", show_default=True, help="ENA sample checklist.")
@click.option("--center", help="Center name, for broker accounts.")
@click.option("--action", type=click.Choice(["ADD", "MODIFY", "VALIDATE"]), default="ADD")
@click.option(
    "--hold",
    "hold_until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Keep the data private until this date (at most two years ahead).",
)
@click.option(
    "--xsd-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="ENA's schemas (else $NELS_ENA_XSD_DIR, else fetched once from ENA and cached).",
)
def prepare_cmd(bundle, dest, checklist, center, action, hold_until, xsd_dir):
    """Write project, sample, experiment, run and submission XML, checked against ENA's schemas."""
    from nels_core.deposit.ena_xml import prepare, write
    from nels_core.deposit.isa_reader import read_bundle
    from nels_core.deposit.xsd import EnaSchemas

    deposit = read_bundle(bundle)
    hold = hold_until.date() if isinstance(hold_until, dt.datetime) else None
    prepared = prepare(
        deposit,
        checklist=checklist,
        center=center,
        action=action,
        hold_until=hold,
        schemas=EnaSchemas(xsd_dir),
    )
    written = write(prepared, dest)
    out.print(
        f"Wrote {len(written)} documents to {dest}: 1 project, "
        f"{len(prepared.aliases['sample'])} samples, {len(prepared.aliases['experiment'])} "
        f"experiments, {len(prepared.aliases['run'])} runs ({len(prepared.files)} files); "
        "all valid against ENA's schemas",
        soft_wrap=True,
    )
    for w in dict.fromkeys(prepared.warnings):
        err.print(f"[yellow]warning[/] {w}", highlight=False)


MODES = ("dry-run", "test", "production")


@ena_cmd.command("submit")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", "mode", flag_value="dry-run", help="Prepare and check; send nothing.")
@click.option(
    "--test", "mode", flag_value="test", default=True, help="ENA's test server (default)."
)
@click.option("--production", "mode", flag_value="production", help="ENA itself: real accessions.")
@click.option("--account", envvar="ENA_WEBIN", help="Webin-NNNNN (else $ENA_WEBIN).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the Webin password (else $ENA_WEBIN_PASSWORD).",
)
@click.option("--api", type=click.Choice(["v1", "v2"]), default="v1", show_default=True)
@click.option("--webin-url", help="Another Webin service (a local ENA stand-in, a proxy).")
@click.option("--upload-host", default="webin2.ebi.ac.uk", show_default=True)
@click.option("--upload-port", type=int, default=21, show_default=True)
@click.option(
    "--upload-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="A CA certificate to trust for the upload area, besides the system's.",
)
@click.option("--checklist", default="ERC000011", show_default=True)
@click.option("--center", help="Center name, for broker accounts.")
@click.option("--hold", "hold_until", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--xsd-dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds per answer.")
@click.option(
    "--seek", "seek_url", help="Also link the accessions on the SEEK records a push made."
)
@click.option("--seek-project", help="The SEEK project the bundle's source was pushed to.")
@seek_options
@click.pass_context
def submit_cmd(
    ctx,
    bundle,
    mode,
    account,
    password_file,
    api,
    webin_url,
    upload_host,
    upload_port,
    upload_ca,
    checklist,
    center,
    hold_until,
    xsd_dir,
    timeout,
    seek_url,
    seek_project,
    token_file,
    user,
    db_url,
):
    """Upload the reads and register project, samples, experiments and runs in ENA.

    Safe to run again: what ENA holds unchanged is skipped, changes go as MODIFY,
    and accessions are written into the bundle (ISA comments) and its deposit
    record (deposits/). Nothing goes to ENA itself without --production."""
    from nels_core.deposit.ena_submit import plan, submit
    from nels_core.deposit.ena_xml import prepare
    from nels_core.deposit.isa_reader import read_bundle
    from nels_core.deposit.record import DepositRecord
    from nels_core.deposit.rules import check_public
    from nels_core.deposit.writeback import write_accessions
    from nels_core.deposit.xsd import EnaSchemas

    deposit = read_bundle(bundle)
    for w in check_public(deposit, "ENA"):
        err.print(f"[yellow]warning[/] {w}", highlight=False)
    hold = hold_until.date() if isinstance(hold_until, dt.datetime) else None
    prepared = prepare(
        deposit, checklist=checklist, center=center, hold_until=hold, schemas=EnaSchemas(xsd_dir)
    )
    for w in dict.fromkeys(prepared.warnings):
        err.print(f"[yellow]warning[/] {w}", highlight=False)
    server = "production" if mode == "production" else (webin_url or "test")
    record = DepositRecord.load(bundle, "ena", server)
    if mode == "dry-run":
        work = plan(prepared, record)
        out.print(
            f"Dry run against the record for {server}: would add {_counts(work.count('add'))}, "
            f"modify {_counts(work.count('modify'))}, leave {_counts(work.unchanged)} unchanged, "
            f"upload {len(work.files)} file(s). Nothing was sent.",
            soft_wrap=True,
        )
        return
    client, upload_files = _connections(
        ctx,
        deposit,
        account,
        password_file,
        mode,
        webin_url,
        api,
        timeout,
        upload_host,
        upload_port,
        upload_ca,
    )
    outcome = submit(
        prepared,
        record,
        client,
        deposit.identifier,
        hold_until=hold,
        center=center,
        upload_files=upload_files,
        say=lambda m: err.print(m, highlight=False),
    )
    set_values = write_accessions(bundle, deposit.identifier, record.objects)
    if seek_url:
        _link_in_seek(
            bundle,
            deposit,
            record,
            seek_url,
            seek_project,
            token_file,
            user,
            db_url,
            test=mode != "production",
        )
    if outcome.plan.empty and not outcome.receipts:
        out.print(f"ENA ({server}) already holds everything in this bundle, unchanged.")
    for stored, receipt in outcome.receipts:
        out.print(f"Receipt {Path(stored).name}: {', '.join(receipt.actions)} accepted")
        for info in receipt.infos:
            out.print(f"  ENA: {info}", highlight=False)
    project = record.objects.get("project", {}).get(deposit.identifier, {})
    out.print(
        f"ENA project {project.get('accession', '?')}; {len(record.objects.get('sample', {}))} "
        f"samples, {len(record.objects.get('run', {}))} runs accessioned; {set_values} "
        "accession(s) written into the bundle",
        soft_wrap=True,
    )


def _link_in_seek(bundle, deposit, record, url, project, token_file, user, db_url, test):
    """The accessions as links on the SEEK records pushed from the bundle's source."""
    import json

    from nels_core.errors import ConfigError
    from seek_plugin.accessions import link_accessions

    if not project:
        raise ConfigError("--seek needs --seek-project, the project the source was pushed to")
    report = json.loads((bundle / "export-report.json").read_text())
    folders = {s["identifier"]: s["folder"] for s in report.get("studies", [])}
    updated = link_accessions(
        seek_client(url, token_file, user),
        database(db_url),
        project,
        deposit,
        folders,
        record.objects,
        test=test,
    )
    if not updated:
        err.print(
            f"[yellow]warning[/] no SEEK record in project {project} was pushed from "
            f"{deposit.location} or all already carry the accessions",
            highlight=False,
        )
    else:
        shown = ", ".join(
            f"{n} {kind.replace('_', ' ')[: -1 if n == 1 else None]}" for kind, n in updated.items()
        )
        out.print(f"SEEK records linked to ENA: {shown}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}(s)" for kind, n in counts.items()) or "nothing"


def _connections(
    ctx,
    deposit,
    account,
    password_file,
    mode,
    webin_url,
    api,
    timeout,
    upload_host,
    upload_port,
    upload_ca,
):
    """The Webin client and the read upload, with the secret read from its file or env."""

    from nels_core.deposit.upload import UploadArea, upload
    from nels_core.deposit.webin import WebinAccount, WebinClient
    from nels_core.errors import ConfigError

    password = read_secret(password_file, "ENA_WEBIN_PASSWORD")
    if not account or not password:
        raise ConfigError(
            "no Webin credentials: the account in $ENA_WEBIN or --account, the password in "
            "$ENA_WEBIN_PASSWORD or a file given with --password-file"
        )
    credentials = WebinAccount(account, password)
    server = webin_url or mode
    client = WebinClient(credentials, server=server, api=api, timeout=timeout)
    area = UploadArea(upload_host, upload_port, account, password, cafile=upload_ca)
    store, base = _read_source(ctx, deposit.location)

    def upload_files(files):
        upload(store, base, files, area)

    return client, upload_files


def _read_source(ctx, location: str):
    """Where the bundle's read files are: its NeLS source, or the local folder it describes."""
    from nels_core.errors import ConfigError
    from nels_core.paths import normalise
    from nels_core.storage.local import LocalStorage

    from .main import _home

    if location.startswith("nels://"):
        return _home(ctx), normalise(location)
    if location and Path(location).is_dir():
        return LocalStorage(Path(location)), ""
    raise ConfigError(
        f"the bundle's read files are at {location or 'an unknown place'}, which is not "
        "reachable from here; export the bundle again from its NeLS folder"
    )
