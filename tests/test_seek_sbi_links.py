"""A run archived in StoreBioinfo, pushed to SEEK: its data files link to
the subtype's NeLS permalink as well as to their reads in NeLS (a SEEK
discussion link), whether they were pushed before the archive or after it,
and pushing again adds the link no second time."""

from __future__ import annotations

import pytest

from nels_cli.demo import RUN, SEQ_PROJECT
from nels_core.api import NelsApi
from nels_core.api.sbi_transfer import SbiTransfer
from nels_core.connect import NelsSettings, build_home
from nels_core.isa.export import describe
from nels_core.isa.mapping import identifier_for
from nels_core.sbi import archive
from nels_sandbox.web_site import start_sandboxes
from seek_plugin.client import SeekClient
from seek_plugin.db import Database
from seek_plugin.push import Pusher
from seek_plugin.storebioinfo import sbi_subtypes

FOLDER = f"Projects/{SEQ_PROJECT}"
RUN_FOLDER = f"{FOLDER}/NorSeq/{RUN}"


@pytest.fixture
def nels(tmp_path):
    sb = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    user = sb.nels_world.user_by_username(sb.username)
    token = sb.nels_world.issue(user.nels_id, sb.client_id)["access_token"]
    settings = NelsSettings(
        backend="local",
        root=str(sb.directory / "nels" / "by-id" / str(user.nels_id)),
        api_url=f"{sb.nels_url}/nels-api2",
        access_token=token,
    )
    home = build_home(settings)
    api = NelsApi(settings.api_url, token)
    try:
        yield sb, home, api
    finally:
        home.close()
        sb.stop()


def _push(sb, home, api, db_url: str, path: str = FOLDER):
    inv, _ = describe(home, path, f"nels://{path}", identifier_for(path))
    seek = SeekClient(sb.seek_url, token=sb.seek_token)
    sbi = sbi_subtypes(api, sb.seq_project_id)
    report = Pusher(seek, Database(db_url), sb.seek_project).push(inv, sbi)
    return report, seek, sbi


def _archive(home, api):
    return archive(
        home,
        api,
        f"nels://{RUN_FOLDER}",
        dataset="Run1",
        dataset_type="Illumina_seq_data",
        subtype="reads",
        transfer=SbiTransfer(api, poll_interval=0.01, max_poll_interval=0.05),
    )


def _read_files(sb):
    """The data files of the run's samples, as SEEK holds them."""
    return [
        r
        for r in sb.seek_world.records["data_files"].values()
        if r.attributes["title"].endswith(" reads (" + RUN + ")")
    ]


def _sbi_links(record) -> list[dict]:
    return [
        li
        for li in record.attributes.get("discussion_links") or []
        if li["label"].startswith("StoreBioinfo ")
    ]


def test_data_files_pushed_before_the_archive_get_the_link_on_the_next_push(nels, tmp_path):
    sb, home, api = nels
    db = f"sqlite:///{tmp_path / 'links.db'}"
    first, _, sbi = _push(sb, home, api, db)
    assert all(RUN not in s.holds for s in sbi)  # the run is not archived yet
    files = _read_files(sb)
    assert len(files) == 2 and all(_sbi_links(f) == [] for f in files)

    _archive(home, api)
    report, seek, sbi = _push(sb, home, api, db)
    (reads,) = [s for s in sbi if s.dataset == "Run1" and s.subtype == "reads"]
    assert reads.holds == (RUN,)
    updated = {r.key for r in report.records if r.action == "updated"}
    assert {f"data_file:NorSeq/{RUN}/{s}" for s in ("Liver-1", "Gill-1")} <= updated
    for f in _read_files(sb):
        assert _sbi_links(f) == [
            {
                "id": _sbi_links(f)[0]["id"],
                "label": f"StoreBioinfo Run1/reads/{RUN}",
                "url": reads.permalink,
            }
        ]
        assert f.blobs[0]["url"].startswith(f"nels://{RUN_FOLDER}/")  # the reads in NeLS stay first
    assert reads.permalink.startswith(f"{sb.nels_url}/nels/pages/sbi/sbi.xhtml?ref=")

    again, seek, _ = _push(sb, home, api, db)
    assert seek.sent["write"] == 0 and set(again.count()) == {"unchanged"}
    assert all(len(_sbi_links(f)) == 1 for f in _read_files(sb))


def test_a_first_push_after_the_archive_links_at_creation_and_keeps_other_links(nels, tmp_path):
    sb, home, api = nels
    _archive(home, api)
    db = f"sqlite:///{tmp_path / 'links.db'}"
    report, _, sbi = _push(sb, home, api, db, RUN_FOLDER)  # the run folder itself
    (reads,) = [s for s in sbi if s.dataset == "Run1" and s.subtype == "reads"]
    files = _read_files(sb)
    assert len(files) == 2
    assert all([li["url"] for li in _sbi_links(f)] == [reads.permalink] for f in files)
    assert all(r.action == "created" for r in report.records)

    # a link added in SEEK (an ENA run, say) is kept when the push updates the
    # file, and the StoreBioinfo link it holds is not sent again
    (dataset_file,) = [r for r in report.records if r.key == reads.key]
    assert dataset_file.action == "created"  # the subtype itself is a data file too
    f = files[0]
    f.attributes["discussion_links"].append({"id": "9", "label": "ENA run", "url": "https://x/1"})
    database = Database(db)
    links = database.links(sb.seek_url, str(sb.seek_project), f"nels://{RUN_FOLDER}")
    (stored,) = [li for li in links.values() if li.kind == "data_files" and li.seek_id == f.id]
    stored.digest = ""  # as if the file's description had changed since
    database.save(stored)
    again, _, _ = _push(sb, home, api, db, RUN_FOLDER)
    assert [r.action for r in again.records if (r.kind, r.seek_id) == (f.kind, f.id)] == ["updated"]
    assert all(len(_sbi_links(g)) == 1 for g in _read_files(sb))
    assert any(li["label"] == "ENA run" for li in f.attributes["discussion_links"])
