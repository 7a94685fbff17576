"""The fast in-place edit of equal-size trees gives exactly the tree the general path gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.trace.objects import TREE_MODE, Entry, _splice_uniform, serialise_tree

NAMES = st.text(alphabet="0123456789abcdefTZ-", min_size=8, max_size=8)
SHAS = st.binary(min_size=20, max_size=20).map(bytes.hex)


@settings(max_examples=300, deadline=None)
@given(
    existing=st.dictionaries(NAMES, SHAS, min_size=1, max_size=40),
    name=NAMES,
    sha=st.none() | SHAS,
)
def test_splice_matches_rebuilding_the_tree(
    existing: dict[str, str], name: str, sha: str | None
) -> None:
    entries = {n: Entry(TREE_MODE, n, s) for n, s in existing.items()}
    before = serialise_tree(list(entries.values()))
    if sha is None:
        entries.pop(name, None)
    else:
        entries[name] = Entry(TREE_MODE, name, sha)
    expected = serialise_tree(list(entries.values()))
    edit = None if sha is None else Entry(TREE_MODE, name, sha)
    assert _splice_uniform(before, name, edit) == expected


def test_trees_of_other_shapes_take_the_general_path() -> None:
    mixed = serialise_tree(
        [Entry(TREE_MODE, "short", "ab" * 20), Entry(b"100644", "much-longer-name", "cd" * 20)]
    )
    assert _splice_uniform(mixed, "other", Entry(TREE_MODE, "other", "ef" * 20)) is None
    uniform = serialise_tree([Entry(TREE_MODE, "aaaa", "ab" * 20)])
    assert _splice_uniform(uniform, "longer", Entry(TREE_MODE, "longer", "ef" * 20)) is None
