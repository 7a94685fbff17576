"""orch's glob matcher against the glob libraries: which of GitHub's rules each gets right,
and how fast each matches.

Run: ``python benchmarks/bench_globs.py [--paths 10000] [--patterns 100] [--repeat 3]``.

Rules: every row of ``tests/globs/cheatsheet.yaml`` (GitHub's "Filter pattern cheat sheet",
each example match and non-match) and of ``tests/globs/rules.yaml`` (orch's decisions where
the cheat sheet is silent: dotfiles, escapes, ``!`` in order), checked with each engine:

- orch: ``orchestrator.globs.PathFilter``.
- wcmatch: ``wcmatch.glob`` with ``GLOBSTAR | DOTGLOB | FORCEUNIX``, each pattern compiled on
  its own and the list read in order by this script (wcmatch's own ``NEGATE`` lets any
  exclusion win over every inclusion, which is not GitHub's order).
- pathspec: ``pathspec.GitIgnoreSpec`` (gitignore rules; the last matching line decides,
  as in GitHub's lists).

Discovery: ``orchestrator.document.discover`` against ``Path.glob`` (what orch used before)
on a tree of the generated paths, for three patterns.

Speed, in one process, every engine on the same generated paths and patterns (the figures of
``docs/performance.md``): compiling the patterns; each pattern checked against every path
(patterns x paths checks); and one ordered list of all patterns, a tenth of them exclusions,
deciding for every path. Compiling is timed once, before anything else an engine does (later
rounds would hit ``re``'s and wcmatch's caches); the other figures are the fastest of
``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pathspec
from ruamel.yaml import YAML
from wcmatch import glob as wcglob

from orchestrator import globs
from orchestrator.document import discover

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = [ROOT / "tests/globs/cheatsheet.yaml", ROOT / "tests/globs/rules.yaml"]
WC_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.FORCEUNIX

Selector = Callable[[str], bool]


def orch_selector(patterns: Sequence[str]) -> Selector:
    return globs.PathFilter(patterns).selects


def wcmatch_selector(patterns: Sequence[str]) -> Selector:
    compiled = [
        (p.startswith("!"), wcglob.compile(p.removeprefix("!"), flags=WC_FLAGS)) for p in patterns
    ]

    def selects(path: str) -> bool:
        for excludes, matcher in reversed(compiled):
            if matcher.match(path):
                return not excludes
        return False

    return selects


def pathspec_selector(patterns: Sequence[str]) -> Selector:
    return pathspec.GitIgnoreSpec.from_lines(patterns).match_file


ENGINES: dict[str, Callable[[Sequence[str]], Selector]] = {
    "orch": orch_selector,
    "wcmatch": wcmatch_selector,
    "pathspec": pathspec_selector,
}


def rules() -> None:
    yaml = YAML(typ="safe")
    for fixture in FIXTURES:
        rows: list[dict[str, Any]] = yaml.load(fixture.read_text(encoding="utf-8"))
        print(f"\n{fixture.relative_to(ROOT)}: {len(rows)} rows")
        for name, make in ENGINES.items():
            right = total = 0
            wrong: list[str] = []
            for row in rows:
                try:
                    selects = make(row["patterns"])
                except Exception as exc:  # a library refusing a pattern counts as wrong
                    cases = len(row["matches"]) + len(row["does_not_match"])
                    total += cases
                    wrong.append(f"{row['patterns']}: refused ({type(exc).__name__})")
                    continue
                for path, expected in [(p, True) for p in row["matches"]] + [
                    (p, False) for p in row["does_not_match"]
                ]:
                    total += 1
                    if selects(path) is expected:
                        right += 1
                    else:
                        verb = "misses" if expected else "wrongly selects"
                        wrong.append(f"{row['patterns']} {verb} {path!r}")
            print(f"  {name:9} {right:3}/{total} cases right")
            for line in wrong:
                print(f"      {line}")


FOLDERS = ["src", "docs", "lib", "app", "web", "db", "tests", "api", "core", "intents", ".github"]
NAMES = ["index", "app", "README", "page", "migrate-12", "test_api", "main", "util", ".env"]
EXTENSIONS = [".py", ".md", ".js", ".jsx", ".sql", ".txt", ".json", ".yml", ""]
TEMPLATES = [
    "{f}/**",
    "{f}/*",
    "{f}/**/*{e}",
    "**/{f}/**",
    "**/*{e}",
    "**{e}",
    "*{e}",
    "{f}/{g}/*{e}",
    "**/test_*{e}",
    "**/migrate-*.sql",
    "{f}/**/{n}{e}",
    "*.jsx?",
    "{f}/v[12].[0-9]+/**",
    "**/*-{n}{e}",
]


def generated(count_paths: int, count_patterns: int) -> tuple[list[str], list[str]]:
    rng = random.Random(20240601)
    paths = []
    for _ in range(count_paths):
        depth = rng.randint(0, 5)
        folders = [rng.choice(FOLDERS) for _ in range(depth)]
        paths.append("/".join([*folders, rng.choice(NAMES) + rng.choice(EXTENSIONS)]))
    patterns = []
    for index in range(count_patterns):
        template = TEMPLATES[index % len(TEMPLATES)]
        pattern = template.format(
            f=rng.choice(FOLDERS),
            g=rng.choice(FOLDERS),
            e=rng.choice(EXTENSIONS[:-1]),
            n=rng.choice(NAMES).lstrip("."),
        )
        patterns.append(("!" if index % 10 == 9 else "") + pattern)
    return paths, patterns


def best(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    fastest, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, result


def speed(count_paths: int, count_patterns: int, repeat: int) -> None:
    paths, patterns = generated(count_paths, count_patterns)
    includes = [p.removeprefix("!") for p in patterns]
    checks = len(paths) * len(includes)
    print(f"\nspeed: {len(paths):,} paths, {len(patterns)} patterns, best of {repeat}")
    print(f"  {'engine':9} {'compile':>10} {'each pattern x each path':>36} {'ordered list':>22}")

    def compile_orch() -> object:
        globs.compile_glob.cache_clear()
        globs.path_filter.cache_clear()
        return [globs.compile_glob(p).regex for p in includes]

    def compile_wcmatch() -> object:
        return [wcglob.compile(p, flags=WC_FLAGS) for p in includes]

    def compile_pathspec() -> object:
        return [pathspec.GitIgnoreSpec.from_lines([p]) for p in includes]

    def each_orch() -> object:
        compiled = [globs.compile_glob(p) for p in includes]
        return sum(1 for glob in compiled for path in paths if glob.matches(path))

    def each_wcmatch() -> object:
        matchers = [wcglob.compile(p, flags=WC_FLAGS) for p in includes]
        return sum(1 for m in matchers for path in paths if m.match(path))

    def each_pathspec() -> object:
        specs = [pathspec.GitIgnoreSpec.from_lines([p]) for p in includes]
        return sum(1 for s in specs for path in paths if s.match_file(path))

    table = {
        "orch": (compile_orch, each_orch),
        "wcmatch": (compile_wcmatch, each_wcmatch),
        "pathspec": (compile_pathspec, each_pathspec),
    }
    for name, (compile_all, each) in table.items():
        compiled, _ = best(1, compile_all)  # once, first: later rounds hit the caches
        matched_time, matched = best(repeat, each)
        selects = ENGINES[name](patterns)
        ordered_time, selected = best(repeat, lambda s=selects: sum(1 for p in paths if s(p)))
        print(
            f"  {name:9} {compiled * 1000:8.1f} ms"
            f" {matched_time:8.2f} s ({matched_time / checks * 1e6:.2f} µs/check, {matched:,} hits)"
            f" {ordered_time * 1000:7.0f} ms ({selected:,} selected)"
        )


def discovery(count_paths: int, repeat: int) -> None:
    """``discover`` (one walk from the patterns' literal folders, then the matcher) against
    ``Path.glob``, which orch used before, on a tree of the generated paths."""
    paths, _ = generated(count_paths, 0)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for path in sorted(set(paths)):
            target = root / path
            if any(parent.is_file() for parent in target.parents if parent != root):
                continue  # a generated file already took this folder's name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_dir():
                target.write_text("x\n")
        files = sum(1 for p in root.rglob("*") if p.is_file())
        print(f"\ndiscovery: a tree of {files:,} files, best of {repeat}")
        for pattern in ("intents/**/*.md", "**/*.md", "**.md"):
            walked, found = best(repeat, lambda p=pattern: len(discover(root, [p])))

            def path_glob(p: str = pattern) -> int:
                return sum(1 for f in root.glob(p) if f.is_file() and f.name.lower() != "readme.md")

            try:
                globbed, count = best(repeat, path_glob)
            except ValueError as exc:  # Path.glob refuses '**' inside a name
                other = f"refused: {exc}"
            else:
                other = f"{globbed * 1000:6.1f} ms ({count} files)"
            print(f"  {pattern:16} orch {walked * 1000:6.1f} ms ({found} files), Path.glob {other}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--patterns", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rules()
    speed(args.paths, args.patterns, args.repeat)
    discovery(args.paths, args.repeat)


if __name__ == "__main__":
    main()
