"""An ENA Webin stand-in: REST v1 (multipart) and v2 (``<WEBIN>``) submission,
the rules ENA applies, and receipts that pass ``SRA.receipt.xsd``.

What it checks, each failure worded as ENA words it where that is public
(receipts quoted in ENA users' code and issues):
- Basic auth with a Webin account (401 otherwise);
- each document's size, then its validity against ENA's schemas;
- actions: ADD, MODIFY, VALIDATE, RECEIPT (the stored receipt of a
  submission alias), HOLD at most two years ahead;
- aliases unique within a document and, for ADD, across every submission
  of the account ("The object being added already exists in the
  submission account with accession: ..."); MODIFY only of what exists;
- references: an experiment's study and sample, a run's experiment, found
  in the same submission or the account;
- samples: a known taxon and the checklist's mandatory fields;
- runs: every file present in the account's upload area (the real FTP
  server's folder) with the MD5 the RUN XML states, two FASTQ files for a
  paired library.
A failed submission stores nothing ("Submission has been rolled back.").
Accessions follow ENA's formats: PRJEB/ERP, ERS with a SAMEA BioSample,
ERX, ERR, ERA. ``stall_once`` holds the answer to the next accepted
submission back, as a gateway timeout after acceptance does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, Response, request

from nels_core.deposit.xsd import EnaSchemas

TEST_INFO = "This submission is a TEST submission and will be discarded within 24 hours"
ROLLED_BACK = "Submission has been rolled back."
SETS = {  # set element -> document kind
    "SUBMISSION_SET": "submission",
    "SUBMISSION": "submission",
    "PROJECT_SET": "project",
    "STUDY_SET": "study",
    "SAMPLE_SET": "sample",
    "EXPERIMENT_SET": "experiment",
    "RUN_SET": "run",
}
OBJECT_KINDS = ("project", "study", "sample", "experiment", "run")
RECEIPT_ORDER = ("EXPERIMENT", "RUN", "SAMPLE", "STUDY", "PROJECT")  # SRA.receipt.xsd's sequence
CHECKLIST_FIELDS = {
    "ERC000011": ("collection date", "geographic location (country and/or sea)"),
}
PREFIX = {"project": "PRJEB", "study": "ERP", "sample": "ERS", "experiment": "ERX", "run": "ERR"}


@dataclass
class Stored:
    kind: str
    alias: str
    accession: str
    xml: bytes
    hold_until: str = ""
    ext_ids: tuple[tuple[str, str], ...] = ()
    paired: bool = False  # experiments: the library layout


@dataclass
class WebinWorld:
    accounts: dict[str, str]  # Webin-NNNN -> password
    upload_root: Path | None = None  # the FTP server's root: <root>/<account>/<file>
    test: bool = True  # the test server: receipts say so
    max_document_bytes: int = 64 << 20
    today: dt.date | None = None
    objects: dict = field(default_factory=dict)  # account -> kind -> alias -> Stored
    receipts: dict = field(default_factory=dict)  # account -> submission alias -> receipt
    submissions: list = field(default_factory=list)  # (account, actions, success)
    stall_once: float = 0.0
    _serial: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _md5: dict = field(default_factory=dict)

    def held(self, account: str, kind: str) -> dict[str, Stored]:
        return self.objects.setdefault(account, {}).setdefault(kind, {})

    def accession(self, prefix: str, digits: int = 7) -> str:
        n = self._serial.get(prefix, 0) + 1
        self._serial[prefix] = n
        start = {"PRJEB": 90000, "ERP": 150000, "SAMEA": 110000000}.get(prefix, 1000000)
        return f"{prefix}{start + n:0{digits}d}"

    def md5_of(self, path: Path) -> str:
        st = path.stat()
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self._md5:
            h = hashlib.md5()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            self._md5[key] = h.hexdigest()
        return self._md5[key]


def create_app(world: WebinWorld, schemas: EnaSchemas) -> Flask:
    from .taxonomy import bp as taxonomy

    app = Flask("nels_sandbox.webin")
    app.register_blueprint(taxonomy)  # ENA's taxonomy lookups, on the same host as Webin

    def answer(documents: dict[str, bytes] | None, problem: str = "") -> Response:
        account = _account(world, request.headers.get("Authorization", ""))
        if account is None:
            return Response(
                "Unauthorized", 401, {"WWW-Authenticate": 'Basic realm="Webin"'}, "text/plain"
            )
        if documents is None:
            return Response(problem, 400, mimetype="text/plain")
        with world._lock:
            receipt, stall = _process(world, schemas, account, documents)
        from lxml import etree

        checker = schemas.load("receipt")
        if not checker.validate(etree.fromstring(receipt)):  # a sandbox bug: fail loudly
            return Response(f"receipt breaks SRA.receipt.xsd: {checker.error_log}", 500)
        if stall:
            time.sleep(stall)
        return Response(receipt, 200, mimetype="application/xml")

    @app.post("/ena/submit/drop-box/submit/")
    @app.post("/ena/submit/drop-box/submit")
    def v1():
        documents = {}
        for part, upload in request.files.items(multi=True):
            documents[part.lower()] = upload.read()
        for part, value in request.form.items(multi=True):  # parts sent as plain fields
            documents[part.lower()] = value.encode()
        unknown = sorted(set(documents) - {*OBJECT_KINDS, "submission"})
        if unknown:
            return answer(None, f"Unknown submission parts: {', '.join(unknown)}")
        return answer(documents)

    @app.post("/ena/submit/webin-v2/submit")
    def v2():
        body = request.files["file"].read() if "file" in request.files else request.get_data()
        documents, problem = _split_webin(body)
        return answer(documents, problem)

    return app


def _account(world: WebinWorld, header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None
    return user if world.accounts.get(user) == password and password else None


def _split_webin(body: bytes) -> tuple[dict[str, bytes] | None, str]:
    from lxml import etree

    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError as e:
        return None, f"The WEBIN XML is not well formed: {e}"
    if root.tag != "WEBIN":
        return None, f"Expected a WEBIN document, not <{root.tag}>"
    documents = {}
    for child in root:
        kind = SETS.get(child.tag) if isinstance(child.tag, str) else None
        if kind is None:
            continue
        if child.tag == "SUBMISSION_SET":
            inner = child.find("SUBMISSION")
            child = inner if inner is not None else child
        documents[kind] = etree.tostring(child, xml_declaration=True, encoding="UTF-8")
    return documents, ""


def _process(world, schemas, account, documents) -> tuple[bytes, float]:
    from lxml import etree

    today = world.today or dt.date.today()
    errors: list[str] = []
    trees = {}
    for kind, data in documents.items():
        if len(data) > world.max_document_bytes:
            errors.append(
                f"The {kind} XML is {len(data):,} bytes; Webin accepts at most "
                f"{world.max_document_bytes:,} bytes per document."
            )
            continue
        try:
            tree = etree.fromstring(data)
        except etree.XMLSyntaxError as e:
            errors.append(f"Invalid {kind} XML: {e}")
            continue
        if not schemas.load(kind).validate(tree):
            errors += [
                f"Invalid {kind} XML, line {e.line}: {e.message}"
                for e in schemas.load(kind).error_log
            ]
            continue
        trees[kind] = tree
    submission = trees.get("submission")
    if submission is None:
        if "submission" not in documents:
            errors.append("The submission XML is missing.")
        return _receipt(world, [], errors, ["ADD"], False), 0.0
    sub_alias = submission.get("alias") or f"SUBMISSION-{today:%d-%m-%Y}"
    actions, targets = [], {}
    hold = ""
    for action in submission.iterfind("ACTIONS/ACTION/*"):
        actions.append(action.tag)
        if action.tag == "RECEIPT":
            targets["RECEIPT"] = action.get("target", "")
        if action.tag == "HOLD" and action.get("HoldUntilDate"):
            hold = action.get("HoldUntilDate")[:10]
            if dt.date.fromisoformat(hold) > today + dt.timedelta(days=2 * 365):
                errors.append(
                    f"The hold date {hold} is more than two years in the future; the latest "
                    f"allowed is {today + dt.timedelta(days=2 * 365)}."
                )
    if "RECEIPT" in actions:
        stored = world.receipts.get(account, {}).get(targets["RECEIPT"])
        if stored is not None:
            return stored, 0.0
        errors.append(f'The submission with alias "{targets["RECEIPT"]}" does not exist.')
        return _receipt(world, [], errors, ["RECEIPT"], False), 0.0
    main = next((a for a in actions if a in ("ADD", "MODIFY", "VALIDATE")), None)
    if main is None:
        errors.append("The submission has no ADD, MODIFY or VALIDATE action.")
        main = "ADD"
    if main != "VALIDATE" and sub_alias in world.receipts.get(account, {}):
        errors.append(
            f'In submission, alias:"{sub_alias}", accession:"". '
            "The object being added already exists in the submission account."
        )
    objects = _objects(trees, errors)
    _check_objects(world, account, main, objects, errors)
    receipt_actions = [main] + (["HOLD"] if hold and main != "VALIDATE" else [])
    if errors or main == "VALIDATE":
        listed = [(k, el.get("alias", ""), "", "", ()) for k, el in objects]
        return _receipt(world, listed, errors, receipt_actions, not errors, sub_alias), 0.0
    listed = _store(world, account, main, objects, hold)
    receipt = _receipt(world, listed, [], receipt_actions, True, sub_alias, world.accession("ERA"))
    world.receipts.setdefault(account, {})[sub_alias] = receipt
    world.submissions.append((account, tuple(receipt_actions), True))
    stall, world.stall_once = world.stall_once, 0.0
    return receipt, stall


def _objects(trees, errors) -> list[tuple[str, object]]:
    objects = []
    for kind in OBJECT_KINDS:
        tree = trees.get(kind)
        if tree is None:
            continue
        seen = set()
        for el in tree.iterfind(kind.upper()):
            alias = el.get("alias", "")
            if alias in seen:
                errors.append(  # ENA's wording (ISA-tools/isa-api#158)
                    f"The {kind} alias ({alias}) found more than once "
                    f"but {kind} alias must be unique."
                )
            seen.add(alias)
            objects.append((kind, el))
    return objects


def _check_objects(world, account, action, objects, errors) -> None:
    here = {(k, el.get("alias", "")) for k, el in objects}
    for kind, el in objects:
        alias = el.get("alias", "")
        where = f'In {kind}, alias: "{alias}".'
        known = world.held(account, kind).get(alias)
        if action == "ADD" and known is not None:
            errors.append(
                f"{where} The object being added already exists in the submission account "
                f'with accession: "{known.accession}".'
            )
        if action == "MODIFY" and known is None:
            errors.append(
                f"{where} The object being modified does not exist in the submission account."
            )
        if kind == "sample":
            _check_sample(el, where, errors)
        elif kind == "experiment":
            for ref, targets in (
                ("STUDY_REF", ("project", "study")),
                ("DESIGN/SAMPLE_DESCRIPTOR", ("sample",)),
            ):
                _check_ref(world, account, el.find(ref), targets, here, where, errors)
        elif kind == "run":
            ref = el.find("EXPERIMENT_REF")
            _check_ref(world, account, ref, ("experiment",), here, where, errors)
            _check_files(world, account, el, _paired(world, account, ref, objects), where, errors)


def _check_sample(el, where, errors) -> None:
    taxon = (el.findtext("SAMPLE_NAME/TAXON_ID") or "").strip()
    if not taxon.isdigit() or int(taxon) == 0:
        errors.append(f'{where} Unknown taxon id "{taxon}".')
    values = {
        (a.findtext("TAG") or "").strip(): (a.findtext("VALUE") or "").strip()
        for a in el.iterfind("SAMPLE_ATTRIBUTES/SAMPLE_ATTRIBUTE")
    }
    checklist = values.get("ENA-CHECKLIST", "ERC000011")
    for tag in CHECKLIST_FIELDS.get(checklist, ()):
        if not values.get(tag):
            errors.append(f'{where} Missing mandatory field "{tag}" of checklist {checklist}.')


def _check_ref(world, account, ref, targets, here, where, errors) -> None:
    if ref is None:
        return
    name, accession = ref.get("refname"), ref.get("accession")
    for kind in targets:
        held = world.held(account, kind)
        if name and ((kind, name) in here or name in held):
            return
        if accession and any(s.accession == accession for s in held.values()):
            return
    errors.append(f'{where} Failed to find referenced {targets[0]} "{name or accession}".')


def _paired(world, account, ref, objects) -> bool:
    name = ref.get("refname") if ref is not None else None
    for kind, el in objects:
        if kind == "experiment" and el.get("alias") == name:
            return el.find("DESIGN/LIBRARY_DESCRIPTOR/LIBRARY_LAYOUT/PAIRED") is not None
    known = world.held(account, "experiment").get(name or "")
    return known is not None and known.paired


def _check_files(world, account, run, paired, where, errors) -> None:
    files = run.findall("DATA_BLOCK/FILES/FILE")
    fastq = [f for f in files if f.get("filetype") == "fastq"]
    if paired and fastq and len(fastq) != 2:
        errors.append(f"{where} A paired library needs 2 fastq files, not {len(fastq)}.")
    for f in files:
        name = f.get("filename", "")
        path = world.upload_root / account / name if world.upload_root else None
        if path is None or ".." in name.split("/") or not path.is_file():
            errors.append(
                f'{where} Invalid data file "{name}": the file was not found in the upload area.'
            )
            continue
        md5 = world.md5_of(path)
        if md5 != (f.get("checksum") or "").lower():
            errors.append(
                f'{where} Invalid data file "{name}": its MD5 checksum is {md5}, '
                f'not "{f.get("checksum")}".'
            )


def _store(world, account, action, objects, hold) -> list:
    from lxml import etree

    listed = []
    for kind, el in objects:
        alias = el.get("alias", "")
        held = world.held(account, kind)
        known = held.get(alias)
        if known is None:
            ext = ()
            if kind == "sample":
                ext = (("biosample", world.accession("SAMEA")),)
            elif kind == "project":
                ext = (("study", world.accession("ERP", 6)),)
            prefix = PREFIX[kind]
            known = Stored(
                kind,
                alias,
                world.accession(prefix, 5 if kind == "project" else 7),
                b"",
                ext_ids=ext,
            )
            held[alias] = known
        known.xml = etree.tostring(el)
        known.hold_until = hold or known.hold_until
        known.paired = el.find("DESIGN/LIBRARY_DESCRIPTOR/LIBRARY_LAYOUT/PAIRED") is not None
        listed.append((kind, alias, known.accession, known.hold_until, known.ext_ids))
    return listed


def _receipt(world, listed, errors, actions, success, sub_alias="", sub_accession="") -> bytes:
    from lxml import etree

    now = dt.datetime.now(dt.UTC)
    root = etree.Element(
        "RECEIPT",
        receiptDate=now.isoformat(timespec="milliseconds"),
        submissionFile="submission.xml",
        success="true" if success else "false",
    )
    for tag in RECEIPT_ORDER:
        for kind, alias, accession, hold, ext_ids in listed:
            if kind.upper() != tag:
                continue
            el = etree.SubElement(root, tag, alias=alias)
            if accession:
                el.set("accession", accession)
                el.set("status", "PRIVATE")
            if hold:
                el.set("holdUntilDate", hold)
            for kind_, acc in ext_ids:
                etree.SubElement(el, "EXT_ID", accession=acc, type=kind_)
    sub = etree.SubElement(root, "SUBMISSION", alias=sub_alias or "SUBMISSION")
    sub.set("accession", sub_accession)
    messages = etree.SubElement(root, "MESSAGES")
    for e in errors:
        etree.SubElement(messages, "ERROR").text = e
    if errors:
        etree.SubElement(messages, "INFO").text = ROLLED_BACK
    if world.test:
        etree.SubElement(messages, "INFO").text = TEST_INFO
    for a in actions:
        etree.SubElement(root, "ACTIONS").text = a
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
