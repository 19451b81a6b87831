"""axe-core in a Playwright page: which WCAG 2.2 AA rules the page as it stands breaks.

axe-core comes from the npm registry, pinned, installed by scripts/setup.sh into .tools/. It is run through
Playwright's evaluate (DevTools' own evaluation), not a <script> added to the page: the page's
Content-Security-Policy allows only its own scripts, and must not be loosened for a test.

    from tests.browser.axe import assert_accessible
    assert_accessible(page, "victim page, on the way, 360 px")
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"  # scripts/setup.sh installs exactly this one
WCAG_22_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")

_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return {version: axe.version, violations: result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, tags: v.tags,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                              summary: (n.failureSummary || '').slice(0, 300)}))}))};
}"""


@lru_cache(maxsize=1)
def _axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        raise RuntimeError(f"axe-core is not installed at {AXE_SCRIPT}: run scripts/setup.sh "
                           f"(npm install --prefix .tools axe-core@{AXE_VERSION})")
    return AXE_SCRIPT.read_text()


def axe_violations(page, tags: tuple[str, ...] = WCAG_22_AA) -> list[dict]:
    """The violations of the rules tagged `tags` (WCAG 2.2 AA by default) on `page` as it is now: one dict per
    rule broken, with `id`, `impact`, `help` and its `nodes` (`target` selector, `html`, `summary`)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    outcome = page.evaluate(_RUN, list(tags))
    if outcome["version"] != AXE_VERSION:
        raise RuntimeError(f"axe-core {outcome['version']} ran, expected {AXE_VERSION} (scripts/setup.sh)")
    return outcome["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {n['target']}: {n['html']}\n      {n['summary']}" for n in v["nodes"][:6]]
        if len(v["nodes"]) > 6:
            lines.append(f"    … and {len(v['nodes']) - 6} more")
    return "\n".join(lines)


def assert_accessible(page, label: str, tags: tuple[str, ...] = WCAG_22_AA) -> None:
    """Fails, naming each rule and element, when axe-core finds a violation of `tags` on `page`."""
    violations = axe_violations(page, tags)
    assert not violations, f"{label}: axe-core {AXE_VERSION} found {len(violations)} rule(s) broken " \
                           f"({', '.join(tags)}):\n{describe(violations)}"


def assert_reflows(page, label: str) -> None:
    """WCAG 1.4.10 (Reflow), which axe-core does not check: at the page's width nothing makes it scroll sideways."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    wider = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && el.getClientRects().length)
        .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                              + ' ' + Math.round(el.getBoundingClientRect().right) + 'px')""")
    assert width[0] <= width[1], f"{label}: the page is {width[0]} px wide in a {width[1]} px window: {wider}"
