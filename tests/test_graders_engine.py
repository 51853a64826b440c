"""The grader engine (reconciler.evals): each grader type against cases worked out by hand
(tests/cases/graders/engine/*.yaml, with the working beside each expectation), the text metrics
against their libraries' documented examples, python graders at their limits, model graders
against a fake of the target's models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from reconciler.evals import engine, similarity
from reconciler.evals.engine import NoModels, PythonLimits, grade, grade_batch
from reconciler.evals.model import Sample, Score
from reconciler.evals.python_grader import grade_python, grade_python_batch
from reconciler.evals.templates import TemplateError, render
from reconciler.manifests.graders import AnyGrader

CASES = Path(__file__).parent / "cases" / "graders" / "engine"
GRADER: TypeAdapter[AnyGrader] = TypeAdapter(AnyGrader)
LIMITS = PythonLimits(time=2.0, memory=256 * 1024**2)
"""Small limits, so that the tests that reach them are quick."""


def _cases(name: str) -> list[Any]:
    cases = yaml.safe_load((CASES / name).read_text())
    return [pytest.param(case, id=case["name"]) for case in cases]


class FakeModels:
    """The ``Models`` port: chat answers and embeddings given by the test; every call recorded."""

    def __init__(self, answer: str = "", fails: str | None = None,
                 embeddings: Mapping[str, list[float]] | None = None) -> None:
        self.answer, self.fails, self.embeddings = answer, fails, dict(embeddings or {})
        self.chats: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []
        self.embeds: list[tuple[str, list[str]]] = []

    def chat(self, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> str:
        self.chats.append((model, messages, dict(params)))
        if self.fails is not None:
            raise RuntimeError(self.fails)
        return self.answer

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        self.embeds.append((model, texts))
        return [self.embeddings[text] for text in texts]


def _grade(grader: dict[str, Any], item: dict[str, Any], output_text: str, models: FakeModels | None = None,
           manifest_dir: Path = Path(".")) -> Score:
    return grade(GRADER.validate_python(grader), item, Sample.of(output_text), models, manifest_dir=manifest_dir,
                 python_limits=LIMITS)


def _expect(score: Score, expect: dict[str, Any]) -> None:
    assert score.error == expect.get("error")
    assert score.value == pytest.approx(expect["value"], abs=5e-5)
    for name, value in (expect.get("parts") or {}).items():
        assert score.parts[name].value == pytest.approx(value, abs=5e-5), name


@pytest.mark.parametrize("case", _cases("string_check.yaml"))
def test_string_check(case: dict[str, Any]) -> None:
    _expect(_grade(case["grader"], case["item"], case["output_text"]), case["expect"])


@pytest.mark.parametrize("case", _cases("templates.yaml"))
def test_templates(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if "text" in expect:
        assert render(case["template"], case["item"], Sample.of(case["output_text"])) == expect["text"]
    else:
        with pytest.raises(TemplateError) as caught:
            render(case["template"], case["item"], Sample.of(case["output_text"]))
        assert str(caught.value) == expect["error"]


@pytest.mark.parametrize("case", _cases("text_similarity.yaml"))
def test_text_similarity(case: dict[str, Any]) -> None:
    grader = {"type": "text_similarity", "name": "t", "input": "{{sample.output_text}}", "reference": "{{item.ref}}",
              "evaluation_metric": case["metric"]}
    models = FakeModels(embeddings=case.get("embeddings"))
    _expect(_grade(grader, {"ref": case["ref"]}, case["output_text"], models), case["expect"])
    if case["metric"] == "cosine":
        assert models.embeds == [(similarity.EMBEDDING_MODEL, [case["output_text"], case["ref"]])]


@pytest.mark.parametrize("case", _cases("model_graders.yaml"))
def test_model_graders(case: dict[str, Any]) -> None:
    models = FakeModels(case.get("answer", ""), case.get("fails"))
    _expect(_grade(case["grader"], case["item"], case["output_text"], models), case["expect"])


@pytest.mark.parametrize("case", _cases("multi.yaml"))
def test_multi(case: dict[str, Any]) -> None:
    _expect(_grade(case["grader"], case["item"], case["output_text"]), case["expect"])


def test_the_text_metrics_need_no_nltk_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """METEOR without WordNet, BLEU/GLEU without punkt: nothing is looked up, let alone downloaded."""
    import nltk.data
    import nltk.downloader

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"NLTK data asked for: {args}")

    monkeypatch.setattr(nltk.data, "find", refuse)
    monkeypatch.setattr(nltk.data, "load", refuse)
    monkeypatch.setattr(nltk.downloader.Downloader, "download", refuse)
    for name, metric in similarity.METRICS.items():
        assert 0 <= metric("the cats sat on the big mat", "a cat sat on the mat") < 1, name
    assert similarity.meteor("the cats sat", "a cat sat") > 0  # the stem stage ran


def test_a_score_model_request_is_the_guides_format() -> None:
    grader = {"type": "score_model", "name": "judge", "model": "o4-mini", "range": [0, 5],
              "sampling_params": {"max_completions_tokens": 300, "reasoning_effort": "low", "seed": 7},
              "input": [
                  {"role": "developer", "content": "Grade from 0 to 5."},
                  {"role": "user", "content": [
                      {"type": "input_text", "text": "Answer: {{sample.output_text}}"},
                      {"type": "input_image", "image_url": "{{item.image}}", "detail": "low"},
                      {"type": "input_audio", "input_audio": {"data": "{{item.audio}}", "format": "wav"}}]}]}
    models = FakeModels('{"steps": [], "result": 4}')
    score = _grade(grader, {"image": "https://example.com/a.png", "audio": "UklGRg=="}, "a cat", models)
    assert score == Score(4.0)
    [(model, messages, params)] = models.chats
    assert model == "o4-mini"
    assert messages == [
        {"role": "developer", "content": "Grade from 0 to 5."},
        {"role": "user", "content": [
            {"type": "text", "text": "Answer: a cat"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]
    step = {"type": "object", "additionalProperties": False, "required": ["description", "conclusion"],
            "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}}}
    assert params == {  # no temperature: the grader did not set one (a reasoning model refuses it)
        "max_completion_tokens": 300, "reasoning_effort": "low", "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "score_model_result", "strict": True, "schema": {
                "type": "object", "additionalProperties": False, "required": ["steps", "result"],
                "properties": {"steps": {"type": "array", "items": step}, "result": {"type": "number"}}}}}}


def test_a_label_model_request_offers_the_labels() -> None:
    grader = {"type": "label_model", "name": "tone", "model": "gpt-4.1-mini", "labels": ["good", "bad"],
              "passing_labels": ["good"], "input": [{"role": "user", "content": "{{sample.output_text}}"}]}
    models = FakeModels('{"steps": [], "result": "good"}')
    assert _grade(grader, {}, "fine", models) == Score(1.0)
    [(_, messages, params)] = models.chats
    assert messages == [{"role": "user", "content": "fine"}]
    assert params["response_format"]["json_schema"]["schema"]["properties"]["result"] == {
        "type": "string", "enum": ["good", "bad"]}


def test_a_model_grader_without_models_is_the_callers_mistake() -> None:
    grader = GRADER.validate_python({
        "type": "multi", "name": "m", "calculate_output": "a",
        "graders": {"a": {"type": "text_similarity", "name": "close", "input": "x", "reference": "y",
                          "evaluation_metric": "cosine"}}})
    assert engine.needs_models(grader) == "text_similarity grader 'close' (cosine)"
    with pytest.raises(NoModels, match=r"the text_similarity grader 'close' \(cosine\) needs the target's models"):
        grade(grader, {}, Sample.of("x"), None, manifest_dir=Path("."))


# Python graders: a separate process, with limits, without the parent's environment.

def _python(code: str, item: dict[str, Any] | None = None, text: str = "answer") -> Score:
    return grade_python(code, item or {}, Sample.of(text), time_limit=LIMITS.time, memory_limit=LIMITS.memory)


def test_python_grader_reads_sample_and_item() -> None:
    code = ("def grade(sample, item):\n"
            "    assert sample['choices'][0]['message']['content'] == sample['output_text']\n"
            "    return float(sample['output_json']['n'] == item['n']) + len(sample['output_tools'])\n")
    assert _python(code, {"n": 3}, '{"n": 3}') == Score(1.0)


def test_python_grader_that_loops_forever_hits_the_time_limit() -> None:
    assert _python("def grade(sample, item):\n    while True:\n        pass\n") == Score(0.0, "took longer than 2 s")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"  # a zombie is gone, only not yet reaped
    except OSError:
        return False


def _in(folder: str) -> list[int]:
    """The processes whose working directory is a folder named ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")).name.split()[0] == folder:
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the session is watched through /proc")
def test_python_grader_that_forks_without_bound_is_stopped_and_leaves_no_process() -> None:
    folder = f"forks-{uuid.uuid4().hex}"  # each fork waits in it: found through /proc/PID/cwd
    code = ("import os, time\n"
            "def grade(sample, item):\n"
            "    os.mkdir(item['folder'])\n"
            "    for n in range(200):\n"
            "        if os.fork() == 0:\n"
            "            os.chdir(item['folder'])\n"
            "            time.sleep(60)\n"
            "            os._exit(0)\n"
            "    time.sleep(60)\n"
            "    return 1.0\n")
    score = _python(code, {"folder": folder})
    assert score.value == 0.0 and score.error is not None
    # root is not held to RLIMIT_NPROC: the parent's watch stops it; another user's fork fails at the cap
    assert "started more than 32 processes" in score.error or "Resource temporarily unavailable" in score.error
    assert not [pid for pid in _in(folder) if _alive(pid)]  # the whole session was killed


@pytest.mark.parametrize("write", [
    "open(item['outside'], 'w')", "open(item['outside'], 'a')", "os.open(item['outside'], os.O_WRONLY | os.O_CREAT)",
    "os.remove(item['kept'])", "os.rename(item['kept'], 'mine')", "os.mkdir(item['outside'])",
    "os.chmod(item['kept'], 0o777)", "open('../' * 30 + item['outside'].lstrip('/'), 'w')",
    "(os.symlink(os.path.dirname(item['kept']), 'out'), open('out/new', 'w'))",
    "sqlite3.connect(item['outside'])", "shutil.rmtree(os.path.dirname(item['kept']))",
])
def test_python_grader_may_not_write_outside_its_working_directory(tmp_path: Path, write: str) -> None:
    kept = tmp_path / "project" / "m.yaml"
    kept.parent.mkdir()
    kept.write_text("name: kept\n")
    code = ("import os, shutil, sqlite3\n"
            "def grade(sample, item):\n"
            f"    {write}\n"
            "    return 1.0\n")
    score = _python(code, {"outside": str(tmp_path / "new"), "kept": str(kept)})
    assert score.value == 0.0 and score.error is not None
    assert score.error.startswith("PermissionError: a grader may write only in its working directory, not "), score
    assert [p.name for p in tmp_path.iterdir()] == ["project"] and kept.read_text() == "name: kept\n"
    assert oct(kept.stat().st_mode & 0o777) != "0o777"


def test_python_grader_writes_and_reads_in_its_working_directory_and_its_temporary_files() -> None:
    code = ("import os, tempfile\n"
            "def grade(sample, item):\n"
            "    os.mkdir('d')\n"
            "    with open('d/a.txt', 'w') as f:\n"
            "        f.write('0.5')\n"
            "    os.rename('d/a.txt', 'b.txt')\n"
            "    with tempfile.NamedTemporaryFile('w+') as t:\n"
            "        t.write(open('b.txt').read())\n"
            "        t.seek(0)\n"
            "        return float(t.read()) + (os.path.dirname(t.name) == os.getcwd())\n")
    assert _python(code) == Score(1.5)


@pytest.mark.parametrize(("start", "event"), [
    ("subprocess.run(['touch', 'x'])", "subprocess.Popen"), ("os.system('true')", "os.system"),
    ("os.execv('/bin/true', ['true'])", "os.exec"), ("os.posix_spawn('/bin/true', ['true'], {})", "os.posix_spawn"),
])
def test_python_grader_may_not_start_another_program(start: str, event: str) -> None:
    score = _python(f"import os, subprocess\ndef grade(sample, item):\n    {start}\n    return 1.0\n")
    assert score == Score(0.0, f"PermissionError: a grader may not start another program ({event}): it would not "
                               "be held to its working directory")


def test_python_grader_that_allocates_without_bound_hits_the_memory_limit() -> None:
    code = "def grade(sample, item):\n    hoard = []\n    while True:\n        hoard.append(bytearray(10**7))\n"
    assert _python(code) == Score(0.0, "ran out of memory (limit 256 MiB)")


def test_python_grader_finds_no_key_in_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    code = ("import os\n"
            "def grade(sample, item):\n"
            "    raise ValueError(' '.join(sorted(os.environ)))\n")
    assert _python(code) == Score(0.0, "ValueError: LANG PATH")
    assert os.environ["OPENAI_API_KEY"] == "sk-test-secret"  # the parent's own environment is untouched


@pytest.mark.parametrize(("returns", "error"), [
    ("'1.0'", "grade returned str, not a number"),
    ("True", "grade returned bool, not a number"),
    ("None", "grade returned NoneType, not a number"),
    ("float('nan')", "grade returned nan, not a finite number"),
    ("float('inf')", "grade returned inf, not a finite number"),
])
def test_python_grader_that_returns_no_number_is_an_error(returns: str, error: str) -> None:
    assert _python(f"def grade(sample, item):\n    return {returns}\n") == Score(0.0, error)


def test_python_grader_that_raises_reports_the_last_line_of_its_traceback() -> None:
    code = "def grade(sample, item):\n    return helper(item)\n\ndef helper(item):\n    return item['missing']\n"
    assert _python(code) == Score(0.0, "KeyError: 'missing'")


@pytest.mark.parametrize(("code", "error"), [
    ("def grade(sample, item)\n    return 1\n", "SyntaxError: expected ':' (line 1)"),
    ("x = 1\n", "the code defines no function grade(sample, item)"),
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here'"),
])
def test_python_grader_that_cannot_load_is_an_error_for_every_answer(code: str, error: str) -> None:
    scores = grade_python_batch(code, [({}, Sample.of("a")), ({}, Sample.of("b"))], time_limit=2)
    assert scores == [Score(0.0, error)] * 2


def test_python_grader_batch_is_one_process_and_each_answer_is_guarded() -> None:
    code = ("import os\n"
            "def grade(sample, item):\n"
            "    if item['mode'] == 'loop':\n"
            "        while True:\n"
            "            pass\n"
            "    if item['mode'] == 'print':\n"
            "        print('noise on stdout')\n"
            "    return os.getpid()\n")
    modes = ["pid", "print", "loop", "pid"]
    scores = grade_python_batch(code, [({"mode": m}, Sample.of("x")) for m in modes], time_limit=2)
    assert [s.error for s in scores] == [None, None, "took longer than 2 s", None]
    assert len({scores[0].value, scores[1].value, scores[3].value}) == 1  # one child for the whole batch


def test_python_grader_batch_goes_on_after_the_child_dies() -> None:
    code = "import os\ndef grade(sample, item):\n    if item['die']:\n        os._exit(3)\n    return 1\n"
    pairs = [({"die": d}, Sample.of("x")) for d in (False, True, False)]
    assert grade_python_batch(code, pairs, time_limit=2) == [
        Score(1.0), Score(0.0, "the grader's process exited with code 3"), Score(1.0)]


def test_python_grader_source_file_is_read_beside_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "graders").mkdir()
    (tmp_path / "graders" / "exact.py").write_text("def grade(sample, item):\n    return 0.25\n")
    grader = {"type": "python", "name": "p", "source_file": "graders/exact.py"}
    assert _grade(grader, {}, "x", manifest_dir=tmp_path) == Score(0.25)
    missing = _grade({**grader, "source_file": "graders/none.py"}, {}, "x", manifest_dir=tmp_path)
    assert missing.value == 0.0 and missing.error is not None
    assert missing.error.startswith("cannot read graders/none.py: ")


def test_grade_batch_runs_a_multi_graders_python_grader_once_for_all_answers() -> None:
    grader = GRADER.validate_python({
        "type": "multi", "name": "m", "calculate_output": "pid * 0 + exact",
        "graders": {"pid": {"type": "python", "name": "pid",
                            "source": "import os\ndef grade(s, i):\n    return os.getpid()\n"},
                    "exact": {"type": "string_check", "name": "e", "input": "{{sample.output_text}}",
                              "reference": "{{item.ref}}", "operation": "eq"}}})
    pairs = [({"ref": "a"}, Sample.of("a")), ({"ref": "a"}, Sample.of("b"))]
    scores = grade_batch(grader, pairs, None, manifest_dir=Path("."), python_limits=LIMITS)
    assert [s.value for s in scores] == [1.0, 0.0]
    assert scores[0].parts["pid"].value == scores[1].parts["pid"].value


def test_the_guides_own_python_grader_runs_with_the_installed_packages() -> None:
    """The graders guide's example imports rapidfuzz: a grader sees the packages ftctl runs with."""
    code = ("from rapidfuzz import fuzz, utils\n\n"
            "def grade(sample, item) -> float:\n"
            "    output_text = sample['output_text']\n"
            "    reference_answer = item['reference_answer']\n"
            "    return fuzz.WRatio(output_text, reference_answer, processor=utils.default_process) / 100.0\n")
    score = _python(code, {"reference_answer": "fuzzy wuzzy had no hair"}, "fuzzy wuzzy was a bear")
    assert score == Score(similarity.fuzzy_match("fuzzy wuzzy was a bear", "fuzzy wuzzy had no hair"))
    assert 0 < score.value < 1


def test_python_grader_output_cannot_pass_for_an_answer() -> None:
    code = ("import os\n"
            "def grade(sample, item):\n"
            "    os.write(1, b'{\"value\": 1.0}\\n')\n"
            "    child = os.fork()\n"
            "    if child == 0:\n"
            "        os.write(1, b'{}\\n')\n"
            "        os._exit(0)\n"
            "    os.waitpid(child, 0)\n"
            "    print('{\"value\": 1.0}')\n"
            "    return 0.5\n")
    assert grade_python_batch(code, [({}, Sample.of("a")), ({}, Sample.of("b"))], time_limit=10) == [Score(0.5)] * 2


def test_python_graders_run_from_several_threads_at_once() -> None:
    """An evaluation grades with parallelism: each call has its own child and its own answers."""
    from concurrent.futures import ThreadPoolExecutor

    code = "def grade(sample, item):\n    return item['n'] * 2\n"
    with ThreadPoolExecutor(4) as pool:
        scores = list(pool.map(lambda n: _python(code, {"n": n}), range(8)))
    assert scores == [Score(2.0 * n) for n in range(8)]


def test_python_grader_cannot_read_the_key_from_ftctls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own environment holds no key, and the parent's (``/proc/PPID/environ``, which does) is refused,
    however it is named; its own /proc entries stay readable."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-in-the-parent")
    code = ("import os\n"
            "def grade(sample, item):\n"
            "    assert b'sk-canary' not in open('/proc/self/environ', 'rb').read()\n"
            "    open('/proc/self/status').read()\n"
            "    found = []\n"
            "    for path in item['paths']:\n"
            "        try:\n"
            "            found.append(str(open(path.format(ppid=os.getppid()), 'rb').read().count(b'sk-canary')))\n"
            "        except PermissionError as e:\n"
            "            found.append(str(e))\n"
            "    raise ValueError(' | '.join(found))\n")
    paths = ["/proc/{ppid}/environ", "/proc/{ppid}/task/{ppid}/environ", "/proc/{ppid}/mem",
             "/proc/self/../{ppid}/environ"]
    score = _python(code, {"paths": paths})
    refused = "a grader may not read another process's environment or memory"
    assert score == Score(0.0, "ValueError: " + " | ".join([refused] * 4))


def test_a_graders_error_quoting_a_key_or_its_start_is_redacted_before_it_is_shown_or_cached() -> None:
    from reconciler import logs

    logs.add_secret("sk-canary-engine-0123456789")
    code = "def grade(sample, item):\n    raise ValueError('the ticket quotes ' + item['ticket'])\n"
    assert _python(code, {"ticket": "sk-canary-engine-0123456789 and sk-canary-en..."}) == Score(
        0.0, "ValueError: the ticket quotes [REDACTED] and [REDACTED]...")


def test_a_copy_a_python_grader_forked_never_answers_for_it() -> None:
    """A fork that returns from grade() (or from the module) ends there: only the child's own answers
    are read, one per pair."""
    code = ("import os\n"
            "COPY = os.fork()  # a copy made while the module loads: it would grade every pair, as -1\n"
            "def grade(sample, item):\n"
            "    if COPY == 0:\n"
            "        return -1\n"
            "    child = os.fork()\n"
            "    if child == 0:\n"
            "        return 0.25\n"
            "    os.waitpid(child, 0)\n"
            "    return item['n']\n"
            "if COPY:\n"
            "    os.waitpid(COPY, 0)  # the copy has done whatever it does before this one answers\n")
    pairs = [({"n": n}, Sample.of("x")) for n in (1, 2, 3)]
    assert grade_python_batch(code, pairs, time_limit=10) == [Score(1.0), Score(2.0), Score(3.0)]


def test_python_grader_that_ignores_its_alarm_is_killed_by_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hostile run's grader that never returns, small: its alarm ignored, the parent kills it once
    the time limit and the grace are over, and the next answer gets a new process."""
    from reconciler.evals import python_grader

    monkeypatch.setattr(python_grader, "GRACE", 0.5)
    code = ("import os, signal\n"
            "def grade(sample, item):\n"
            "    if item['hang']:\n"
            "        signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "        while True:\n"
            "            pass\n"
            "    return 1.0\n")
    pairs = [({"hang": h}, Sample.of("x")) for h in (True, False)]
    assert grade_python_batch(code, pairs, time_limit=1) == [Score(0.0, "took longer than 1 s"), Score(1.0)]
