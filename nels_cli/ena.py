"""``nels-bundle ena``: Webin XML for ENA from an ISA bundle."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import click

from .context import err, out, read_secret
from .kept import keep_after_deposit
from .seek import link_in_seek, seek_link_options
from .show import literal, warning


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
    from nels_core.taxonomy import Taxonomy

    deposit = read_bundle(bundle)
    hold = hold_until.date() if isinstance(hold_until, dt.datetime) else None
    prepared = prepare(
        deposit,
        checklist=checklist,
        center=center,
        action=action,
        hold_until=hold,
        schemas=EnaSchemas(xsd_dir),
        taxonomy=Taxonomy(),
    )
    written = write(prepared, dest)
    out.print(literal(f"Release: {prepared.release.sentence()}"), soft_wrap=True)
    out.print(
        literal(
            f"Wrote {len(written)} documents to {dest}: 1 project, "
            f"{len(prepared.aliases['sample'])} samples, {len(prepared.aliases['experiment'])} "
            f"experiments, {len(prepared.aliases['run'])} runs ({len(prepared.files)} files); "
            "all valid against ENA's schemas"
        ),
        soft_wrap=True,
    )
    for w in dict.fromkeys(prepared.warnings):
        err.print(warning(w))


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
@click.option(
    "--webin-url",
    envvar="NELS_ENA_WEBIN_URL",
    help="Another Webin service (a local ENA stand-in, a proxy); else $NELS_ENA_WEBIN_URL.",
)
@click.option(
    "--upload-host", envvar="NELS_ENA_UPLOAD_HOST", default="webin2.ebi.ac.uk", show_default=True
)
@click.option(
    "--upload-port", envvar="NELS_ENA_UPLOAD_PORT", type=int, default=21, show_default=True
)
@click.option(
    "--upload-ca",
    envvar="NELS_ENA_UPLOAD_CA",
    type=click.Path(exists=True, dir_okay=False),
    help="A CA certificate to trust for the upload area, besides the system's.",
)
@click.option(
    "--reads",
    "reads_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A local folder holding the bundle's read files, instead of the bundle's source.",
)
@click.option(
    "--receipts-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also copy the receipts of this run into this folder.",
)
@click.option("--checklist", default="ERC000011", show_default=True)
@click.option("--center", help="Center name, for broker accounts.")
@click.option("--hold", "hold_until", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--xsd-dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds per answer.")
@seek_link_options
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
    reads_dir,
    receipts_to,
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
    from nels_core.deposit.ena_run import deposit_in_ena
    from nels_core.deposit.xsd import EnaSchemas
    from nels_core.taxonomy import Taxonomy

    server = "production" if mode == "production" else (webin_url or "test")
    client = upload_reads = check_login = None
    if mode != "dry-run":
        client, upload_reads, check_login = _connections(
            ctx, account, password_file, mode, webin_url, api, timeout, upload_host,
            upload_port, upload_ca, reads_dir,
        )  # fmt: skip
    run = deposit_in_ena(
        bundle,
        server,
        client,
        upload_reads=upload_reads,
        checklist=checklist,
        center=center,
        hold_until=hold_until.date() if isinstance(hold_until, dt.datetime) else None,
        schemas=EnaSchemas(xsd_dir),
        open_reads=lambda location: _reads_at(ctx, reads_dir, location),
        taxonomy=Taxonomy(),
        check_login=check_login,
        say=lambda m: err.print(literal(m)),
        warn=lambda w: err.print(warning(w)),
    )
    # in the report (stdout) as well: a Galaxy job's report is its stdout
    out.print(literal(f"Release: {run.release.sentence()}"), soft_wrap=True)
    if run.plan is not None:
        work = run.plan
        out.print(
            literal(
                f"Dry run against the record for {server}: would add "
                f"{_counts(work.count('add'))}, modify {_counts(work.count('modify'))}, "
                f"leave {_counts(work.unchanged)} unchanged, "
                f"upload {len(work.files)} file(s). Nothing was sent."
            ),
            soft_wrap=True,
        )
        return
    outcome, record = run.outcome, run.record
    if outcome.plan.empty and not outcome.receipts:
        out.print(literal(f"ENA ({server}) already holds everything in this bundle, unchanged."))
    for stored, receipt in outcome.receipts:
        out.print(literal(f"Receipt {Path(stored).name}: {', '.join(receipt.actions)} accepted"))
        if receipts_to is not None:
            receipts_to.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(stored, receipts_to / Path(stored).name)
        for info in receipt.infos:
            out.print(literal(f"  ENA: {info}"))
    out.print(
        literal(
            f"ENA project {run.project or '?'}; {len(record.objects.get('sample', {}))} "
            f"samples, {len(record.objects.get('run', {}))} runs accessioned; {run.cells} "
            "accession(s) written into the bundle"
        ),
        soft_wrap=True,
    )
    kept = keep_after_deposit(ctx, bundle) if outcome.receipts else ""
    if seek_url:
        link_in_seek(
            "ENA",
            run.deposit,
            run.record.objects,
            seek_url,
            seek_project,
            token_file,
            user,
            db_url,
            test=mode != "production",
            kept=kept,
        )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}(s)" for kind, n in counts.items()) or "nothing"


def _connections(
    ctx,
    account,
    password_file,
    mode,
    webin_url,
    api,
    timeout,
    upload_host,
    upload_port,
    upload_ca,
    reads_dir,
):
    """The Webin client and the read upload, with the secret read from its file or env."""

    from nels_core.deposit.upload import UploadArea, check_login, upload
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

    def upload_reads(location, files):
        store, base = _local_reads(reads_dir, files) if reads_dir else _read_source(ctx, location)
        upload(store, base, files, area)

    return client, upload_reads, lambda: check_login(area)


def _reads_at(ctx, reads_dir: Path | None, location: str):
    """Where the reads are read for their check: --reads, else the bundle's source."""
    from nels_core.storage.local import LocalStorage

    return (LocalStorage(reads_dir), "") if reads_dir else _read_source(ctx, location)


def _local_reads(folder: Path, files):
    """The folder given for the reads, once it is known to hold every file to upload."""
    from nels_core.errors import ConfigError
    from nels_core.storage.local import LocalStorage

    missing = [path for _, _, path in files if not (folder / path).is_file()]
    if missing:
        raise ConfigError(
            f"{len(missing)} read file(s) of the bundle are not in {folder}, first "
            f"{missing[0]}: give the reads the bundle was exported from"
        )
    return LocalStorage(folder), ""


def _read_source(ctx, location: str):
    """Where the bundle's read files are: its NeLS source, or the local folder it describes."""
    from nels_core.errors import ConfigError

    from .context import open_folder

    found = open_folder(ctx, location)
    if found is not None:
        return found
    raise ConfigError(
        f"the bundle's read files are at {location or 'an unknown place'}, which is not "
        "reachable from here; export the bundle again from its NeLS folder"
    )
