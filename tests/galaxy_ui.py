"""Galaxy 26.1's own web client, driven as a researcher uses it.

Selectors are those of the client the ``galaxy`` package ships
(``galaxy/web_client/dist``): ids and roles where it has them, visible text
where that is what a person reads. Every step keeps a screenshot, written to
``test-artifacts/<test>/`` when the test fails.
"""

from __future__ import annotations

import re
import time

PASSWORD = "a-long-password-1"


class GalaxyUI:
    def __init__(self, page, url: str, steps: list):
        self.page, self.url, self.steps = page, url.rstrip("/"), steps

    def snap(self, name: str) -> None:
        self.steps.append((name, self.page.screenshot(full_page=True)))

    # --- account -------------------------------------------------------------
    def register(self, name: str) -> None:
        pg = self.page
        pg.goto(f"{self.url}/login/start")
        pg.get_by_text("Register here").click()
        pg.fill("#register-form-email", f"{name}@example.org")
        pg.fill("#register-form-password", PASSWORD)
        pg.fill("#register-form-confirm", PASSWORD)
        pg.fill("#register-form-username", name)
        self.snap("register")
        pg.click("button[name=create]")
        pg.locator(".masthead, #masthead").get_by_text(name).wait_for()
        self.snap("registered")

    def sign_out(self) -> None:
        self.page.context.clear_cookies()

    def open_manage_information(self) -> list[str]:
        """User > Preferences > Manage information; its sections' titles."""
        pg = self.page
        pg.goto(f"{self.url}/user")
        pg.get_by_text("Manage Information").click()
        titles = pg.locator(".ui-portlet-section .portlet-title-text")
        titles.first.wait_for()
        return titles.all_inner_texts()

    def save_nels_token(self, token: str) -> str:
        """User > Preferences > Manage information > Your NeLS account; the
        message Galaxy shows after saving."""
        pg = self.page
        self.open_manage_information()
        box = pg.locator('[id="nels|access_token"]')
        box.fill(token)
        self.snap("nels token pasted")
        pg.click("#submit")
        message = pg.locator("#center .alert-success, #center .alert-danger").first
        message.wait_for()
        self.snap("preferences saved")
        return message.inner_text()

    # --- upload ----------------------------------------------------------------
    def open_upload(self) -> None:
        pg = self.page
        pg.goto(self.url)
        pg.click("#activity-upload")
        pg.locator("#btn-new:visible").wait_for()
        self.snap("upload dialog")

    def open_nels_from_upload(self) -> None:
        """Upload > Choose from repository > NeLS."""
        self.open_upload()
        self.page.get_by_role("button", name="Choose from repository").first.click()
        self.open_row("NeLS")

    def dialog(self):
        return self.page.locator(".modal-content:visible, dialog[open]").last

    def rows(self) -> list[str]:
        """The names the file dialog lists now."""
        dialog = self.dialog()
        dialog.locator("table").first.wait_for()
        self.wait_idle()
        labels = dialog.locator('tbody [title^="label-"]').all_inner_texts()
        return [re.sub(r"\s+", " ", t).strip() for t in labels]

    def wait_idle(self) -> None:
        self.page.wait_for_timeout(300)
        self.dialog().locator(".fa-spinner, [aria-busy=true]").first.wait_for(
            state="hidden", timeout=20_000
        )

    def open_row(self, name: str) -> None:
        dialog = self.dialog()
        dialog.get_by_text(name, exact=True).first.click()
        self.wait_idle()
        self.snap(f"opened {name}")

    def click_row(self, name: str) -> None:
        self.dialog().get_by_text(name, exact=True).first.click()

    def page_to(self, number: int) -> None:
        self.dialog().locator(".pagination").get_by_text(str(number), exact=True).click()
        self.wait_idle()
        self.snap(f"page {number}")

    def search(self, text: str) -> None:
        box = self.dialog().get_by_placeholder("search")
        box.fill(text)
        self.page.wait_for_timeout(800)  # the dialog waits for typing to stop
        self.wait_idle()
        self.snap(f"searched {text or 'nothing'}")

    def dialog_error(self) -> str:
        alert = self.dialog().locator(".alert-danger, .alert")
        alert.first.wait_for()
        self.snap("dialog error")
        return alert.first.inner_text()

    def select(self) -> None:
        self.page.get_by_role("button", name="Select", exact=True).click()

    def start_upload(self) -> None:
        self.snap("upload listed")
        self.page.locator("#btn-start:visible").click()

    def paste(self, text: str) -> None:
        """Upload > Paste/Fetch data, then Start."""
        self.open_upload()
        pg = self.page
        pg.locator("#btn-new:visible").click()
        pg.locator(".upload-text-content:visible, textarea:visible").last.fill(text)
        self.start_upload()

    def choose_remote_files_beta(self, path: list[str], names: list[str]) -> None:
        """Galaxy's newer uploader: Choose Remote Files, tick ``names``, Start."""
        pg = self.page
        self.open_upload()
        pg.click("#btn-beta-upload")
        pg.get_by_text("Choose Remote Files").click()
        center = pg.locator("#center")
        for step in path:
            center.locator(f'[data-test-id="remote-files-browser-label"][data-label="{step}"]').or_(
                center.get_by_text(step, exact=True)
            ).first.click()
            pg.wait_for_timeout(300)
        self.snap("beta uploader folder")
        for name in names:
            center.locator(
                f'[data-test-id="remote-files-browser-item-checkbox"][data-label="{name}"]'
            ).check(force=True)  # the box itself is drawn over by its label
        center.get_by_role("button", name=re.compile("Add Selected Files")).click()
        self.snap("beta uploader files added")
        center.get_by_role("button", name="Start").click()

    # --- history ----------------------------------------------------------------
    def wait_history_items(self, count: int, timeout: float = 120_000) -> list[str]:
        """The states of the current history's items, once ``count`` are settled."""
        pg = self.page
        items = pg.locator("#current-history-panel .content-item[data-state]")
        pg.wait_for_function(
            """n => {
                const items = document.querySelectorAll(
                    '#current-history-panel .content-item[data-state]');
                const settled = [...items].filter(i =>
                    ['ok', 'error', 'failed_metadata'].includes(i.dataset.state));
                return settled.length >= n;
            }""",
            arg=count,
            timeout=timeout,
        )
        self.snap("history settled")
        return [items.nth(i).get_attribute("data-state") for i in range(items.count())]

    def export_history(self, pick: list[str], file_name: str) -> list[str]:
        """History options > Export, as a TGZ, to a picked NeLS folder; returns
        the names the folder picker offered at NeLS's top."""
        pg = self.page
        for attempt in range(3):
            pg.goto(self.url)
            pg.get_by_role("button", name="History options").click()
            pg.get_by_text("Export History to File").click()
            # a click before the wizard is wired up is lost (RO-Crate stays chosen):
            # let the page settle, and check the summary says TGZ before exporting
            pg.wait_for_load_state("networkidle")
            pg.locator("[data-export-format='tar.gz']").click()
            pg.click(".go-next-btn")
            pg.locator("[data-history-export-destination='remote-source']").click()
            pg.click(".go-next-btn")
            pg.get_by_placeholder("Click to select directory").click()
            self.open_row("NeLS")
            offered = self.rows()
            for name in pick:
                self.open_row(name)
            self.select()
            self.snap("export folder picked")
            pg.click(".go-next-btn")
            pg.fill("#exported-file-name", file_name)
            self.snap("export summary")
            if pg.get_by_text(f"{file_name}.tar.gz").count():
                break
            if attempt == 2:
                raise AssertionError("the export wizard kept RO-Crate, not the TGZ chosen")
        pg.get_by_role("button", name="Export to Remote Source").click()
        return offered

    def dataset_error(self) -> str:
        """What the history says of its first failed dataset, once opened."""
        pg = self.page
        pg.goto(self.url)
        item = pg.locator("#current-history-panel .content-item[data-state=error]").first
        item.locator(".content-title").click()
        item.get_by_text("An error occurred with this dataset").last.wait_for()
        self.snap("failed dataset opened")
        return item.inner_text()

    def wait_recent_export(self, count: int, timeout: float = 120) -> str:
        """The Recent Exports page once ``count`` exports have ended there."""
        pg = self.page
        deadline = time.monotonic() + timeout
        while True:
            pg.goto(self.url)
            pg.click("#activity-recent-downloads")
            pg.get_by_text("Recent Exports & Downloads").wait_for()
            pg.wait_for_timeout(1000)
            text = pg.locator("#center").inner_text()
            ended = len(re.findall(r"^(Complete|Failed)$", text, flags=re.M))
            if ended >= count or time.monotonic() > deadline:
                self.snap("recent exports")
                return text
            pg.wait_for_timeout(2000)
