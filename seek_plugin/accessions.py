"""Archive accessions written back onto the SEEK records a push made.

Each accession becomes a discussion link (SEEK's "links" on a record, a
label and a URL) pointing at the archive's own page: the project on the
investigation (and the BioStudies study), ENA sample and BioSample on
the sample, experiment and runs on the sample's data file. Records are found through the links the
push kept; links already on a record are left as they are, so running
this again adds nothing. Accessions from ENA's test server are labelled
so: ENA discards them within a day.
"""

from __future__ import annotations

import posixpath
from collections import Counter

from nels_core.deposit.ena_xml import alias
from nels_core.deposit.model import Deposit

from .client import SeekClient
from .db import Database, SeekLink

ENA_VIEW = "https://www.ebi.ac.uk/ena/browser/view/"
BIOSAMPLES = "https://www.ebi.ac.uk/biosamples/samples/"
BIOSTUDIES = {
    "production": "https://www.ebi.ac.uk/biostudies/studies/",
    "test": "https://wwwdev.ebi.ac.uk/biostudies/studies/",
}
TEST_NOTE = " (ENA test server: discarded within 24 hours)"


def link_accessions(
    client: SeekClient,
    db: Database,
    project_id: str,
    deposit: Deposit,
    objects: dict[str, dict[str, dict]],
    test: bool = False,
    biostudies: str = "",
    kept: str = "",
) -> Counter:
    """``objects``: the ENA deposit record's; ``biostudies``: the study's
    accession, if it was deposited there (on the test server when ``test``);
    ``kept``: where the deposited bundle was kept in NeLS, which gets a data
    file of its own. Counts of records updated (or made) by kind; records the
    push never made are skipped."""
    links = db.links(client.url, str(project_id), deposit.location)
    note = TEST_NOTE if test else ""
    wanted: dict[str, list[tuple[str, str]]] = {}  # push key -> (label, url)
    project = objects.get("project", {}).get(deposit.identifier)
    if project:
        wanted["investigation"] = [_ena("ENA project", project["accession"], note)]
    if biostudies:
        page = BIOSTUDIES["test" if test else "production"] + biostudies
        label = f"BioStudies {biostudies}" + (" (BioStudies test server)" if test else "")
        wanted.setdefault("investigation", []).append((label, page))
    for s in deposit.samples:
        key = f"{deposit.study_folders.get(s.study) or '.'}/{s.name}"
        sample = objects.get("sample", {}).get(alias(deposit.identifier, s.study, s.name))
        if sample:
            found = [_ena("ENA sample", sample["accession"], note)]
            biosample = sample.get("ext_ids", {}).get("biosample")
            if biosample:
                found.append((f"BioSample {biosample}{note}", BIOSAMPLES + biosample))
            wanted[f"sample:{key}"] = found
        reads = []
        experiment = objects.get("experiment", {}).get(alias(deposit.identifier, s.study, s.name))
        if experiment:
            reads.append(_ena("ENA experiment", experiment["accession"], note))
        for run in s.runs:
            entry = objects.get("run", {}).get(alias(deposit.identifier, s.study, run.name))
            if entry:
                reads.append(_ena(f"ENA run {run.name}:", entry["accession"], note))
        if reads:
            wanted[f"data_file:{key}"] = reads
    updated: Counter = Counter()
    for key, new in wanted.items():
        link = links.get(key)
        if link is None or not link.seek_id:
            continue
        resource = getattr(client, link.kind)
        record = resource.get(link.seek_id)
        have = {item.get("url") for item in record.attributes.get("discussion_links") or []}
        missing = [{"label": label, "url": url} for label, url in new if url not in have]
        if missing:
            resource.update(link.seek_id, {"discussion_links": missing})
            updated[link.kind] += 1
    if kept and _kept_file(client, db, str(project_id), deposit, links, kept):
        updated["kept_bundle_files"] += 1  # a data file made, not one linked
    return updated


def _kept_file(client: SeekClient, db: Database, project_id: str, deposit, links, kept) -> bool:
    """A data file in SEEK for the bundle kept beside the data (one per kept
    zip, remembered like the push's records), on the investigation's assays;
    False when there was one already or nothing was pushed."""
    from .plan import policy_for  # plan reads this module's addresses

    key = f"kept:{posixpath.basename(kept)}"
    if key in links or "investigation" not in links:
        return False
    name = posixpath.basename(kept)
    assays = [li.seek_id for li in links.values() if li.kind == "assays" and li.seek_id]
    link = db.save(SeekLink(seek_url=client.url, seek_project=project_id,
                            source=deposit.location, key=key, kind="data_files"))  # fmt: skip
    record = client.data_files.create(
        {
            "title": f"ISA bundle of {deposit.identifier} as deposited ({name})",
            "description": "The ISA bundle as it went to ENA/BioStudies, with the accessions, "
            "receipts and export report, kept in NeLS beside the data.",
            "content_blobs": [
                {
                    "url": f"nels://{kept}",
                    "original_filename": name,
                    "content_type": "application/zip",
                }
            ],
            "policy": policy_for(project_id),
        },
        {"projects": [project_id], "assays": assays},
    )
    link.seek_id = record.id
    db.save(link)
    return True


def _ena(what: str, accession: str, note: str) -> tuple[str, str]:
    return f"{what} {accession}{note}", ENA_VIEW + accession
