"""NeLS in Galaxy's own web UI: the built client the ``galaxy`` package ships,
in Debian's chromium, on the suite's real Galaxy (tests/galaxy_stack.py).

What a researcher does first: register, save the NeLS token in the
preferences, pick FASTQs of a NorSeq run in both uploaders (browsing,
paging, searching) or paste their address, export a history into a project
folder and see how it went, and read what to do when NeLS says no.
"""

from __future__ import annotations

import hashlib
import time

import pytest
import sbi_seed
from conftest import ARTIFACTS, need
from galaxy_stack import RUN, nels_token, wait_for
from galaxy_ui import GalaxyUI

pytestmark = [pytest.mark.galaxy_server, pytest.mark.slow]

bioblend = need("bioblend", "dev")
from bioblend.galaxy import GalaxyInstance  # noqa: E402

RUN_FOLDER = RUN.rsplit("/", 1)[1]
RUN_URI = f"gxfiles://nels/Projects/UiB-Test-Project/{RUN}"
SAVED = "User information has been saved."


@pytest.fixture
def ui(galaxy_stack, page, request):
    steps: list[tuple[str, bytes]] = []
    yield GalaxyUI(page, galaxy_stack.galaxy.url, steps)
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        folder = ARTIFACTS / request.node.name
        folder.mkdir(parents=True, exist_ok=True)
        for n, (name, png) in enumerate(steps):
            (folder / f"{n:02d}-{name.replace('/', '_')}.png").write_bytes(png)


def as_api(stack, name: str) -> GalaxyInstance:
    """The user registered in the browser, through the API (to check what landed)."""
    admin = GalaxyInstance(stack.galaxy.url, key=stack.galaxy.admin_key)
    (user,) = admin.users.get_users(f_email=f"{name}@example.org")
    return GalaxyInstance(stack.galaxy.url, key=admin.users.get_or_create_user_apikey(user["id"]))


def landed_md5s(gi: GalaxyInstance) -> dict[str, str]:
    """Name -> MD5 of every dataset in the user's current history."""
    history = gi.histories.get_most_recently_used_history()["id"]
    return {
        d["name"]: hashlib.md5(
            gi.datasets.download_dataset(d["id"], use_default_filename=False)
        ).hexdigest()
        for d in gi.histories.show_history(history, contents=True)
        if not d["deleted"]
    }


def project_folders(stack) -> list[str]:
    """The test project's folders (other tests add some), in name order."""
    pdir = stack.cast.world.project_dir(stack.cast.project)
    return sorted((p.name for p in pdir.iterdir() if p.is_dir()), key=str.casefold)


def test_a_researcher_picks_fastqs_of_a_run_in_both_uploaders(galaxy_stack, ui):
    stack = galaxy_stack
    ui.register("ingrid")
    # the sample preferences: NeLS first, saying where a token comes from
    sections = [t for t in ui.open_manage_information() if t.startswith("Your ")]
    assert sections == ["Your NeLS account", "Your ENA Webin account", "Your SEEK account"]
    help_text = ui.page.locator('[id="form-element-nels|access_token"]').inner_text()
    assert "Get a token from NeLS (https://nels.elixir.no)" in help_text
    assert "Required" not in help_text
    assert ui.save_nels_token(nels_token(stack, "bob")) == SAVED

    ui.open_nels_from_upload()
    assert ui.rows() == ["Personal", "Projects", "StoreBioinfo"]
    ui.open_row("Projects")
    # projects by their NeLS names, the locked one marked
    assert ui.rows() == ["Locked_2020 [locked]", "UiB Test Project"]
    ui.open_row("UiB Test Project")
    assert ui.rows() == project_folders(stack)
    ui.open_row("NorSeq")
    ui.open_row(RUN_FOLDER)
    first = ui.rows()
    assert len(first) == 25 and first[0] == "Gill-1_S9_L001_R1_001.fastq.gz"
    ui.page_to(2)  # 32 FASTQs, the sheet and md5sum.txt
    assert ui.rows()[-2:] == ["md5sum.txt", "SampleSheet.csv"] and len(ui.rows()) == 9
    ui.search("Liver-3")
    assert ui.rows() == ["Liver-3_S3_L001_R1_001.fastq.gz", "Liver-3_S3_L001_R2_001.fastq.gz"]
    ui.search("R1")
    assert len(ui.rows()) == 16
    ui.search("Liver-2_")
    pair = ["Liver-2_S2_L001_R1_001.fastq.gz", "Liver-2_S2_L001_R2_001.fastq.gz"]
    for name in pair:
        ui.click_row(name)
    ui.select()
    ui.start_upload()
    assert ui.wait_history_items(2) == ["ok", "ok"]

    # Galaxy's newer uploader takes the same files
    beta = ["Liver-4_S4_L001_R1_001.fastq.gz", "Liver-4_S4_L001_R2_001.fastq.gz"]
    ui.choose_remote_files_beta(
        ["NeLS", "Projects", "UiB Test Project", "NorSeq", RUN_FOLDER], beta
    )
    assert ui.wait_history_items(4) == ["ok"] * 4

    # the bytes Galaxy holds are those the facility delivered
    landed = landed_md5s(as_api(stack, "ingrid"))
    assert landed == {name: stack.delivered[name] for name in pair + beta}


def test_a_researcher_picks_a_fastq_from_storebioinfo(galaxy_stack, ui):
    stack = galaxy_stack
    cast = stack.cast
    dataset = sbi_seed.seed(cast.world, cast.project)  # this test's only
    name = "Liver-1_S1_L001_R1_001.fastq.gz"
    try:
        ui.register("olav")
        ui.save_nels_token(nels_token(stack, "bob"))
        ui.open_nels_from_upload()
        ui.open_row("StoreBioinfo")
        # SBI projects by their names as they are, then datasets, subtypes, files
        assert ui.rows() == ["Locked_2020", "UiB Test Project"]
        ui.open_row("UiB Test Project")
        assert ui.rows() == [sbi_seed.DATASET]
        ui.open_row(sbi_seed.DATASET)
        assert ui.rows() == ["qc", sbi_seed.SUBTYPE]
        ui.open_row(sbi_seed.SUBTYPE)
        ui.open_row("run")
        assert ui.rows() == [name, "SampleSheet.csv"]
        ui.click_row(name)
        ui.select()
        ui.start_upload()
        assert ui.wait_history_items(1) == ["ok"]  # after the SBI download job ran
        landed = landed_md5s(as_api(stack, "olav"))
        assert landed == {name: hashlib.md5(sbi_seed.READS).hexdigest()}
    finally:
        sbi_seed.unseed(cast.world, cast.project, dataset)


def test_pasting_a_nels_address_imports_the_file(galaxy_stack, ui):
    stack = galaxy_stack
    ui.register("jonas")
    ui.save_nels_token(nels_token(stack, "bob"))
    name = "Gill-3_S11_L001_R2_001.fastq.gz"
    ui.paste(f"{RUN_URI}/{name}")  # the form the README tells researchers to paste
    assert ui.wait_history_items(1) == ["ok"]
    assert landed_md5s(as_api(stack, "jonas")) == {name: stack.delivered[name]}


def test_a_history_exported_to_nels_and_a_refused_export_are_both_reported(galaxy_stack, ui):
    stack = galaxy_stack
    ui.register("kari")
    ui.save_nels_token(nels_token(stack, "bob"))  # a member: adds, never replaces
    ui.paste("a result worth keeping\n")
    assert ui.wait_history_items(1) == ["ok"]

    offered = ui.export_history(["Projects/UiB Test Project/results"], "kari-history")
    # only folders NeLS lets a member write into: no Personal, Projects or project root
    personal = stack.cast.world.home(stack.cast.bob) / "Personal"
    assert "Projects/UiB Test Project/results" in offered
    assert offered == [f"Personal/{p.name}" for p in sorted(personal.iterdir()) if p.is_dir()] + [
        f"Projects/UiB Test Project/{f}" for f in project_folders(stack)
    ]
    stored = stack.cast.world.project_dir(stack.cast.project) / "results" / "kari-history.tar.gz"
    wait_for(stored.exists, 120, what=f"{stored}")
    done = ui.wait_recent_export(1)
    assert "Complete" in done and "Export completed successfully" in done
    assert "gxfiles://nels/Projects/UiB-Test-Project/results/kari-history.tar.gz" in done
    original = stored.read_bytes()
    assert original[:2] == b"\x1f\x8b"

    ui.export_history(["Projects/UiB Test Project/results"], "kari-history")
    refused = ui.wait_recent_export(2)
    assert "Failed" in refused
    assert (
        "Error: cannot overwrite 'Projects/UiB-Test-Project/results/kari-history.tar.gz': a "
        "member may not overwrite here (the project's PI or a power user may); choose another "
        "name"
    ) in " ".join(refused.split())
    assert stored.read_bytes() == original


def test_no_token_an_expired_one_and_a_stranger_each_read_what_to_do(galaxy_stack, page, ui):
    stack = galaxy_stack
    where = "User > Preferences > Manage information > Your NeLS account"
    url = "https://nels.example.org/how-to-get-a-token"  # the admin's token_help_url

    ui.register("lars")  # no token saved
    ui.open_nels_from_upload()
    assert ui.dialog_error() == (
        f"No NeLS access token in your Galaxy preferences: add yours under {where} "
        f"(get one at {url})."
    )

    ui.sign_out()
    ui.register("mette")
    token = nels_token(stack, "carol")
    ui.save_nels_token(token)
    stack.cast.world.access_tokens[token].expires_at = time.time() - 1  # an hour later
    ui.open_nels_from_upload()
    assert ui.dialog_error() == (
        f"Your NeLS access token has expired: paste a new one under {where} (get one at {url})."
    )

    ui.sign_out()
    ui.register("nils")
    ui.save_nels_token(nels_token(stack, "erin"))  # in no project
    ui.open_nels_from_upload()
    ui.open_row("Projects")
    assert ui.rows() == [] and "No entries." in ui.dialog().inner_text()
    ui.paste(f"{RUN_URI}/Gill-1_S9_L001_R1_001.fastq.gz")
    assert ui.wait_history_items(1) == ["error"]
    assert (
        "no such NeLS project folder among yours: Projects/UiB-Test-Project (check the address, "
        "or ask the project's PI to add you)"
    ) in ui.dataset_error()
