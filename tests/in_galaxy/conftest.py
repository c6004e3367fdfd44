"""Tests that need Galaxy itself: they run in Galaxy's environment
(``./dev test`` builds it as .venv-galaxy and runs them there)."""

import pytest

pytest.importorskip("galaxy.files", reason="needs Galaxy's environment (.venv-galaxy)")

pytestmark = pytest.mark.galaxy
