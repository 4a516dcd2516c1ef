"""`make lint`'s layering check of shared/: no import cycle between its modules, and no production
module that names the test support (`crate::testing`, feature "testing").

The layers, bottom up: values that know nothing of HTTP or storage (`clock`, `email`, `user`,
`password`, `config`, `session`, `token`); `store` on them; the HTTP edge (`response`, `error`,
`json_body`, `http`, `auth`, `signin`, `credentials`); `state` and `runtime`, which wire it all.
A module may use the ones below it and its own level, never in a circle.

    python3 dev/check_layers.py   # exit 1, naming the cycle or the module, if either is broken
"""

from __future__ import annotations

import pathlib
import re
import sys

SOURCE = pathlib.Path(__file__).resolve().parent.parent / "shared" / "src"


def code_of(file: pathlib.Path) -> str:
    """The file without comments and without its unit-test module."""
    text = file.read_text()
    test_module = re.search(r"^#\[cfg\(test\)\]\nmod tests", text, re.M)
    if test_module:
        text = text[: test_module.start()]
    return "\n".join(line for line in text.split("\n") if not line.strip().startswith("//"))


def module_of(file: pathlib.Path) -> str | None:
    parts = list(file.relative_to(SOURCE).with_suffix("").parts)
    if parts == ["lib"]:
        return None
    return parts[0]


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for file in sorted(SOURCE.rglob("*.rs")):
        module = module_of(file)
        if module is None or module == "testing":
            continue
        code = code_of(file)
        used = set(re.findall(r"\bcrate::(\w+)", code))
        for group in re.findall(r"use crate::\{([^;]*)\};", code, re.S):
            used |= set(re.findall(r"(?:^|[,{\s])(\w+)(?=::|\s*[,}]|$)", group))
        edges.setdefault(module, set()).update(used - {module})
    modules = set(edges)
    return {module: used & modules for module, used in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(edges[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def main() -> int:
    problems = []
    for component in cycles(graph()):
        problems.append(f"import cycle in shared/src between: {', '.join(component)}")
    for file in sorted(SOURCE.rglob("*.rs")):
        if module_of(file) in (None, "testing"):
            continue
        if re.search(r"\btesting::", code_of(file)):
            problems.append(f"{file.relative_to(SOURCE.parent.parent)} names the test support")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
