"""Every taxon looked up in ENA's taxonomy before anything is sent; ids filled
from organism names; answers kept per machine; no network said, not passed."""

import socket

import pytest
from flask import Flask
from test_ena_xml import FILLED, bundle

from nels_core.deposit.ena_xml import PrepareError, prepare
from nels_core.deposit.isa_reader import read_bundle
from nels_core.taxonomy import Taxonomy
from nels_sandbox.serving import Served
from nels_sandbox.taxonomy import bp


@pytest.fixture
def service():
    app = Flask("taxonomy")
    app.register_blueprint(bp)
    served = Served(app).start()
    yield f"{served.url}/ena/taxonomy/rest"
    served.stop()


def test_unknown_unsubmittable_and_mismatched_taxa_are_refused(tmp_path, service):
    taxonomy = Taxonomy(service, cache=tmp_path / "taxa.json")
    good = read_bundle(bundle(tmp_path / "good"))
    assert prepare(good, taxonomy=taxonomy).documents  # Salmo salar is 8030
    for values, said in (
        ({"organism": "Gadus morhua"}, "taxon 8030 is 'Salmo salar' in ENA's taxonomy, but the "
         "sheet names it 'Gadus morhua'"),
        ({"taxon id": "999999999"}, "taxon 999999999 (Gill-1, Gill-2, Liver-1 and 1 more) is "
         "not in ENA's taxonomy"),
        ({"organism": "Salmo", "taxon id": "8028"}, "taxon 8028 'Salmo' (Gill-1"),
    ):  # fmt: skip
        deposit = read_bundle(
            bundle(tmp_path / values.get("taxon id", "x"), values={**FILLED, **values})
        )
        with pytest.raises(PrepareError) as e:
            prepare(deposit, taxonomy=taxonomy)
        assert said in str(e.value)


def test_answers_are_kept_and_no_network_is_said(tmp_path, service):
    cache = tmp_path / "taxa.json"
    assert Taxonomy(service, cache=cache).by_id("8030").scientific_name == "Salmo salar"
    assert Taxonomy(service, cache=cache).by_id("999999999") is None
    with socket.socket() as s:  # bound, not listening: refused
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/ena/taxonomy/rest"
        # what this machine was told before still answers, the service gone
        assert Taxonomy(closed, cache=cache).by_id("8030").scientific_name == "Salmo salar"
        deposit = read_bundle(bundle(tmp_path / "b"))
        prepared = prepare(deposit, taxonomy=Taxonomy(closed, cache=tmp_path / "empty.json"))
    assert any("could not be checked against ENA's taxonomy" in w for w in prepared.warnings)


def test_the_taxon_id_is_filled_from_the_organism_name(tmp_path, service):
    from test_ena_xml import fill_sheet

    from nels_core.isa.export import describe
    from nels_core.isa.mapping import map_source
    from nels_core.isa.sheet import write_template
    from nels_core.storage.local import LocalStorage
    from nels_sandbox.norseq import DeliverySpec, make_delivery

    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", DeliverySpec())
    store = LocalStorage(root)
    inv = map_source(store, "", str(root), root.name).investigation
    template = write_template(inv, tmp_path / "sheet.tsv").read_text()
    taxonomy = Taxonomy(service, cache=tmp_path / "taxa.json")
    for organism, expected in (("salmo salar", "8030"), ("Salmo trutta fario x", None)):
        sheet = tmp_path / "filled.tsv"
        sheet.write_text(fill_sheet(template, {**FILLED, "organism": organism, "taxon id": ""}))
        inv, issues = describe(store, "", str(root), root.name, sheet, taxonomy=taxonomy)
        organisms = {(s.organism.label, s.organism.accession) for s in inv.samples()}
        if expected:
            assert organisms == {
                ("Salmo salar", f"http://purl.obolibrary.org/obo/NCBITaxon_{expected}")
            }
        else:
            assert any("is not a species in ENA's taxonomy" in i.message for i in issues)
