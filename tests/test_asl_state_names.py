"""Every state name is written out, whole, where its state is added: a name read in an execution history
(``WaitForFileSystem``, ``CountRunnablePoll``) is found by a plain text search of asl/."""

import ast

import pytest
from conftest import ROOT, sample_refs

from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.run_cleanup import build_run_cleanup
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import MODES

ASL = ROOT / "asl"


def definitions() -> dict[str, dict]:
    """Both modes' workflow definitions and their run-cleanup state machines' definitions."""
    out = {}
    for mode in MODES:
        refs = sample_refs(mode)
        out[mode] = build_definition(refs)
        out[f"{mode} run-cleanup"] = build_run_cleanup(
            refs,
            find_run_resources_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{mode}-find",
            extract_parameters_function_arn=refs.extract_parameters_function_arn,
        )
    return out


def asl_sources() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(ASL.glob("*.py"))}


def _callee(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def _argument(call: ast.Call, index: int, keyword: str, default: ast.expr | None) -> ast.expr | None:
    if index < len(call.args):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), default)


def state_name_sites(sources: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Where each state name is written as the name of a state (name -> ``file:line``), and where a state's name
    is built by code instead (``file:line``).

    A state is named by the first argument of ``<graph>.add(name, state)``: a string literal, a module constant
    holding one, or a parameter of the enclosing function (``record_failure``, ``add_export_task``) whose every
    call passes a literal or such a constant (or leaves the parameter's literal default).
    """
    trees = {file: ast.parse(text) for file, text in sources.items()}
    constants = {
        node.targets[0].id: node.value.value
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    sites: dict[str, str] = {}
    built: list[str] = []

    def literal(expr: ast.expr | None) -> str | None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name):
            return constants.get(expr.id)
        return None

    def name_at(expr: ast.expr | None, where: str) -> None:
        value = literal(expr)
        if value is None:
            built.append(where)
        else:
            sites.setdefault(value, where)

    # Functions passing a parameter on as a state's name: function name -> [(position, parameter, default)].
    forwarders: dict[str, list[tuple[int, str, ast.expr | None]]] = {}
    for file, tree in trees.items():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            positional = [a.arg for a in function.args.args]
            defaults = dict(
                zip(positional[len(positional) - len(function.args.defaults) :], function.args.defaults, strict=True)
            )
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and _callee(call) == "add" and len(call.args) == 2):
                    continue
                first = call.args[0]
                if isinstance(first, ast.Name) and first.id in positional and first.id not in constants:
                    forwarded = (positional.index(first.id), first.id, defaults.get(first.id))
                    forwarders.setdefault(function.name, []).append(forwarded)
                else:
                    name_at(first, f"{file}:{call.lineno}")
    for file, tree in trees.items():
        for call in ast.walk(tree):
            if isinstance(call, ast.Call):
                for index, parameter, default in forwarders.get(_callee(call), []):
                    name_at(_argument(call, index, parameter, default), f"{file}:{call.lineno}")
    return sites, built


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return asl_sources()


def test_no_state_name_is_built_by_code(sources):
    _, built = state_name_sites(sources)
    assert not built, f"state names built by code (write each name out whole): {', '.join(built)}"


@pytest.mark.parametrize("which", list(definitions()))
def test_every_state_name_is_a_literal_where_its_state_is_added(sources, which):
    sites, _ = state_name_sites(sources)
    names = all_states(definitions()[which])
    assert len(names) > 50
    not_added = sorted(name for name in names if name not in sites)
    assert not not_added, f"{which}: states added under no literal name: {not_added}"
    not_found = sorted(name for name in names if not any(f'"{name}"' in text for text in sources.values()))
    assert not not_found, f"{which}: a text search of asl/ finds no quoted {not_found}"


def test_a_name_built_by_code_is_reported_and_a_literal_one_is_found():
    sources = {
        "loops.py": """
DONE = "LoopDone"


def record(g, name, next_state="Next"):
    g.add(name, {})


def add_loop(g, loop, kind):
    g.add(f"Count{loop}Poll", {})
    g.add("Wait" + loop, {})
    g.add(kind, {})
    g.add(DONE, {})
    g.add("StartLoop", {})
    record(g, "LoopFailed")
    record(g, f"{loop}Failed")
""",
        "caller.py": 'add_loop(g, "Runnable", "Check")\n',
    }
    sites, built = state_name_sites(sources)
    assert sorted(built) == ["loops.py:10", "loops.py:11", "loops.py:16"]
    assert sites == {
        "LoopDone": "loops.py:13",
        "StartLoop": "loops.py:14",
        "LoopFailed": "loops.py:15",
        "Check": "caller.py:1",
    }
