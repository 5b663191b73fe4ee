"""The ``clmlf serve`` page in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by
Selenium posts a real MVSA-Single post with its image to a tiny trained run and checks what is drawn.

``CLMLF_SCREENSHOT=docs/figures/serve.png`` also writes the screenshot there (the committed one comes from this test).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install clmlf[serve])")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install clmlf[dev])")
import uvicorn  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from clmlf.serve.server import load_app  # noqa: E402
from conftest import has_real_data  # noqa: E402
from serve_runs import tiny_run  # noqa: E402,F401

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
pytestmark = pytest.mark.slow


def real_post():
    """The first MVSA-Single test post (text and image path)."""
    from clmlf.registry import registry
    from clmlf.spec import validate_spec
    from clmlf.train.pipeline import build_splits

    spec = validate_spec(registry().entry("dataset", "mvsa_single").spec, {"type": "mvsa_single", "max_eval": 8}, "test")
    return next(sample for sample in build_splits(spec).split("test") if sample.image_path is not None)


@pytest.fixture(scope="module")
def server(tiny_run):
    """``http://127.0.0.1:PORT`` serving the tiny run from a uvicorn thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(load_app(tiny_run), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uvicorn_server.started, "uvicorn did not start within 30 s"
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None or CHROMEDRIVER is None:
        reason = "headless Chromium is absent (apt-get install chromium chromium-driver; .ci/run installs them)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_window_size(1000, 1500)
    yield driver
    driver.quit()


def canvas_ink(driver, selector: str) -> float:
    """Sum of the alpha channel drawn on the first canvas matching ``selector`` (0: nothing drawn)."""
    return driver.execute_script(
        "const c = document.querySelector(arguments[0]); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let s = 0; for (let i = 3; i < d.length; i += 4) s += d[i]; return s;", selector)


def test_page_shows_label_probabilities_heat_map_and_fusion_attention(server, browser, tmp_path):
    if not has_real_data():
        pytest.skip("real data (MVSA-Single) absent: set CLMLF_DATA_DIR")
    post = real_post()
    wait = WebDriverWait(browser, 60)
    browser.get(server)
    wait.until(lambda d: "labels" in d.find_element(By.ID, "model").text)
    browser.find_element(By.ID, "text").send_keys(post.text)
    browser.find_element(By.ID, "image").send_keys(str(post.image_path))
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: d.find_element(By.ID, "result").is_displayed())

    label = browser.find_element(By.ID, "label").text
    bars = browser.find_elements(By.CSS_SELECTOR, "#bars .bar")
    probabilities = {bar.get_attribute("data-label"): float(bar.find_element(By.CLASS_NAME, "value").text) for bar in bars}
    assert set(probabilities) == {"negative", "neutral", "positive"}
    assert sum(probabilities.values()) == pytest.approx(1, abs=2e-3)
    assert label == max(probabilities, key=probabilities.get)
    assert browser.find_element(By.CSS_SELECTOR, "#bars .bar.top").get_attribute("data-label") == label

    assert browser.execute_script("return document.getElementById('view').naturalWidth") == 64  # the model's view
    assert int(browser.find_element(By.ID, "heat").get_attribute("data-drawn")) >= 1
    assert canvas_ink(browser, "#heat") > 0
    words = browser.find_elements(By.CSS_SELECTOR, "#words span")
    assert len(words) >= 2

    words[1].click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#fusion figure")) == 4)  # 2 layers x 2 heads
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#fusion figcaption")]
    assert captions == ["layer 0, head 0", "layer 0, head 1", "layer 1, head 0", "layer 1, head 1"]
    assert browser.find_element(By.ID, "word").text == words[1].text
    assert canvas_ink(browser, "#fusion figure canvas") > 0
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1000, height + 140)
    browser.save_screenshot(str(tmp_path / "serve.png"))
    if os.environ.get("CLMLF_SCREENSHOT"):
        shutil.copy(tmp_path / "serve.png", os.environ["CLMLF_SCREENSHOT"])

    browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    browser.find_element(By.ID, "text").clear()
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "text is empty" in browser.find_element(By.ID, "error").text
