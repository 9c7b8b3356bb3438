"""A real browser (JupyterLab + headless chromium via Playwright): chapter 14's explorer alone in a notebook; run
all, pick another method and move the d0 slider with the keyboard; the status and the picture must change.
Skipped, with the reason, where chromium or Playwright is missing."""

import pytest

from lab import available, find_explorer, one_cell_page, picture_changes_after, run_all

NOTEBOOK = "lr_free.ipynb"

if available() is not None:
    pytest.skip(f"browser tests {available()}", allow_module_level=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with one_cell_page(tmp_path_factory.mktemp("lab14"), NOTEBOOK, "from lrcourse.widgets.lr_free import lr_free_explorer\n"
                       "lr_free_explorer(steps=100)") as page:
        yield page


def test_pick_a_method_and_move_d0(page, tmp_path):
    try:
        run_all(page)
        explorer, status, picture = find_explorer(page, "d_coef")
        page.wait_for_function("el => el.innerText.includes('Prodigy (d0')", arg=status.element_handle(),
                               timeout=60_000)
        before_text = status.inner_text()
        explorer.locator("select").first.select_option("D-Adapt Adam")
        page.wait_for_function("el => el.innerText.startsWith('D-Adapt Adam (d0 1e-06')",
                               arg=status.element_handle(), timeout=30_000)
        assert status.inner_text() != before_text
        handle = explorer.locator(".noUi-handle").nth(2)      # seed, steps, then d0 (the rows' order)
        handle.focus()
        picture_changes_after(page, picture, lambda: handle.press("ArrowRight"), timeout=30_000)
        page.wait_for_function("el => el.innerText.startsWith('D-Adapt Adam (d0') && "
                               "!el.innerText.includes('d0 1e-06')", arg=status.element_handle(), timeout=30_000)
        assert "validation loss" in status.inner_text() or "diverged at step" in status.inner_text()
        assert page.locator("text=Error displaying widget").count() == 0
    except Exception:
        page.screenshot(path=str(tmp_path / "last.png"))
        raise
