"""When ENA makes a deposit public: the researcher's date, or ENA's default.

ENA keeps a submission private until its ``HOLD HoldUntilDate``; without
one, ENA sets its own date (two months after submission, its documentation
says), which is not what a researcher who wrote a public release date in
the metadata sheet meant. The date comes from ``--hold``, else the
investigation's public release date, else the earliest of its studies'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .model import Deposit

MAX_HOLD = dt.timedelta(days=2 * 365)  # ENA keeps data private for two years at most
GIVEN = "the hold date given"  # a Release's source when the date is not the sheet's
ENA_DEFAULT_HOLD = dt.timedelta(days=61)  # "two months after the submission date"


@dataclass(frozen=True)
class Release:
    date: dt.date | None  # the HOLD date; None: ENA's own default applies
    source: str  # where the date comes from, in the researcher's words
    today: dt.date

    @property
    def problem(self) -> str | None:
        """Why ENA would refuse this date, or None."""
        if self.date is None:
            return None
        if self.date < self.today:
            fix = " (give --hold, or correct the date in the metadata sheet)"
            if self.source == GIVEN:  # the date given is the one to correct
                fix = ""
            return (
                f"{self.source} {self.date.isoformat()} has passed: "
                f"ENA takes a hold date in the future{fix}"
            )
        if self.date > self.today + MAX_HOLD:
            return (
                f"{self.source} {self.date.isoformat()}: ENA holds data for at most two years "
                f"(until {(self.today + MAX_HOLD).isoformat()})"
            )
        return None

    def sentence(self, form: bool = False) -> str:
        """What happens, in plain words, said before anything is sent; ``form``:
        to someone giving the hold date in the web form, not with --hold."""
        given, give = ("no hold date in the form", "in the form") if form else (
            "no --hold", "with --hold"
        )  # fmt: skip
        if self.date is not None:
            return (
                f"ENA keeps this data private until {self.date.isoformat()} ({self.source}), "
                "then makes it public (earlier if its accessions are cited)"
            )
        about = (self.today + ENA_DEFAULT_HOLD).isoformat()
        return (
            f"no public release date in the metadata sheet and {given}: ENA makes this data "
            f"public two months after submission (about {about}), earlier if its accessions "
            f"are cited; give a date in the sheet's [Investigation] section or {give} to keep "
            "it private longer (at most two years)"
        )


def ena_release(deposit: Deposit, hold: dt.date | None, today: dt.date | None = None) -> Release:
    return release_of(deposit.release_date, deposit.study_release_dates, hold, today)


def release_of(
    investigation: str,
    studies: dict[str, str],
    hold: dt.date | None = None,
    today: dt.date | None = None,
) -> Release:
    """From the dates as written: the investigation's, and each study's by identifier."""
    today = today or dt.date.today()
    if hold is not None:
        return Release(hold, GIVEN, today)
    date = _date(investigation)
    if date is not None:
        return Release(date, "the investigation's public release date", today)
    dated = sorted((d, study) for study, text in studies.items() if (d := _date(text)))
    if dated:
        date, study = dated[0]
        return Release(date, f"study {study}'s public release date", today)
    return Release(None, "", today)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10]) if text and text.strip() else None
    except ValueError:
        return None
