"""``nels-bundle biostudies``: an ISA bundle as a BioStudies study."""

from __future__ import annotations

from pathlib import Path

import click

from .context import err, out, read_secret
from .kept import keep_after_deposit
from .seek import link_in_seek, seek_link_options
from .show import literal, warning


@click.group("biostudies")
def biostudies_cmd() -> None:
    """Deposit an ISA bundle's description and files in BioStudies."""


@biostudies_cmd.command("submit")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", "mode", flag_value="dry-run", help="Build and show; send nothing.")
@click.option("--test", "mode", flag_value="test", default=True, help="BioStudies' test server.")
@click.option("--production", "mode", flag_value="production", help="BioStudies itself.")
@click.option("--login", envvar="BIOSTUDIES_LOGIN", help="Account e-mail (else $BIOSTUDIES_LOGIN).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the password (else $BIOSTUDIES_PASSWORD).",
)
@click.option("--release", type=click.DateTime(formats=["%Y-%m-%d"]), help="Public release date.")
@click.option("--server-url", help="Another BioStudies API (a local stand-in, a proxy).")
@click.option(
    "--ena-server-url",
    envvar="NELS_ENA_WEBIN_URL",
    help="The Webin service the bundle's ENA deposit went to (ena submit --webin-url), "
    "whose accessions to link; else $NELS_ENA_WEBIN_URL, else the test server's or a "
    "stand-in's, whichever submitted last. --production links production's only.",
)
@seek_link_options
@click.pass_context
def submit_cmd(
    ctx,
    bundle,
    mode,
    login,
    password_file,
    release,
    server_url,
    ena_server_url,
    seek_url,
    seek_project,
    **seek,
):
    """Upload the bundle's ISA files and submit them as a study, linked to its
    ENA accessions when the bundle was deposited there. A re-run updates the
    study, or sends nothing when the study would not change."""
    import json

    from nels_core.deposit.biostudies import BioStudiesClient, BioStudiesLogin
    from nels_core.deposit.biostudies_submit import ena_record, release_date, submit_study
    from nels_core.deposit.isa_reader import read_bundle
    from nels_core.deposit.pagetab import page_tab
    from nels_core.deposit.record import DepositRecord
    from nels_core.deposit.rules import check_public
    from nels_core.errors import ConfigError

    deposit = read_bundle(bundle)
    for w in check_public(deposit, "BioStudies"):
        err.print(warning(w))
    try:
        when = release_date(deposit, release.date() if release else None)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    server = "production" if mode == "production" else (server_url or "test")
    record = DepositRecord.load(bundle, "biostudies", server)
    ena = ena_record(bundle, mode, "" if mode == "production" else ena_server_url or "")
    if mode == "dry-run":
        page = page_tab(
            deposit,
            bundle,
            f"nels-bundle/{deposit.identifier}",
            when,
            accno=record.accession("study", deposit.identifier),
            ena=ena.objects,
            ena_server=ena.server,
        )
        # as ls --json: plain text, not through rich (no markup read in it);
        # JSON escapes every control character itself
        click.echo(json.dumps(page, indent=1))
        err.print("Dry run: nothing was sent.")
        return
    password = read_secret(password_file, "BIOSTUDIES_PASSWORD")
    if not login or not password:
        raise ConfigError(
            "no BioStudies credentials: the account e-mail in $BIOSTUDIES_LOGIN or --login, "
            "the password in $BIOSTUDIES_PASSWORD or a file given with --password-file"
        )
    credentials = BioStudiesLogin(login, password)
    done = submit_study(
        bundle,
        deposit,
        lambda: BioStudiesClient(credentials, server=server_url or mode),
        record,
        when,
        ena=ena.objects,
        ena_server=ena.server,
    )
    accno = done.accno
    said = "unchanged, nothing sent" if done.unchanged else done.action
    out.print(literal(f"BioStudies study {accno} {said} ({server}); release {when.isoformat()}"))
    kept = "" if done.unchanged else keep_after_deposit(ctx, bundle)
    if seek_url:
        test = mode != "production"
        link_in_seek(
            "BioStudies", deposit, ena.objects, seek_url, seek_project, **seek, test=test,
            biostudies=accno, kept=kept,
        )  # fmt: skip
