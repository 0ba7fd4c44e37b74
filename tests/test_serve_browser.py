"""The web page in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium, installed by .ci/run;
never `playwright install`). Generate and see reasoning + image + plan boxes, edit the plan and redraw, an edit
turn and undo, reload keeps the session; a screenshot is written (its path is printed; set
THINKDRAW_SCREENSHOTS=DIR to keep a copy)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[dev]')")
pytest.importorskip("openai", reason="the openai client is not installed (pip install -e '.[dev]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
                allow_module_level=True)

from test_serve import start_server, stop_server  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("web-data"), "--renderer", "sketch", "--mode", "think")
    yield srv
    stop_server(srv)


def test_web_page(server, tmp_path):
    shots = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")
            page.wait_for_selector("#model option", state="attached")
            page.select_option("#mode", "think")

            # generate: the reasoning streams in, the image and the plan's boxes appear, a session starts
            page.fill("#prompt", "a sign that says OPEN next to a red car and a tree")
            page.press("#prompt", "Enter")
            page.wait_for_selector("#thread li", timeout=30000)
            steps = page.locator("#reasoning li")
            assert steps.count() >= 4
            stages = page.locator("#reasoning .stage-name").all_inner_texts()
            assert "parse" in stages and "layout" in stages
            assert page.get_attribute("#image", "src")
            assert page.locator("#overlay rect").count() >= 3
            assert "OPEN" in page.text_content("#overlay")
            # think vs direct: the sketch renderer cannot draw direct, and the page says so
            page.wait_for_function("document.getElementById('dnote').textContent.length > 0")
            assert "direct" in page.inner_text("#dnote")

            # edit the plan: drag the car's box, recolour it, change the sign's text, draw the edited plan
            page.check("#editplan")
            car = page.locator("#overlay rect[data-id='car_1']")
            box = car.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 - 60, steps=5)
            page.mouse.up()
            moved = page.locator("#overlay rect[data-id='car_1']").bounding_box()
            assert moved["x"] > box["x"] + 20 and moved["y"] < box["y"] - 40
            page.select_option("select[data-entity='car_1']", "blue")
            page.fill("input[data-text='text_1']", "SHUT")
            page.click("#redraw")
            page.wait_for_function("document.getElementById('status').textContent === ''"
                                   " && document.querySelectorAll('#rounds .round').length === 0"
                                   " && !document.getElementById('draw').disabled")
            assert "SHUT" in page.text_content("#overlay")
            page.uncheck("#editplan")
            page.screenshot(path=str(tmp_path / "web-plan-edited.png"), full_page=True)
            shots.append(tmp_path / "web-plan-edited.png")

            # an edit turn, then undo
            page.fill("#instruction", "make the car blue")
            page.press("#instruction", "Enter")
            page.wait_for_function("document.querySelectorAll('#thread li').length === 2", timeout=30000)
            assert page.locator("#thread li.head").get_attribute("data-turn") == "2"
            assert any(s in ("locate", "edit") for s in page.locator("#reasoning .stage-name").all_inner_texts())
            page.wait_for_function("document.querySelectorAll('#thread img[src]').length === 2")
            page.screenshot(path=str(tmp_path / "web.png"), full_page=True)
            shots.append(tmp_path / "web.png")
            page.click("#undo")
            page.wait_for_function("document.querySelector('#thread li.head').dataset.turn === '1'")

            # a refused edit is shown, not lost
            page.fill("#instruction", "remove the elephant")
            page.press("#instruction", "Enter")
            page.wait_for_selector("#error:not([hidden])")
            assert "elephant" in page.inner_text("#error")

            # reload: the session is on the server
            page.reload()
            page.wait_for_function("document.querySelectorAll('#thread li').length === 2")
            assert page.locator("#thread li.head").get_attribute("data-turn") == "1"
            assert errors == [], errors
        finally:
            browser.close()
    keep = os.environ.get("THINKDRAW_SCREENSHOTS")
    for s in shots:
        assert s.stat().st_size > 10_000
        print(f"screenshot: {s}")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(s, Path(keep) / s.name)
