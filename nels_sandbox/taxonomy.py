"""ENA's taxonomy service, answered from a small table of real taxa.

The calls and answers as ENA's (``/ena/taxonomy/rest/tax-id/<id>``,
``/scientific-name/<name>``): a JSON object, or a list for names, with
``taxId``, ``scientificName``, ``rank``, ``submittable`` ("true"/"false"); an
unknown id or name gets 404. The ids, names and submittable flags are ENA's
for these taxa: species are submittable, ranks above them and some broad
terms are not.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

# (taxId, scientificName, rank, submittable), as ENA's taxonomy publishes them
TAXA = (
    ("8030", "Salmo salar", "species", True),
    ("8049", "Gadus morhua", "species", True),
    ("72036", "Lepeophtheirus salmonis", "species", True),
    ("9606", "Homo sapiens", "species", True),
    ("10090", "Mus musculus", "species", True),
    ("7955", "Danio rerio", "species", True),
    ("3702", "Arabidopsis thaliana", "species", True),
    ("4932", "Saccharomyces cerevisiae", "species", True),
    ("562", "Escherichia coli", "species", True),
    ("408170", "human gut metagenome", "species", True),
    ("408172", "marine metagenome", "species", True),
    ("8028", "Salmo", "genus", False),
    ("8015", "Salmonidae", "family", False),
    ("2", "Bacteria", "superkingdom", False),
)

bp = Blueprint("taxonomy", __name__, url_prefix="/ena/taxonomy/rest")


def _json(taxon) -> dict:
    tax_id, name, rank, submittable = taxon
    return {
        "taxId": tax_id,
        "scientificName": name,
        "rank": rank,
        "submittable": "true" if submittable else "false",
    }


@bp.get("/tax-id/<tax_id>")
def by_id(tax_id: str):
    for taxon in TAXA:
        if taxon[0] == tax_id:
            return jsonify(_json(taxon))
    return Response("No results.", 404, mimetype="text/plain")


@bp.get("/scientific-name/<path:name>")
def by_name(name: str):
    found = [_json(t) for t in TAXA if t[1].casefold() == name.casefold()]
    return jsonify(found) if found else Response("No results.", 404, mimetype="text/plain")
