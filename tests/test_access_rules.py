"""The role matrix on real storage: every operation, every role, both backends."""

import pytest

from nels_core.errors import AccessDeniedError, NotFoundError, UnsafePathError

P = "Projects/UiB-Test-Project"
READS = f"{P}/raw/reads.fastq"
ORIGINAL = b"@r1\nACGT\n+\nIIII\n"

OK, DENIED, HIDDEN = "ok", AccessDeniedError, NotFoundError
# user: read, create, mkdir, overwrite, delete (in the project)
MATRIX = {
    "alice": (OK, OK, OK, OK, OK),  # PI
    "carol": (OK, OK, OK, OK, OK),  # power user
    "bob": (OK, OK, OK, DENIED, DENIED),  # member: creates, never deletes
    "dave": (OK, DENIED, DENIED, DENIED, DENIED),  # membership 4: read-only
    "erin": (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN),  # not a member
}
OPS = {
    "read": lambda h: h.read_bytes(READS),
    "create": lambda h: h.write(f"{P}/raw/new.txt", b"new\n"),
    "mkdir": lambda h: h.mkdir(f"{P}/raw/sub"),
    "overwrite": lambda h: h.write(READS, b"changed\n", overwrite=True),
    "delete": lambda h: h.remove(READS),
}


def _expect(outcome, fn):
    if outcome == OK:
        fn()
    else:
        with pytest.raises(outcome):
            fn()


@pytest.mark.parametrize("user", MATRIX)
@pytest.mark.parametrize("op", OPS)
def test_role_matrix(home_for, user, op):
    home = home_for(user)
    outcome = MATRIX[user][list(OPS).index(op)]
    _expect(outcome, lambda: OPS[op](home))
    reads = home_for.cast.world.project_dir(home_for.cast.project) / "raw" / "reads.fastq"
    if op in ("overwrite", "delete") and outcome != OK:
        assert reads.read_bytes() == ORIGINAL  # a refusal leaves the file whole
    if op == "delete" and outcome == OK:
        assert not reads.exists()
    if op == "overwrite" and outcome == OK:
        assert reads.read_bytes() == b"changed\n"


def test_locked_project_is_read_only(home_for):
    bob = home_for("bob")
    assert bob.read_bytes("Projects/Locked_2020/old/a.txt") == b"locked\n"
    for fn in (
        lambda: bob.write("Projects/Locked_2020/old/b.txt", b"x"),
        lambda: bob.mkdir("Projects/Locked_2020/old/new"),
        lambda: bob.remove("Projects/Locked_2020/old/a.txt"),
    ):
        with pytest.raises(AccessDeniedError, match="the project is locked in NeLS"):
            fn()


@pytest.mark.parametrize(
    "path, error",
    [
        ("Personal/x.txt", AccessDeniedError),
        (f"{P}/x.txt", AccessDeniedError),
        ("x.txt", UnsafePathError),
        ("Projects/x.txt", NotFoundError),  # a file there would be a project
    ],
)
def test_files_are_never_written_into_roots(home_for, path, error):
    with pytest.raises(error):
        home_for("alice").write(path, b"x")


def test_roots_cannot_be_deleted_or_recreated(home_for):
    alice = home_for("alice")
    for path in ("Personal", P, "Projects", ""):
        with pytest.raises(AccessDeniedError):
            alice.remove(path, recursive=True)
    with pytest.raises(NotFoundError):  # a project is not made with mkdir
        alice.mkdir("Projects/NewProject")


def test_personal_belongs_to_its_owner(home_for):
    bob = home_for("bob")
    bob.mkdir("Personal/work")
    bob.write("Personal/work/a.txt", b"1")
    bob.write("Personal/work/a.txt", b"2", overwrite=True)
    assert bob.read_bytes("Personal/work/a.txt") == b"2"
    bob.remove("Personal/work", recursive=True)
    assert not bob.exists("Personal/work")


def test_projects_listing_shows_only_memberships(home_for):
    names = lambda who: [e.name for e in home_for(who).list("Projects").entries]  # noqa: E731
    assert names("alice") == ["Sensitive_Cohort", "UiB-Test-Project"]
    assert names("bob") == ["Locked_2020", "UiB-Test-Project"]
    assert names("erin") == []
    # the sensitive project is invisible, not forbidden, to others
    with pytest.raises(NotFoundError):
        home_for("carol").list("Projects/Sensitive_Cohort")


def test_existing_file_needs_explicit_overwrite(home_for):
    from nels_core.errors import AlreadyExistsError

    with pytest.raises(AlreadyExistsError, match="already exists"):
        home_for("alice").write(READS, b"x")


def test_a_file_appearing_during_a_members_write_is_not_clobbered(home_for, monkeypatch):
    from nels_core.errors import AlreadyExistsError

    bob = home_for("bob")
    # the file is created by someone else after bob's check and before his rename
    monkeypatch.setattr(bob.storage, "exists", lambda path: False)
    with pytest.raises(AlreadyExistsError):
        bob.write(READS, b"bob's version", overwrite=True)
    reads = home_for.cast.world.project_dir(home_for.cast.project) / "raw" / "reads.fastq"
    assert reads.read_bytes() == ORIGINAL


def test_membership_without_file_system_access_hides_the_project():
    from nels_core.access import Op, check
    from nels_core.model import Account, Membership, Project, Role, User

    project = Project(1, "No Files")
    account = Account.of(User(1, "u"), [Membership(project, Role.PI, has_filesystem_access=False)])
    with pytest.raises(NotFoundError):
        check(account, "Projects/No-Files/a.txt", Op.READ)


@pytest.mark.parametrize(
    "user, op, says",
    [
        (
            "bob",
            "overwrite",
            "a member may not overwrite here (the project's PI or a power "
            "user may); choose another name",
        ),
        ("bob", "delete", "a member may not delete here (the project's PI or a power user may)"),
        ("dave", "create", "a read-only member may not create here"),
    ],
)
def test_a_refusal_says_who_may(home_for, user, op, says):
    with pytest.raises(AccessDeniedError) as e:
        OPS[op](home_for(user))
    assert str(e.value).endswith(says)
