"""JupyterLab in headless Debian chromium, driven by Playwright: the pieces the browser tests and
``bench/bench_widgets.py`` share.

    with jupyter_lab(folder) as (url, token), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/NAME.ipynb?token={token}")
        run_all(page)
        explorer, status, picture = find_explorer(page, "lr L =")
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def available():
    """None if a real browser can be driven here, else the reason why not."""
    if not os.path.exists(CHROMIUM):
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(root):
    """JupyterLab on a free loopback port serving the folder ``root``; stopped afterwards. Yields (url, token)."""
    port, token = free_port(), "lrcourse-browser-test"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_CONFIG_DIR=str(root / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ip=127.0.0.1", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
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
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.3)
        yield url, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextlib.contextmanager
def chromium():
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def run_all(page):
    """Wait for the notebook and its kernel (accepting a "Select Kernel" dialog), then Run All Cells."""
    from playwright import sync_api

    # the shown notebook: a restored workspace may hold other, hidden notebook panels before it
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden)", timeout=60_000)
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


def picture_changes_after(page, picture, action, timeout=10_000):
    """Do ``action()`` and return the milliseconds until the picture shows something new."""
    before = picture.get_attribute("src")
    start = time.perf_counter()
    action()
    page.wait_for_function("([el, old]) => el.src !== old", arg=[picture.element_handle(), before],
                           timeout=timeout)
    return 1e3 * (time.perf_counter() - start)


@contextlib.contextmanager
def one_cell_page(root, name, source):
    """A notebook ``root/name`` holding one code cell, ``source``, served by JupyterLab and opened in headless chromium
    (a workspace of its own): yields the page, closed afterwards with the server and the browser."""
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), root / name)
    stem = name.rsplit(".", 1)[0]
    with jupyter_lab(root) as (url, token), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/lab/workspaces/{stem}/tree/{name}?token={token}")
            yield page
        finally:
            page.close()
