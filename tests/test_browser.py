"""A real browser: JupyterLab + ipywidgets in headless Debian chromium, driven by Playwright.

Opens notebook 01, runs all cells, moves the lr slider with the keyboard and
checks that the regime text and the picture change; then does the same for
chapter 04's momentum explorer through its "set tuned lr and beta" button.
Skipped, with the reason, where chromium or Playwright is missing (.ci/run
installs chromium).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "01_gradient_descent.ipynb"
MOMENTUM = "04_momentum.ipynb"

if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free loopback port, serving a copy of the notebook; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    for name in (NOTEBOOK, MOMENTUM):
        shutil.copy(ROOT / "notebooks" / name, root / name)
    port, token = free_port(), "lrcourse-browser-test"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_CONFIG_DIR=str(root / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail("JupyterLab did not start")
                time.sleep(0.3)
        yield url, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def open_notebook(lab, browser, tmp_path):
    """Open a notebook in a fresh page; on failure, keep a screenshot beside the test's tmp files."""
    url, token = lab
    pages = []

    def opener(name):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        pages.append(page)
        page.goto(f"{url}/lab/tree/{name}?token={token}")
        return page

    yield opener
    for page in pages:
        page.screenshot(path=str(tmp_path / "last.png"))
        page.close()


def run_all(page):
    """Wait for the notebook and its kernel (accepting a "Select Kernel" dialog), then Run All Cells."""
    page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(timeout=5_000)
        accept.click()
    except sync_api.TimeoutError:
        pass
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible", timeout=60_000)
    # clear the saved outputs first, so that every widget found afterwards is a live one
    page.get_by_role("menuitem", name="Edit", exact=True).click()
    page.get_by_role("menuitem", name="Clear Outputs of All Cells", exact=True).click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # then wait until no cell is queued or running ("[*]") in the visible notebook
    page.wait_for_function("""() => {
        const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => p.offsetParent !== null);
        const prompts = panel ? [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent) : [];
        return prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
    }""", timeout=120_000)


def find_explorer(page, text):
    """The first live explorer widget whose text contains ``text``: (its box, status line, picture)."""
    explorer = page.locator(".jp-OutputArea-output .widget-vbox").filter(has_text=text).first
    explorer.wait_for(timeout=90_000)
    return explorer, explorer.locator(".widget-html").first, explorer.locator("img").first


def test_run_all_and_move_the_lr_slider(open_notebook, record_property):
    start = time.perf_counter()
    page = open_notebook(NOTEBOOK)
    run_all(page)

    explorer, status, picture = find_explorer(page, "lr L =")  # the first lr explorer
    page.wait_for_function("el => el.src && el.src.length > 0", arg=picture.element_handle(), timeout=30_000)
    assert "monotone" in status.inner_text()
    before_text, before_src = status.inner_text(), picture.get_attribute("src")
    ready = time.perf_counter() - start

    handle = explorer.locator(".noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")  # one small step: measure the slider-to-picture loop in the browser
    t0 = time.perf_counter()
    page.wait_for_function("([el, old]) => el.src !== old", arg=[picture.element_handle(), before_src],
                           timeout=10_000)
    one_step_ms = 1e3 * (time.perf_counter() - t0)
    for _ in range(60):  # lr L from 0.50 to about 1.1: past the one-step point into oscillation
        handle.press("ArrowRight")
    page.wait_for_function("el => el.innerText.includes('oscillating')", arg=status.element_handle(), timeout=20_000)
    assert status.inner_text() != before_text and "oscillating" in status.inner_text()
    assert picture.get_attribute("src") != before_src
    assert page.locator("text=Error displaying widget").count() == 0
    record_property("open_and_run_all_s", round(ready, 1))
    record_property("slider_to_picture_ms", round(one_step_ms))
    print(f"\nbrowser: notebook open + run all {ready:.1f} s; one slider step to new picture {one_step_ms:.0f} ms")


def test_momentum_explorer_button_sets_the_tuned_values(open_notebook):
    page = open_notebook(MOMENTUM)
    run_all(page)
    explorer, status, picture = find_explorer(page, "kappa =")
    page.wait_for_function("el => el.innerText.includes('beta = 0.7:')", arg=status.element_handle(), timeout=60_000)
    before_src = picture.get_attribute("src")
    explorer.get_by_role("button", name="set tuned lr and beta").click()
    page.wait_for_function("el => el.innerText.includes('(tuned)')", arg=status.element_handle(), timeout=20_000)
    time.sleep(1.0)  # let the browser's sliders settle (they snap to their steps and sync back)
    text = status.inner_text()
    assert "lr = 3.306" in text and "predicted rate 0.818" in text and "(tuned)" in text, text
    assert picture.get_attribute("src") != before_src
    assert page.locator("text=Error displaying widget").count() == 0
