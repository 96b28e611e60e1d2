"""Accessibility check of a page in the browser tests, with axe-core (vendored, test-only: vendor/README.md)."""

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# WCAG 2.1 A and AA rules; a failure is a violation axe rates serious or critical.
RUN = """async () => {
  const rules = {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}};
  const result = await axe.run(document, rules);
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
}"""


def assert_accessible(page: Page) -> None:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(RUN)
    assert violations == [], "\n".join(violations)
