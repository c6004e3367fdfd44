"""Our copies of ENA's controlled values against ENA's published schemas."""

import pytest
from conftest import SPECS

from nels_core import vocab

ENA = SPECS / "ena"  # NELS_SPECS, as for every other test of the published specs
XS = {"xs": "http://www.w3.org/2001/XMLSchema"}
pytestmark = pytest.mark.skipif(
    not ENA.is_dir(), reason=f"ENA schemas not found at {ENA} (set NELS_SPECS)"
)


def enumeration(tree, name):
    return tuple(
        tree.xpath(
            f"//xs:simpleType[@name='{name}']/xs:restriction/xs:enumeration/@value", namespaces=XS
        )
    )


def test_library_values_match_the_experiment_schema():
    from lxml import etree

    tree = etree.parse(str(ENA / "SRA.experiment.xsd"))
    assert vocab.LIBRARY_STRATEGIES == enumeration(tree, "typeLibraryStrategy")
    assert vocab.LIBRARY_SOURCES == enumeration(tree, "typeLibrarySource")
    assert vocab.LIBRARY_SELECTIONS == enumeration(tree, "typeLibrarySelection")


def test_instrument_models_match_the_common_schema():
    from lxml import etree

    tree = etree.parse(str(ENA / "SRA.common.xsd"))
    platforms = tree.xpath(
        "//xs:complexType[@name='PlatformType']/xs:choice/xs:element", namespaces=XS
    )
    published = {}
    for p in platforms:
        (model_type,) = p.xpath(".//xs:element[@name='INSTRUMENT_MODEL']/@type", namespaces=XS)
        published[p.get("name")] = enumeration(tree, model_type.split(":")[-1])
    assert vocab.INSTRUMENT_MODELS == published
    assert vocab.instrument_platform("Illumina NovaSeq 6000") == "ILLUMINA"
    assert vocab.instrument_platform("unspecified") is None


@pytest.mark.parametrize(
    "date", ["2023", "2023-06", "2023-06-01", "2023-06-01T10:15Z", "2020/2021"]
)
def test_iso_dates_accepted(date):
    assert vocab.ISO_DATE.match(date)


@pytest.mark.parametrize("date", ["12/05/2023", "2023-13-01", "2023-6-1", "yesterday", ""])
def test_other_dates_refused(date):
    assert not vocab.ISO_DATE.match(date)


def test_geographic_locations_are_insdc_names():
    from nels_core.insdc_geo import (
        COUNTRIES_AND_SEAS,
        GeoLocation,
        GeoLocationError,
        parse_geo_location,
    )

    assert parse_geo_location(" norway :  Vestland,  Bergen") == GeoLocation(
        "Norway", "Vestland, Bergen"
    )
    assert str(parse_geo_location("Svalbard: Ny-Ålesund")) == "Svalbard: Ny-Ålesund"
    assert parse_geo_location("NOT COLLECTED") == GeoLocation("not collected")
    assert parse_geo_location("North Sea").country == "North Sea"
    for wrong, hint in (("Czech Republic", "Czechia"), ("UK: Hinxton", "United Kingdom")):
        with pytest.raises(GeoLocationError, match=f"written '{hint}'"):
            parse_geo_location(wrong)
    with pytest.raises(GeoLocationError, match="'Bergen, Norway' is not a country or sea"):
        parse_geo_location("Bergen, Norway")
    # every suggestion points into the list itself
    from nels_core.insdc_geo import OTHER_NAMES

    assert set(OTHER_NAMES.values()) <= set(COUNTRIES_AND_SEAS)
