"""Properties of ``ftctl validate`` over arbitrary data files: it never sends a request (a running
sandbox's request counter stays still, though the environment points at it with a key), and it never
prints a traceback, whatever the bytes."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reliability.sandbox import SandboxProcess

MANIFESTS = {
    "supervised": "name: bot\nmodel: gpt-4o-mini\ntraining_file: data/t.jsonl\n",
    "dpo": "name: bot\nmodel: gpt-4.1-mini\ntraining_file: data/t.jsonl\nmethod: {type: dpo}\n",
    "reinforcement": ("name: bot\nmodel: o4-mini\ntraining_file: data/t.jsonl\nmethod:\n  type: reinforcement\n"
                      "  grader: {type: string_check, name: s, input: '{{sample.output_text}}',\n"
                      "           reference: '{{item.meta.label}}', operation: eq}\n"),
}
LINE = st.one_of(
    st.binary(max_size=200),
    st.just(b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'),
    st.just(b'{"messages": [{"role": "user", "content": "q"}], "meta": {"label": "x"}}'),
    st.builds(lambda s: s.encode("utf-8", "surrogatepass"), st.text(max_size=80)),
)


def _validate(root: Path, env: dict[str, str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    old_env, old_cwd = dict(os.environ), Path.cwd()
    os.environ.update(env)
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
            sys.argv = ["ftctl", "validate", "m.yaml"]
            main()
            sys.exit(0)
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return int(done.value.code or 0), out.getvalue() + err.getvalue()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(sorted(MANIFESTS)), lines=st.lists(LINE, max_size=15))
def test_validate_sends_nothing_and_never_prints_a_traceback(tmp_path: Path, sandbox: SandboxProcess, method: str,
                                                             lines: list[bytes]) -> None:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "m.yaml").write_text(MANIFESTS[method])
    (tmp_path / "data" / "t.jsonl").write_bytes(b"\n".join(lines))
    before = sandbox.stats()
    code, output = _validate(tmp_path, {"OPENAI_BASE_URL": sandbox.url, "OPENAI_API_KEY": "sk-test-0000",
                                        "NO_COLOR": "1"})
    assert code in (0, 1), output
    assert "Traceback" not in output and "internal error" not in output, output
    assert sandbox.stats() == before
