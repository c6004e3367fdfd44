"""NeLS access rules, checked before any storage operation.

- Members read and create but never delete or overwrite; power users may
  delete; the PI has full control; membership 4 and locked projects are
  read-only. ``Personal`` belongs to its owner.
- Files are never written straight into the home, ``Personal``, ``Projects``
  or a ``Projects/<Name>`` root, matching the official client.
- A project the user is not a member of is invisible, sensitive or not.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import AccessDeniedError, NotFoundError
from .model import Account, Role
from .paths import PERSONAL, PROJECTS, Location, locate


class Op(StrEnum):
    READ = "read"
    CREATE = "create"  # a new file
    MKDIR = "mkdir"
    OVERWRITE = "overwrite"  # replace an existing file
    DELETE = "delete"


def role_for(account: Account, loc: Location) -> Role | None:
    """The acting role at a location; ``None`` when the place is not theirs."""
    if loc.area == PERSONAL:
        return Role.PI
    if loc.area == PROJECTS and loc.project:
        m = account.membership(loc.project)
        if m is None:
            return None
        if m.project.locked:
            return Role.READ_ONLY
        return m.role
    return None


def _allowed(role: Role, op: Op) -> bool:
    if op is Op.READ:
        return True
    if role is Role.READ_ONLY:
        return False
    if op in (Op.CREATE, Op.MKDIR):
        return True
    # overwriting destroys what was there, so it needs the right to delete
    return role in (Role.PI, Role.POWER_USER)


def check(account: Account, path: str, op: Op) -> Location:
    """Refuse ``op`` on normalised ``path`` unless the rules allow it."""
    loc = locate(path)
    if loc.area == PROJECTS and loc.project:
        if account.membership(loc.project) is None:
            # invisible, not forbidden: never confirm a project exists
            # (memberships without file-system access are not in the account)
            raise NotFoundError(
                f"no such NeLS project folder among yours: {PROJECTS}/{loc.project} (check the "
                "address, or ask the project's PI to add you)"
            )
    if op is Op.READ:
        return loc
    if loc.is_area_root:
        raise AccessDeniedError(
            f"cannot {op.value} {_where(loc)}: NeLS refuses changes to the home, "
            f"'{PERSONAL}', '{PROJECTS}' and project roots"
        )
    parent = locate(path.rsplit("/", 1)[0]) if "/" in path else locate("")
    if op is Op.CREATE and parent.is_area_root:
        raise AccessDeniedError(
            f"cannot write {path!r}: NeLS refuses files written straight into "
            f"{_where(parent)}; choose a folder inside it"
        )
    role = role_for(account, loc)
    if role is None or not _allowed(role, op):
        raise AccessDeniedError(f"cannot {op.value} {path!r}: {_why_not(account, loc, role, op)}")
    return loc


def _why_not(account: Account, loc: Location, role: Role | None, op: Op) -> str:
    """Why the rules refuse, and who could do it instead."""
    if role is None:
        return f"a non-member may not {op.value} here"
    membership = account.membership(loc.project) if loc.project else None
    if membership is not None and membership.project.locked:
        return "the project is locked in NeLS: nothing in it may change"
    if role is Role.READ_ONLY:
        return f"a read-only member may not {op.value} here"
    instead = "; choose another name" if op is Op.OVERWRITE else ""
    return f"a member may not {op.value} here (the project's PI or a power user may){instead}"


def _where(loc: Location) -> str:
    return repr(loc.path) if loc.path else "the home folder"
