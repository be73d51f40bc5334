"""The README's picture of the dashboard, taken with Playwright and Debian's chromium.

Point it at a running `shopstream up` (or `shopstream dashboard` over a warehouse with
data): `shopstream docs screenshot --url http://127.0.0.1:8000`. It waits until the page
has drawn its KPIs and charts, then saves the whole page as a 256-colour PNG: the page's
flat colours survive the palette, and the file shrinks from ~350 KB (RGB) to ~150 KB.
"""

from __future__ import annotations

from pathlib import Path

from shopstream.errors import ConfigError, DependencyError

CHROMIUM = Path("/usr/bin/chromium")
# The same flags as the browser tests: no sandbox (containers), no network beyond the page.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def take(url: str, out: Path, *, width: int = 1280, settle_s: float = 4.0) -> Path:
    """Load `url`, let a few polls (one per second) fill the charts, save the page."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise DependencyError(
            "Playwright is not installed: pip install -e '.[test]' (it drives Debian's chromium)"
        ) from None
    if not CHROMIUM.exists():
        raise DependencyError(
            f"{CHROMIUM} is missing: apt-get install chromium (or make system-deps)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            try:
                page.goto(url, wait_until="networkidle")
            except PlaywrightError as err:
                raise ConfigError(
                    f"cannot load {url} ({str(err).splitlines()[0]}): start `shopstream up` or "
                    "`shopstream dashboard` and pass the URL it prints"
                ) from None
            page.wait_for_timeout(settle_s * 1000)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    _to_palette(out)
    return out


def _to_palette(png: Path) -> None:
    from PIL import Image  # matplotlib's dependency

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)
