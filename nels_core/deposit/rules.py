"""What may go to a public archive at all, decided before anything is sent."""

from __future__ import annotations

from ..errors import NelsError
from .model import Deposit

CONTROLLED_ACCESS = (
    "Sensitive human data is deposited with controlled access: in Norway through "
    "TSD and the Federated EGA node (https://ega.elixir.no), not in ENA or BioStudies"
)
HUMAN = "9606"


class SensitiveDataError(NelsError):
    """The source project is flagged sensitive: no public archive may receive it."""


def check_public(deposit: Deposit, archive: str) -> list[str]:
    """Refuse a sensitive project; the warnings a depositor should read first."""
    project = deposit.nels_project or {}
    if project.get("sensitive"):
        raise SensitiveDataError(
            f"NeLS project {project.get('name')!r} is flagged sensitive: its data may not go "
            f"to {archive}, a public archive. {CONTROLLED_ACCESS}."
        )
    warnings = []
    if not project:
        warnings.append(
            "the bundle does not say which NeLS project it came from, so its sensitivity "
            "flag could not be checked; make sure the data may be public"
        )
    humans = [s.name for s in deposit.samples if s.taxon_id == HUMAN]
    if humans:
        warnings.append(
            f"{len(humans)} sample(s) are human ({', '.join(humans[:3])}"
            f"{' ...' if len(humans) > 3 else ''}): deposit in {archive} only with consent to "
            f"public release. {CONTROLLED_ACCESS}"
        )
    return warnings
