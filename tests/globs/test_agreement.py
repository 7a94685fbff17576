"""Discovery, artifact files and hook ``on.paths`` select the same paths for the same
pattern, each through the way a user meets it: ``orch validate`` finding documents,
``orch apply`` packaging an artifact, a real ``git commit`` running the post-commit hook."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.conftest import build_file_tree, git
from tests.core.helpers import commit_documents, document, orch
from tests.hooks.helpers import approved, commit, installed, stage, trace_runs

# Every path below exists in the repository; each pattern must select exactly its own.
PATHS = [
    "src/.env",
    "src/app.txt",
    "src/deep/x.txt",
    "a.md",
    "docs/a.md",
    "docs/a.mdx",
    "page.js",
    "page.jsx",
    "page.jsxx",
    "web/page.js",
]
# pattern, the literal folder an artifact payload drops, the paths it selects
CASES = [
    ("src/*", "src", {"src/.env", "src/app.txt"}),
    ("**.md", "", {"a.md", "docs/a.md"}),
    ("*.jsx?", "", {"page.js", "page.jsx"}),
]
# Artifacts alone: a selected folder brings every file below it (src/* selects src/deep).
FOLDER_CONTENTS = {"src/*": {"src/deep/x.txt"}}
# The test repository's own files that a pattern also selects.
OWN_FILES = {"**.md": {"README.md", "intents/pack.md"}}


def _write_paths(repo: Path, text: str) -> None:
    build_file_tree(repo, dict.fromkeys(PATHS, text))


def test_orch_validate_discovers_what_the_intents_setting_selects(git_repo: Path) -> None:
    # Not documents: each one discovered is reported, so the report lists what was found.
    _write_paths(git_repo, "not an intent document\n")
    for pattern, _, selected in CASES:
        (git_repo / "orch.toml").write_text(f"intents = [{json.dumps(pattern)}]\n")
        ran = orch(git_repo, "validate")
        assert ran.code == 1, ran.stderr
        reported = {line.split(":", 1)[0] for line in ran.stdout.splitlines()}
        assert reported == selected, pattern
        assert ran.stdout.splitlines()[0].endswith(
            ":1:1: no front matter: an intent document "
            "starts with a '---' line, then YAML (id, "
            "title, ...), then a closing '---' line"
        )


def test_orch_apply_packages_what_the_files_patterns_select(git_repo: Path) -> None:
    artifacts = "".join(
        f"  - name: case{index}.zip\n    type: generic\n    files: [{json.dumps(pattern)}]\n"
        for index, (pattern, _, _) in enumerate(CASES)
    )
    front = f"id: pack\ntitle: Pack\nstatus: approved\nartifacts:\n{artifacts}"
    make = " ".join(f"'{path}'" for path in PATHS)
    body = (
        "# Pack\n\n```bash {step=make}\nmkdir -p src/deep docs web\n"
        f'for path in {make}; do echo made > "$path"; done\n```\n'
    )
    commit_documents(git_repo, {"intents/pack.md": document(front, body)})
    ran = orch(git_repo, "apply", "intents/pack.md", "--json")
    assert ran.code == 0, ran.stderr
    record = json.loads(ran.stdout)
    for (pattern, folder, selected), artifact in zip(CASES, record["artifacts"], strict=True):
        with zipfile.ZipFile(artifact["publication"]["storage_path"]) as archive:
            names = [n.removeprefix("payload/") for n in archive.namelist() if n != "manifest.json"]
        packaged = {f"{folder}/{name}" if folder else name for name in names}
        assert packaged & set(PATHS) == selected | FOLDER_CONTENTS.get(pattern, set()), pattern
        assert packaged - set(PATHS) == OWN_FILES.get(pattern, set()), pattern


def test_a_commit_runs_the_documents_whose_on_paths_select_a_changed_path(
    git_repo: Path,
) -> None:
    _write_paths(git_repo, "first\n")
    body = "# Echo\n\n```bash {step=echo}\necho ran\n```\n"
    for index, (pattern, _, _) in enumerate(CASES):
        paths = f"on:\n  paths: [{json.dumps(pattern)}]\n"
        build_file_tree(
            git_repo, {f"intents/case{index}.md": approved(f"case{index}", body, paths)}
        )
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "documents and paths, before the hooks")
    installed(git_repo)

    def ran_for(*paths: str) -> set[str]:
        """The documents a commit changing ``paths`` ran."""
        before = {case: len(trace_runs(git_repo, case)) for case in ("case0", "case1", "case2")}
        stage(git_repo, {path: f"changed {path}\n" for path in paths})
        done = commit(git_repo, "-m", f"change {' '.join(paths)}")
        assert done.returncode == 0, done.stderr
        return {case for case, count in before.items() if len(trace_runs(git_repo, case)) > count}

    selected = set().union(*(paths for _, _, paths in CASES))
    # One commit for every path that no pattern selects: it runs nothing.
    assert ran_for(*(path for path in PATHS if path not in selected)) == set()
    for path in sorted(selected):
        expected = {f"case{index}" for index, (_, _, paths) in enumerate(CASES) if path in paths}
        assert ran_for(path) == expected, path
