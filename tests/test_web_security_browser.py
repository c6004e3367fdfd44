"""What a browser does with the web app's defences (Debian's chromium):
after signing in from a hostile ``next`` it stays on the site, and an
upload too large, or a workbook that unpacks to far more than a sheet,
ends on a page saying so, with a way back and nothing saved."""

import socket
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_web_browser import sign_in

from nels_cli.demo import SEQ_PROJECT
from nels_sandbox.web_site import demo_web_config, serve_demo, start_sandboxes

FOLDER = f"Projects/{SEQ_PROJECT}"
LIMIT = 256 * 1024  # a small upload limit for this site, so the test sends little


@pytest.fixture
def site(tmp_path):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    config = {**demo_web_config(sandboxes), "MAX_CONTENT_LENGTH": LIMIT}
    web = serve_demo(create_app(None, config), sandboxes)
    yield sandboxes, web
    web.stop()
    sandboxes.stop()


@pytest.mark.parametrize("hostile", ["/%09/evil.example/", "//evil.example/", "/\\evil.example"])
def test_signing_in_from_a_hostile_next_stays_on_the_site(site, page, hostile):
    sandboxes, web = site
    page.goto(f"{web.url}/login?next={hostile}")
    page.fill("input[name=username]", sandboxes.username)
    page.fill("input[name=password]", sandboxes.password)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your NeLS projects")
    assert page.url.startswith(web.url + "/") and "evil" not in page.url


def test_a_refused_upload_says_why_and_saves_nothing(site, page, tmp_path):
    sandboxes, web = site
    metadata = sandboxes.nels_world.root / "projects" / SEQ_PROJECT / "nels-metadata"
    sign_in(page, web, sandboxes)

    big = tmp_path / "big.tsv"  # over the site's upload limit
    big.write_bytes(b"# " + b"x" * (LIMIT + 1024) + b"\n")
    page.goto(f"{web.url}/deposit/{FOLDER}")
    page.set_input_files("#sheet-form input[type=file]", str(big))
    page.click("#sheet-form button")
    page.wait_for_selector("h1")
    assert "Too large" in page.inner_text("h1")
    assert "larger than this site takes (0.25 MiB)" in page.inner_text("#error")
    page.click("#back")  # the page's own way back leads to the form again
    page.wait_for_selector("#sheet-form")
    assert page.url == f"{web.url}/deposit/{FOLDER}"

    bomb = tmp_path / "bomb.xlsx"  # small to send, far too big unpacked
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            for _ in range(64):
                f.write(row * 20_000)  # 64 x 1 MiB of rows
    assert bomb.stat().st_size < LIMIT
    page.set_input_files("#sheet-form input[type=file]", str(bomb))
    page.click("#sheet-form button")
    page.wait_for_selector(".flash.error")
    said = page.inner_text(".flash.error")
    assert said.startswith("The sheet was not saved") and "bomb.xlsx" in said
    assert not metadata.exists()  # nothing written in NeLS


def test_an_upload_cut_off_midway_leaves_nothing_behind(site, page):
    """A browser closed halfway through sending a sheet: no version in NeLS,
    no temporary file of ours left, and the site goes on answering."""
    sandboxes, web = site
    metadata = sandboxes.nels_world.root / "projects" / SEQ_PROJECT / "nels-metadata"
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/deposit/{FOLDER}")
    token = page.get_attribute("#sheet-form input[name=csrf_token]", "value")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    ours = set(Path(tempfile.gettempdir()).glob("nels-upload-*"))

    boundary = "cut-off-here"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{FOLDER}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="sheet"; '
        'filename="lice.tsv"\r\nContent-Type: text/tab-separated-values\r\n\r\n'
    ).encode()
    promised = len(head) + LIMIT // 2  # the body the request says is coming
    host, port = urlsplit(web.url).hostname, urlsplit(web.url).port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(
            (
                f"POST /deposits/sheet HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Cookie: {cookie}\r\nOrigin: {web.url}\r\nReferer: {web.url}/deposit/{FOLDER}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {promised}\r\n\r\n"
            ).encode()
            + head
            + b"[Investigation]\n"
            + b"x" * (LIMIT // 8)
        )
    # the connection is gone with three quarters of the sheet unsent

    page.goto(f"{web.url}/deposit/{FOLDER}")  # the site still answers, still signed in
    page.wait_for_selector("#sheet-form")
    assert not metadata.exists()
    assert set(Path(tempfile.gettempdir()).glob("nels-upload-*")) <= ours
