"""The bad-input corpus: every case one ``hwsim: error:`` line, exit 2, no traceback, nothing changed.

Cases live in ``cases/*.yaml``, one file per class of mistake. A case::

    - id: conv-stride-zero
      argv: [info, g.json]
      files:
        g.json: {base: graph.json, set: {/ops/0/attrs/stride: [0, 0]}}
      error: "g.json: $.ops[0].attrs.stride: must be ..."

runs ``hwsim ARGV`` in an empty working directory holding ``files`` and must print exactly
``hwsim: error: ERROR`` and a newline on standard error (``error_start: TEXT`` instead when
the line ends with a third party's message, torch's: one line starting with ``hwsim: error:
TEXT``), nothing on standard output, exit with
status 2, and leave that directory and a sentinel file beside it exactly as they were (names,
types, modes, contents, modification times, link targets). The expected messages are the
ones designed for users, written here by hand.

A file is one of

* ``{base: NAME, remove: [POINTER], extend: {POINTER: [VALUE, ...]}, set: {POINTER: VALUE}}``:
  a base graph (``bases.py``) changed at JSON pointers (``/ops/0/attrs/stride``), in that
  order: keys removed, lists extended, values set (a last part ``-`` appends to a list);
* ``{base: NAME, replace: [[OLD, NEW], ...], append: TEXT}``: a base text file (``spec.yaml``)
  with each OLD, which must occur, replaced;
* ``{text: TEXT}`` or ``{hex: HEX}``: that content; ``{source: PATH}``: a file of this repository;
* ``{generate: NAME, ...}``: made by a generator of :data:`GENERATORS` (deep nesting, long
  chains of views, alias bombs) from the other keys;
* ``{fifo: true}``, ``{directory: true}``, ``{symlink: TARGET}``.

Options: ``stdout: closed`` or ``stdout: full`` (``/dev/full``); ``needs: torch``;
``process: true`` runs ``python -m hwsim`` in a subprocess with a timeout (for cases that
used to hang) instead of :func:`hwsim.cli.main` in this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.bad_inputs import generators
from tests.bad_inputs.bases import base_dict, base_text

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CASE_FIELDS = {"id", "argv", "files", "error", "error_start", "stdout", "needs", "process", "why"}


def load_cases() -> list:
    params = []
    for path in sorted((HERE / "cases").glob("*.yaml")):
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in cases:
            assert set(case) <= CASE_FIELDS and {"id", "argv"} <= set(case), (path.name, case)
            assert ("error" in case) != ("error_start" in case), (path.name, case)
            marks = [pytest.mark.torch] if case.get("needs") == "torch" else []
            params.append(pytest.param(case, id=f"{path.stem}/{case['id']}", marks=marks))
    return params


CASES = load_cases()


def _pointer(doc, pointer: str):
    """The container holding a JSON pointer's last part, and that part."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc, parts[-1]


def _patched(spec: dict) -> str:
    doc = base_dict(spec["base"])
    for pointer in spec.get("remove", []):
        parent, key = _pointer(doc, pointer)
        del parent[int(key) if isinstance(parent, list) else key]
    for pointer, values in spec.get("extend", {}).items():
        parent, key = _pointer(doc, pointer)
        parent[key].extend(values)
    for pointer, value in spec.get("set", {}).items():
        parent, key = _pointer(doc, pointer)
        if isinstance(parent, list) and key == "-":
            parent.append(value)
        else:
            parent[int(key) if isinstance(parent, list) else key] = value
    return json.dumps(doc, indent=1)


def _replaced(spec: dict) -> str:
    text = base_text(spec["base"])
    for old, new in spec.get("replace", []):
        assert old in text, f"{old!r} is not in {spec['base']}"
        text = text.replace(old, new, 1)
    return text + spec.get("append", "")


def make_file(path: Path, spec) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.get("fifo"):
        os.mkfifo(path)
    elif spec.get("directory"):
        path.mkdir()
    elif "symlink" in spec:
        path.symlink_to(spec["symlink"])
    elif "hex" in spec:
        path.write_bytes(bytes.fromhex(spec["hex"]))
    elif "source" in spec:
        path.write_bytes((ROOT / spec["source"]).read_bytes())
    else:
        if "text" in spec:
            content = spec["text"]
        elif "generate" in spec:
            content = generators.GENERATORS[spec["generate"]](**{k: v for k, v in spec.items() if k != "generate"})
        elif spec["base"].endswith(".json"):
            content = _patched(spec)
        else:
            content = _replaced(spec)
        path.write_text(content, encoding="utf-8")


def snapshot(root: Path) -> dict:
    """Every entry under ``root``: type, mode, and content hash and mtime for files, target for links."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                found[key] = ("file", st.st_mode, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[key] = (stat.S_IFMT(st.st_mode), st.st_mode)
    return found


def _in_process(argv, stdout_mode, monkeypatch, capsys):
    from hwsim.cli import main

    full = open("/dev/full", "w") if stdout_mode == "full" else None  # noqa: SIM115
    try:
        with monkeypatch.context() as m:
            if stdout_mode is not None:
                m.setattr(sys, "stdout", full)  # a closed standard output is None in Python
            code = main(list(argv))
    finally:
        if full is not None:
            try:
                full.close()
            except OSError:
                pass
    out, err = capsys.readouterr()
    return code, out, err


def _in_subprocess(argv, stdout_mode, cwd: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.DEVNULL if stdout_mode is not None else subprocess.PIPE
    close = (lambda: os.close(1)) if stdout_mode == "closed" else None
    if stdout_mode == "full":
        out = open("/dev/full", "w")  # noqa: SIM115
    try:
        proc = subprocess.run([sys.executable, "-m", "hwsim", *argv], cwd=cwd, env=env, stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=60, preexec_fn=close)
    finally:
        if stdout_mode == "full":
            out.close()
    return proc.returncode, proc.stdout or "", proc.stderr


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    if case.get("needs") == "torch":
        pytest.importorskip("torch")
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "sentinel.txt").write_text("untouched\n")
    for name, spec in (case.get("files") or {}).items():
        make_file(work / name, spec)
    before = snapshot(tmp_path)
    monkeypatch.chdir(work)
    if case.get("process"):
        code, out, err = _in_subprocess(case["argv"], case.get("stdout"), work)
    else:
        code, out, err = _in_process(case["argv"], case.get("stdout"), monkeypatch, capsys)
    assert "Traceback" not in err
    if "error" in case:
        assert err == f"hwsim: error: {case['error']}\n"
    else:  # the tail is a third party's message (torch's), its wording not hwsim's to fix
        assert err.startswith(f"hwsim: error: {case['error_start']}") and err.count("\n") == 1, err
    assert (code, out) == (2, "")
    assert snapshot(tmp_path) == before


def test_the_corpus_is_large_and_every_case_is_named_once():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 120, len(ids)
    classes = {i.split("/")[0] for i in ids}
    assert classes == {p.stem for p in (HERE / "cases").glob("*.yaml")}
