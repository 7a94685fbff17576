"""Masking catches the forms a step most often prints a secret in, not only the exact value.

Real steps print each form of a ``secrets:`` variable and of a secret input; the stored log,
``orch logs``, ``report.md``, the outputs in ``run.json`` and the live ``-v`` display must
show ``***``, and no form may occur in anything orch stored (every object of the repository,
every file under ``.orch/``). What stays visible is asserted exactly, against an independent
reckoning of which base64 characters depend on the secret alone.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.masking import MASK, Masker
from tests.conftest import git
from tests.core.helpers import Ran, commit_documents, document, orch
from tests.hostile.stored import assert_absent, stored_bytes

TOKEN = 'Tok/en+Secret "quoted" & more=1?'
TOK = "tok_" + "Ünïcödé-päss/wörd+" * 4  # 88 bytes: `base64` wraps its encoding
PREFIXES = (b"u:", b"us:", b"use:")  # the three byte offsets inside a longer base64 text

PRINT_FORMS = """
import base64, json, os, urllib.parse
for variable in ("API_TOKEN", "ORCH_INPUT_TOK"):
    s = os.environ[variable]
    b = s.encode()
    print("raw", s)
    print("b64", base64.b64encode(b).decode())
    print("b64-nopad", base64.b64encode(b).decode().rstrip("="))
    print("b64url", base64.urlsafe_b64encode(b).decode())
    print("b64url-nopad", base64.urlsafe_b64encode(b).decode().rstrip("="))
    for prefix in (b"u:", b"us:", b"use:"):
        print("inside", base64.b64encode(prefix + b + b"@host").decode())
        print("inside-url", base64.urlsafe_b64encode(prefix + b + b"~").decode())
    print("quote", urllib.parse.quote(s, safe=""))
    print("quote-path", urllib.parse.quote(s))
    print("quote-plus", urllib.parse.quote_plus(s))
    print("query", "https://example.invalid/?" + urllib.parse.urlencode({"token": s}))
    print("json", json.dumps(s)[1:-1])
    print("json-raw", json.dumps(s, ensure_ascii=False)[1:-1])
    print("json-object", json.dumps({"token": s}))
    print("hex", b.hex())
    print("HEX", b.hex().upper())
with open(os.environ["ORCH_OUTPUT"], "a") as out:
    token = os.environ["API_TOKEN"].encode()
    out.write("basic=" + base64.b64encode(b"user:" + token).decode() + "\\n")
    out.write("json=" + json.dumps({"token": os.environ["ORCH_INPUT_TOK"]}) + "\\n")
"""
SHELL_FORMS = """
printf '%s' "$API_TOKEN" | base64 -w0; echo
echo "$API_TOKEN" | base64
echo "$ORCH_INPUT_TOK" | base64
printf '%s' "$ORCH_INPUT_TOK" | base64
printf '%s' "$ORCH_INPUT_TOK" | xxd -p | tr -d '\\n'; echo
"""
SPLIT = """
printf 'split: %s' "${API_TOKEN:0:10}"; sleep 0.3; printf '%s\\n' "${API_TOKEN:10}"
head -c 65530 /dev/zero | tr '\\0' x
printf '%s' "${API_TOKEN:0:6}"; sleep 0.3; printf '%s\\n' "${API_TOKEN:6}"
printf 'b64: %s' "$(printf '%s' "$API_TOKEN" | base64 -w0 | head -c 9)"; sleep 0.3
printf '%s\\n' "$(printf '%s' "$API_TOKEN" | base64 -w0 | tail -c +10)"
"""
FORMS = document(
    """
id: forms
title: Forms
status: approved
secrets: [API_TOKEN]
inputs:
  tok:
    type: string
    secret: true
""",
    f"```python3 {{step=python}}\n{PRINT_FORMS.strip()}\n```\n\n"
    f"```bash {{step=shell}}\n{SHELL_FORMS.strip()}\n```\n\n"
    f"```bash {{step=split}}\n{SPLIT.strip()}\n```\n",
)


def every_form(secret: str) -> list[str]:
    """Each encoded form the steps print, as a whole (for asserting it is stored nowhere)."""
    data = secret.encode()
    forms = [
        secret,
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
        base64.b64encode(data + b"\n").decode(),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        data.hex(),
        data.hex().upper(),
    ]
    return sorted(set(forms))


def determined(prefix: bytes, secret: bytes, suffix: bytes, *, url: bool = False) -> str:
    """``base64(prefix + secret + suffix)`` with the characters that depend on ``secret``
    alone replaced by ``***``: found by changing every neighbouring bit and seeing which
    characters never change (no arithmetic shared with the masker)."""
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    text = encode(prefix + secret + suffix).decode()
    variants = [
        encode(bytes(b ^ flip for b in prefix) + secret + bytes(b ^ flip for b in suffix))
        for flip in (0xFF, 0x0F, 0xF0, 0x55, 0xAA)
    ]
    # Characters whose bits all lie in the secret: the same in every variant, and also in
    # the encoding of a different secret never (checked per position by changing the secret).
    other = bytes(b ^ 0xFF for b in secret)
    changed = encode(prefix + other + suffix).decode()
    steady = [
        i
        for i, char in enumerate(text)
        if all(v.decode()[i] == char for v in variants) and changed[i] != char
    ]
    first, last = steady[0], steady[-1]
    assert steady == list(range(first, last + 1))
    return text[:first] + MASK + text[last + 1 :]


def expected_python_log(secret: str) -> list[str]:
    data = secret.encode()
    lines = [f"{label} {MASK}" for label in ("raw", "b64", "b64-nopad", "b64url", "b64url-nopad")]
    for prefix in PREFIXES:
        lines.append("inside " + determined(prefix, data, b"@host"))
        lines.append("inside-url " + determined(prefix, data, b"~", url=True))
    lines += [f"{label} {MASK}" for label in ("quote", "quote-path", "quote-plus")]
    lines.append(f"query https://example.invalid/?token={MASK}")
    lines += [f"json {MASK}", f"json-raw {MASK}", f'json-object {{"token": "{MASK}"}}']
    lines += [f"hex {MASK}", f"HEX {MASK}"]
    return lines


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ran, str]:
    repo = tmp_path_factory.mktemp("masking") / "repo"
    repo.mkdir()
    for args in (("init", "-q"), ("commit", "-q", "--allow-empty", "-m", "initial")):
        git(repo, *args)
    commit_documents(repo, {"intents/forms.md": FORMS})
    done = orch(
        repo, "apply", "-v", "intents/forms.md", "-i", f"tok={TOK}", env={"API_TOKEN": TOKEN}
    )
    assert done.code == 0, done.stderr
    (run_id,) = git(repo, "ls-tree", "--name-only", "orch-trace:runs/forms/").split()
    return repo, done, run_id


def trace_file(repo: Path, run_id: str, name: str) -> str:
    return git(repo, "show", f"orch-trace:runs/forms/{run_id}/{name}")


def test_every_form_is_masked_in_the_log(ran: tuple[Path, Ran, str]) -> None:
    repo, _, run_id = ran
    log = trace_file(repo, run_id, "logs/01-python.log").splitlines()
    assert log == expected_python_log(TOKEN) + expected_python_log(TOK)


def test_what_base64_prints_is_masked(ran: tuple[Path, Ran, str]) -> None:
    repo, _, run_id = ran
    log = trace_file(repo, run_id, "logs/02-shell.log")
    # base64 -w0; echo | base64 (the newline encoded too); wrapped at 76 columns; xxd -p.
    assert log == f"{MASK}\n{MASK}\n{MASK}\n{MASK}\n{MASK}\n"


def test_a_secret_split_across_writes_and_reads_is_masked(ran: tuple[Path, Ran, str]) -> None:
    repo, done, run_id = ran
    log = trace_file(repo, run_id, "logs/03-split.log")
    assert log == f"split: {MASK}\n{'x' * 65530}{MASK}\nb64: {MASK}\n"
    # The live display (-v) shows whole lines only, each masked.
    assert f"split: {MASK}" in done.stderr
    assert f"b64: {MASK}" in done.stderr
    assert_absent([TOKEN[:6], base64.b64encode(TOKEN.encode()).decode()[:9]], done.stderr)


def test_outputs_logs_and_report_show_the_mask(ran: tuple[Path, Ran, str]) -> None:
    repo, _, run_id = ran
    record = json.loads(trace_file(repo, run_id, "run.json"))
    outputs = record["steps"][0]["outputs"]
    assert outputs == {
        "basic": determined(b"user:", TOKEN.encode(), b""),
        "json": f'{{"token": "{MASK}"}}',
    }
    shown = orch(repo, "logs", run_id, "python")
    assert shown.code == 0
    assert shown.stdout.splitlines() == expected_python_log(TOKEN) + expected_python_log(TOK)
    report = trace_file(repo, run_id, "report.md")
    assert MASK in report


def test_no_form_is_stored_or_printed_anywhere(ran: tuple[Path, Ran, str]) -> None:
    repo, done, run_id = ran
    forms = every_form(TOKEN) + every_form(TOK)
    wrapped = base64.b64encode(TOK.encode() + b"\n").decode()
    forms += [wrapped[:76], wrapped[76:]]  # the lines `echo | base64` prints
    for prefix in PREFIXES:
        inside = determined(prefix, TOKEN.encode(), b"@host")
        text = base64.b64encode(prefix + TOKEN.encode() + b"@host").decode()
        forms.append(text[len(inside.split(MASK)[0]) : len(text) - len(inside.split(MASK)[1])])
    logs = orch(repo, "logs", run_id).stdout
    assert_absent(forms, done.stdout, done.stderr, logs, stored_bytes(repo))


def test_short_secrets_mask_no_short_encodings() -> None:
    """A one-letter secret is masked as itself, but its hexadecimal ``61`` or base64 ``YQ``
    would hide unrelated text: encoded forms shorter than six characters are not masked."""
    assert Masker(["a"]).mask("6162 YQ== YWJj") == "6162 YQ== YWJj"
    assert Masker(["abcd"]).mask("x YWJjZA== 61626364 YWJjZA y") == f"x {MASK} {MASK} {MASK} y"


def test_multi_line_secret_lines_and_forms() -> None:
    key = "-----BEGIN KEY-----\nQUJDREVGR0g=\nab\n-----END KEY-----"
    masker = Masker([key])
    assert masker.mask(f"x{key}y") == f"x{MASK}y"
    assert masker.mask("QUJDREVGR0g=") == MASK  # a line of four characters or more
    assert masker.mask("ab") == "ab"  # shorter lines alone would hide too much
    assert masker.mask(json.dumps(key)) == f'"{MASK}"'
    assert Masker([key, "other-secret"]).mask("other-secret and " + key) == f"{MASK} and {MASK}"


def test_a_secret_that_is_not_utf8_is_masked_in_its_bytes() -> None:
    """An environment value that is not UTF-8 reaches orch with surrogate escapes; its
    forms are those of the bytes a step prints."""
    raw = b"pass\xff\xfeword"
    secret = raw.decode("utf-8", errors="surrogateescape")
    masker = Masker([secret])
    printed = f"{base64.b64encode(raw).decode()} {raw.hex()} {urllib.parse.quote(raw)}"
    assert masker.mask(printed) == f"{MASK} {MASK} {MASK}"
    # Printed as it is, and read back as orch reads a step's output.
    assert masker.mask(raw.decode("utf-8", errors="replace")) == MASK


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(min_size=2, max_size=40).filter(lambda text: len(text.encode()) >= 5),
    prefix=st.binary(max_size=7),
    suffix=st.binary(max_size=7),
    url=st.booleans(),
)
def test_base64_inside_any_text_leaves_only_the_edges(
    secret: str, prefix: bytes, suffix: bytes, url: bool
) -> None:
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    text = encode(prefix + secret.encode() + suffix).decode()
    masked = Masker([secret]).mask(text)
    assert MASK in masked
    head, tail = masked.split(MASK, 1)
    # Left around the mask: the neighbours' characters, the one character on each side
    # that mixes their bits with the secret's first or last byte, and padding.
    assert len(head) <= -(-len(prefix) * 8 // 6)
    assert len(tail.rstrip("=")) <= -(-len(suffix) * 8 // 6) + 1
    if not suffix:
        assert tail.rstrip("=") == ""
