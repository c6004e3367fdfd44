"""On CI (``CI`` set) a skip is a failure that says why (issue 17); elsewhere
it stays a skip. Our own tests/conftest.py runs a tiny suite to prove it."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()

SKIPPING = """
import pytest

@pytest.fixture
def needs_a_tool():
    pytest.skip("frobnicator is not installed")

def test_runs():
    assert True

def test_skips_in_the_call():
    pytest.skip("no widget here")

@pytest.mark.skipif(True, reason="the specs are not beside the checkout")
def test_skipped_by_a_mark():
    pass

def test_skipped_in_a_fixture(needs_a_tool):
    pass

def test_imports_what_is_missing():
    pytest.importorskip("no_such_module_nels_ci")

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_to_fail():
    assert False
"""


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SKIPPING)
    return pytester


def test_without_ci_skips_stay_skips(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    result.stdout.fnmatch_lines(["*no widget here*"])
    result.stdout.no_fnmatch_line("*because CI is set*")


def test_on_ci_every_skip_fails_naming_its_reason(suite, monkeypatch):
    monkeypatch.setenv("CI", "1")
    result = suite.runpytest("-rfE")
    # a skip in the test body fails it; one in setup (mark or fixture) is an error
    result.assert_outcomes(passed=1, failed=2, errors=2, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    for reason in (
        "no widget here",
        "the specs are not beside the checkout",
        "frobnicator is not installed",
        "could not import 'no_such_module_nels_ci'",
    ):
        assert reason in out
    assert out.count("This skip is a failure because CI is set") >= 4
    reports = {r.nodeid.split("::")[-1]: r for r in result.reprec.getreports() if r.failed}
    assert set(reports) == {
        "test_skips_in_the_call",
        "test_skipped_by_a_mark",
        "test_skipped_in_a_fixture",
        "test_imports_what_is_missing",
    }
    call = reports["test_skips_in_the_call"]
    assert call.when == "call" and "no widget here" in call.longreprtext
    assert "because CI is set" in call.longreprtext
    assert reports["test_skipped_by_a_mark"].when == "setup"


def test_on_ci_a_module_skipped_whole_fails_its_collection(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_optional="""
        import pytest
        pytest.importorskip("no_such_module_nels_ci", reason="the optional extra is missing")

        def test_never_collected():
            pass
        """
    )
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest().assert_outcomes(skipped=1)
    monkeypatch.setenv("CI", "1")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*the optional extra is missing*", "*This skip is a failure because CI is set*"]
    )
