"""What a browser does with the web app's defences (Debian's chromium):
after signing in from a hostile ``next`` it stays on the site, and an
upload too large, or a workbook that unpacks to far more than a sheet,
ends on a page saying so, with a way back and nothing saved."""

import zipfile

import pytest
from test_web_browser import sign_in

from nels_cli.demo import SEQ_PROJECT
from nels_cli.serve import demo_web_config, serve_demo, start_sandboxes

FOLDER = f"Projects/{SEQ_PROJECT}"
LIMIT = 256 * 1024  # a small upload limit for this site, so the test sends little


@pytest.fixture
def site(tmp_path):
    from seek_plugin.web import create_app

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
    page.go_back()  # the browser's own way back leads to the form again
    page.wait_for_selector("#sheet-form")

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
