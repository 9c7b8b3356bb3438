"""A real browser: JupyterLab + ipywidgets in headless Debian chromium, driven by Playwright.

Opens notebook 01, runs all cells, moves the lr slider with the keyboard and
checks that the regime text and the picture change; then does the same for
chapter 04's momentum explorer through its "set tuned lr and beta" button, and
for chapter 09's race explorer through its lr-mode buttons and shared slider; and opens notebook 12, whose
training dashboard must train when its train button is pressed (curves grow epoch by epoch) and stop when its
stop button is pressed while the run is going on.
Skipped, with the reason, where chromium or Playwright is missing (.ci/run
installs chromium).
"""

import shutil
import time
from pathlib import Path

import pytest

from lab import available, chromium, find_explorer, jupyter_lab, picture_changes_after, run_all

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_gradient_descent.ipynb"
MOMENTUM = "04_momentum.ipynb"
DASHBOARD = "12_neural_networks.ipynb"
RACE = "race.ipynb"   # written by the fixture: chapter 09's race explorer alone (the chapter takes ~30 s to run)

if available() is not None:
    pytest.skip(f"browser tests {available()}", allow_module_level=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free loopback port, serving a copy of the notebooks; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    for name in (NOTEBOOK, MOMENTUM, DASHBOARD):
        shutil.copy(ROOT / "notebooks" / name, root / name)
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from lrcourse import widgets as W\nW.race_explorer()")]), root / RACE)
    with jupyter_lab(root) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def open_notebook(lab, browser, tmp_path):
    """Open a notebook in a fresh page; on failure, keep a screenshot beside the test's tmp files."""
    url, token = lab
    pages = []

    def opener(name):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        pages.append(page)
        # a workspace of its own, so that the notebooks earlier tests opened are not restored beside this one
        page.goto(f"{url}/lab/workspaces/{Path(name).stem}/tree/{name}?token={token}")
        return page

    yield opener
    for page in pages:
        page.screenshot(path=str(tmp_path / "last.png"))
        page.close()


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
    # one small step: the slider-to-picture loop in the browser (reported, not asserted: bench_widgets.py times it)
    one_step_ms = picture_changes_after(page, picture, lambda: handle.press("ArrowRight"))
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


def test_race_explorer_buttons_and_shared_slider(open_notebook):
    page = open_notebook(RACE)
    run_all(page)
    explorer, status, picture = find_explorer(page, "one for all")  # a button: text that stays
    page.wait_for_function("el => el.src && el.src.length > 0", arg=picture.element_handle(), timeout=30_000)
    assert "finished, in order: momentum (step 376)" in status.inner_text()
    before_src = picture.get_attribute("src")
    explorer.get_by_role("button", name="one for all").click()
    page.wait_for_function("el => el.innerText.includes('all at lr 1.0e-02')", arg=status.element_handle(),
                           timeout=20_000)
    assert "diverged: SGD (step 4), momentum (step 3)" in status.inner_text()
    slider = explorer.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text="one lr")).first
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(20):   # ten presses a decade: lr 1e-2 -> 1
        handle.press("ArrowRight")
    page.wait_for_function("el => el.innerText.includes('all at lr 1.0e+00')", arg=status.element_handle(),
                           timeout=20_000)
    text = status.inner_text()
    assert "Adam (gap 1.7e-04)" in text and "diverged: SGD (step 1), momentum (step 1)" in text, text
    assert picture.get_attribute("src") != before_src
    assert page.locator("text=Error displaying widget").count() == 0


def test_dashboard_trains_live_and_the_stop_button_stops_it(open_notebook):
    page = open_notebook(DASHBOARD)
    run_all(page)
    dashboard, status, picture = find_explorer(page, "batch size")
    page.wait_for_function("el => el.innerText.includes('5 epochs: train loss')", arg=status.element_handle(),
                           timeout=60_000)   # the cell's own short run
    # a long run: the CNN for 100 epochs, so that there is time to press stop
    dashboard.locator("select").first.select_option("digits: CNN")
    epochs = dashboard.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text="epochs")).first
    handle = epochs.locator(".noUi-handle").first
    handle.focus()
    handle.press("End")
    page.wait_for_function("el => /Changed since: model, .*epochs/.test(el.innerText)", arg=status.element_handle(),
                           timeout=20_000)
    assert epochs.locator(".widget-readout").inner_text().strip() == "100"
    before_src = picture.get_attribute("src")
    dashboard.get_by_role("button", name="train").click()
    # curves appear while it trains: the status counts epochs and the picture changes
    page.wait_for_function("el => /epoch [1-9]\\d* of 100/.test(el.innerText)", arg=status.element_handle(),
                           timeout=60_000)
    page.wait_for_function("([el, old]) => el.src !== old", arg=[picture.element_handle(), before_src],
                           timeout=30_000)
    assert "digits: CNN" in status.inner_text()
    dashboard.get_by_role("button", name="stop").click()
    page.wait_for_function("el => el.innerText.includes('stopped after epoch')", arg=status.element_handle(),
                           timeout=60_000)
    text = status.inner_text()
    stopped = int(text.split("stopped after epoch ")[1].split(":")[0])
    assert 1 <= stopped < 100, text
    time.sleep(1.0)   # nothing trains on after the stop
    assert status.inner_text() == text
    assert dashboard.get_by_role("button", name="train").is_enabled()
    assert page.locator("text=Error displaying widget").count() == 0
