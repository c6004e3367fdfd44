"""What an upload may cost the web app: a request past MAX_CONTENT_LENGTH
gets the site's "Too large" page, and a sheet of thousands of problems is
told in part, on the page, with a cookie that stays small (the messages
wait on the server, not in the cookie)."""

import secrets
from io import BytesIO

from test_web import csrf, sign_in
from test_web_deposit import FOLDER, site  # noqa: F401 - the deposit page's live sandboxes

MiB = 1 << 20
FLASH = '<div class="flash lines error" role="status">'


def send_sheet(client, data: bytes, name: str = "metadata.tsv", **kw):
    return client.post(
        "/deposits/sheet",
        data={
            "csrf_token": csrf(client, f"/deposit/{FOLDER}"),
            "path": FOLDER,
            "sheet": (BytesIO(data), name),
        },
        content_type="multipart/form-data",
        **kw,
    )


def flashed(page: str) -> str:
    return page.split(FLASH, 1)[1].split("</div>", 1)[0]


def test_a_sheet_of_5000_problems_is_told_in_part_with_a_small_cookie(site):  # noqa: F811
    sandboxes, app, _ = site
    client, _ = sign_in(app, sandboxes)
    # 5000 unknown sections, each named in its problem by 1000 characters no zip packs
    bad = "".join(f"[{secrets.token_hex(500)}]\n" for _ in range(5000)).encode()
    sent = send_sheet(client, bad, "<b>lice.tsv")
    assert sent.status_code == 302 and sent.headers["Location"] == f"/deposit/{FOLDER}"
    set_cookie = sum(len(c) for c in sent.headers.getlist("Set-Cookie"))
    print(f"Set-Cookie after 5000 problems: {set_cookie} bytes")
    assert 0 < set_cookie < 4096

    page = client.get(sent.headers["Location"])  # the next request is not refused
    assert page.status_code == 200
    said = flashed(page.get_data(as_text=True))
    assert said.startswith("The sheet was not saved: 5000 problems in the metadata sheet:\n")
    listed = [line for line in said.splitlines() if line.startswith("- ")]
    assert len(listed) == 21 and listed[-1] == "- and 4980 more"
    assert listed[0].startswith("- &lt;b&gt;lice.tsv, line 1: unknown section")  # never markup

    again = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    assert FLASH not in again  # shown once
    ok = send_sheet(client, b"", follow_redirects=True).get_data(as_text=True)
    assert "metadata.tsv: the sheet is empty" in flashed(ok)  # the next message, its own


def test_an_upload_past_the_limit_gets_the_too_large_page(site):  # noqa: F811
    sandboxes, app, _ = site
    assert app.config["MAX_CONTENT_LENGTH"] == 25 * MiB
    app.config["MAX_CONTENT_LENGTH"] = 1 * MiB  # read each request: no 25 MiB in a test
    client, _ = sign_in(app, sandboxes)
    came_from = {"Referer": f"http://localhost/deposit/{FOLDER}"}
    r = send_sheet(client, b"#" * MiB, headers=came_from)
    assert r.status_code == 413
    page = r.get_data(as_text=True)
    assert "<h1>Too large</h1>" in page
    assert "larger than this site takes (1 MiB); a metadata sheet is far smaller" in page
    assert f'id="back" href="/deposit/{FOLDER}"' in page  # a way back to the form
    assert client.get(f"/deposit/{FOLDER}").status_code == 200  # still signed in
