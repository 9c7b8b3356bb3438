"""A real browser: chapter 13's claims explorer in JupyterLab (headless chromium): run the cell, change the claim,
check that the status line and the picture change. Skipped, with the reason, where chromium or Playwright is missing."""

import time
from pathlib import Path

import pytest

from lab import available, find_explorer, one_cell_page, run_all

NOTEBOOK = "claims.ipynb"   # written by the fixture: the explorer alone (the chapter takes ~30 s to run)

if available() is not None:
    pytest.skip(f"browser tests {available()}", allow_module_level=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with one_cell_page(tmp_path_factory.mktemp("lab13"), NOTEBOOK, "from lrcourse.widgets.claims import claims_explorer\n"
                       "claims_explorer(steps=50, seeds=2)") as page:
        yield page


def test_changing_the_claim_reruns_the_experiment(page):
    run_all(page)
    explorer, status, picture = find_explorer(page, "log10 lr")
    page.wait_for_function("el => el.src && el.src.length > 0", arg=picture.element_handle(), timeout=30_000)
    assert "window" in status.inner_text()
    before = picture.get_attribute("src")
    explorer.locator("select").first.select_option("4: generalize")
    page.wait_for_function("el => el.innerText.includes('test error')", arg=status.element_handle(), timeout=30_000)
    start = time.perf_counter()
    page.wait_for_function("([el, old]) => el.src !== old", arg=[picture.element_handle(), before], timeout=30_000)
    print(f"\nclaim change to new picture: {1e3 * (time.perf_counter() - start):.0f} ms after the status")
    assert page.locator("text=Error displaying widget").count() == 0
