import pytest

from nels_core.errors import UnsafePathError
from nels_core.paths import locate, normalise, project_folder_name


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Personal/a.txt", "Personal/a.txt"),
        ("nels://Projects/X/./a//b.txt", "Projects/X/a/b.txt"),
        ("Projects/X/", "Projects/X"),
        ("", ""),
        ("nels://", ""),
    ],
)
def test_normalise_accepts_clean_paths(raw, clean):
    assert normalise(raw) == clean


@pytest.mark.parametrize(
    "bad, words",
    [
        ("../etc/passwd", "'..'"),
        ("Personal/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("nels:///etc", "absolute"),
        ("Personal/a\x00b", "NUL"),
        ("Personal\\..\\x", "backslash"),
    ],
)
def test_normalise_refuses_escapes_with_a_clear_message(bad, words):
    with pytest.raises(UnsafePathError, match=words):
        normalise(bad)


def test_locate_knows_the_nels_roots():
    assert locate("").is_area_root
    assert locate("Personal").is_area_root
    assert not locate("Personal/x").is_area_root
    loc = locate("Projects/P1/raw/a.fq")
    assert (loc.area, loc.project, loc.inner) == ("Projects", "P1", "raw/a.fq")
    assert locate("Projects/P1").is_area_root
    with pytest.raises(UnsafePathError, match="visible roots"):
        locate("Elsewhere/x")


def test_project_folder_replaces_spaces():
    assert project_folder_name("UiB Test  Project") == "UiB-Test-Project"
