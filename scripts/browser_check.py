"""Opens an HTML report in headless Chromium (the Debian package, driven by
Playwright without downloading a browser) and checks that the page makes no
network request, logs no console error, shows the verdict, and offers the
raw JSON for download. Writes a screenshot.

    python3 scripts/browser_check.py REPORT.html SCREENSHOT.png [EXPECTED_TEXT]

Exit 0 when every check passes; prints what failed otherwise.
"""

import base64
import json
import os
import sys

from playwright.sync_api import sync_playwright


def main():
    page_path, screenshot = sys.argv[1], sys.argv[2]
    expected = sys.argv[3] if len(sys.argv) > 3 else "Verdict"
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    problems, requests, errors = [], [], []
    url = "file://" + os.path.abspath(page_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="load")
        verdict = page.locator("#verdict")
        if verdict.count() != 1 or expected not in verdict.inner_text():
            problems.append(f"the verdict box does not show {expected!r}")
        if not verdict.is_visible() or verdict.bounding_box()["y"] > 400:
            problems.append("the verdict is not at the top of the page")
        href = page.locator("#download-json").get_attribute("href") or ""
        prefix = "data:application/json;base64,"
        if not href.startswith(prefix):
            problems.append("no downloadable JSON report")
        else:
            report = json.loads(base64.b64decode(href[len(prefix):]))
            if "verdict" in report and report["verdict"]["root_cause"]["code"] not in verdict.inner_text():
                problems.append("the downloadable JSON disagrees with the page")
        images = page.locator("img")
        for i in range(images.count()):
            if not page.evaluate("(img) => img.complete && img.naturalWidth > 0", images.nth(i).element_handle()):
                problems.append(f"image {i} did not decode")
        page.screenshot(path=screenshot, full_page=False)
        browser.close()
    external = [u for u in requests if not (u.startswith("file://") or u.startswith("data:"))]
    if len([u for u in requests if u.startswith("file://")]) > 1:
        external.extend(u for u in requests[1:] if u.startswith("file://"))
    if external:
        problems.append(f"requests beyond the page itself: {external}")
    if errors:
        problems.append(f"console errors: {errors}")
    for p_ in problems:
        print(p_)
    print(f"{len(requests)} request(s), {len(errors)} console error(s), screenshot {screenshot}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
