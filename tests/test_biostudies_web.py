"""The web app's BioStudies deposit, through Flask's test client against the
live stand-ins: the uploaded sheet's contacts reach the study as authors of
their organisation, a re-run with nothing changed sends nothing and the job
page says so, and a new contact in the sheet updates the study."""

from test_ena_xml import fill_sheet
from test_web import sign_in
from test_web_deposit import (
    FOLDER,
    biostudies,
    post_job,
    site,  # noqa: F401  (a fixture)
    upload_sheet,
)

HEADER = "study\tlast name\tfirst name\temail\taffiliation\troles\torcid"
HANSEN = "\tHansen\tKari\tkari.hansen@uib.no\tUniversity of Bergen\tprincipal investigator\t"
NILSEN = "\tNilsen\tOla\tola.nilsen@uib.no\tUniversity of Bergen\t\t"
BERG = "\tBerg\tIngrid\t\tNTNU\t\t"


def with_contacts(template: str, *rows: str) -> str:
    filled = fill_sheet(template)
    assert HEADER in filled
    return filled.replace(HEADER, "\n".join([HEADER, *rows]), 1)


def names(study: dict, kind: str) -> list[str]:
    return [
        next(a["value"] for a in x["attributes"] if a["name"] == "Name")
        for x in study["section"].get("subsections", [])
        if x["type"] == kind
    ]


def test_authors_and_an_unchanged_rerun_from_the_web(site):  # noqa: F811
    sandboxes, app, _ = site
    world = sandboxes.deposit.biostudies_world
    client, _ = sign_in(app, sandboxes)
    template = client.get(f"/deposits/sheet?path={FOLDER}").get_data(as_text=True)
    upload_sheet(client, with_contacts(template, HANSEN, NILSEN))

    job_url, state = post_job(client, "/deposits/biostudies", **biostudies(sandboxes))
    assert state["state"] == "done", state["message"]
    (accno,) = world.studies
    held = world.studies[accno]
    assert names(held, "Author") == ["Kari Hansen", "Ola Nilsen"]
    assert names(held, "Organization") == ["University of Bergen"]
    assert f"{accno}</a> created" in client.get(job_url).get_data(as_text=True)

    # again, nothing changed: a fresh export, the same study; nothing sent
    job_url, state = post_job(client, "/deposits/biostudies", **biostudies(sandboxes))
    assert state["state"] == "done", state["message"]
    shown = client.get(job_url).get_data(as_text=True)
    assert f"{accno}</a> unchanged, nothing sent" in shown and 'id="unchanged"' in shown
    assert world.studies[accno] is held

    # a new contact in the sheet: the study is updated
    upload_sheet(client, with_contacts(template, HANSEN, NILSEN, BERG))
    job_url, state = post_job(client, "/deposits/biostudies", **biostudies(sandboxes))
    assert state["state"] == "done", state["message"]
    assert f"{accno}</a> updated" in client.get(job_url).get_data(as_text=True)
    assert list(world.studies) == [accno] and world.studies[accno] is not held
    assert names(world.studies[accno], "Author") == ["Kari Hansen", "Ola Nilsen", "Ingrid Berg"]
    assert names(world.studies[accno], "Organization") == ["University of Bergen", "NTNU"]
