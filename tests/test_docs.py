"""The documentation's links lead somewhere, and the README stays the front door."""

import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", "CHANGELOG.md", "results/README.md", *sorted(glob.glob("docs/*.md", root_dir=REPO))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: str) -> set[str]:
    """GitHub's anchors of a markdown file's headings."""
    with open(path, encoding="utf-8") as f:
        headings = [line.lstrip("#").strip() for line in f if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_of_every_page_exists():
    broken = []
    for page in PAGES:
        with open(os.path.join(REPO, page), encoding="utf-8") as f:
            text = f.read()
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            full = (
                os.path.normpath(os.path.join(REPO, os.path.dirname(page), path)) if path else os.path.join(REPO, page)
            )
            if not os.path.exists(full):
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and full.endswith(".md") and anchor not in _anchors(full):
                broken.append(f"{page}: {target} (no heading with that anchor)")
    assert not broken, "\n".join(broken)
    assert len(PAGES) >= 10


def test_the_readme_is_short_and_links_every_docs_page():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert len(readme.splitlines()) <= 250
    for page in glob.glob("docs/*.md", root_dir=REPO):
        assert f"]({page})" in readme, page
    assert "../shared" not in readme


def test_the_role_table_of_the_docs_is_the_code_s():
    from components.roles import ROLE_TABLE

    with open(os.path.join(REPO, "docs", "your_data.md"), encoding="utf-8") as f:
        rows = [line for line in f if re.match(r"^\| [a-z_]+ \| (string|int|float)", line)]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        documented[cells[0]] = cells
    assert set(documented) == set(ROLE_TABLE)
    for name, role in ROLE_TABLE.items():
        _, dtypes, single, nullable, feature, options = documented[name]
        listed = [d.strip() for d in dtypes.split(",")]
        assert listed[0] == role.default_dtype and set(listed) == set(role.dtypes), name
        assert (single, nullable, feature) == tuple(
            "yes" if v else "no" for v in (role.single, role.nullable, role.feature)
        ), name
        assert set(re.findall(r"`(\w+)`", options)) == set(role.options), name
