"""moto's internals labkit relies on: one table, one install, and a check that moto still fits.

When a moto upgrade moves something, test_the_installed_moto_has_not_drifted fails and names
it, with the labkit module that depends on it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labkit
from labkit.local import moto_patches
from labkit.local.moto_patches import MORE, TABLE, Hook, Use

LABKIT = Path(labkit.__file__).parent
LOCAL = LABKIT / "local"
PATCHES = [hook for hook in TABLE if hook.use is not Use.READ]


# -- moto still fits -----------------------------------------------------------------------------

def test_the_installed_moto_has_not_drifted():
    problems = moto_patches.drift()
    assert problems == [], "\n".join(problems)


@pytest.fixture
def fake_moto(tmp_path, monkeypatch):
    """A moto-like package whose internals moved: ``fake_moto.models``."""
    package = tmp_path / "fake_moto"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent('''
        class Backend:
            def __init__(self):
                self.items = {}

            def put(self, name):
                pass

            def get(self, name, qualifier=None, extra=None):
                pass

            def history(self):
                pass


        class Model:
            def __init__(self):
                self.kept = 1
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("fake_moto.models", "fake_moto"):
        sys.modules.pop(name, None)


def test_drift_names_each_moved_internal_and_the_labkit_module_that_needs_it(fake_moto):
    hooks = [
        Hook("fake_moto.models", "Backend.put", Use.WRAP, "labkit.local.example_a",
             "why a", provider="wrap_put", params=("self", "name", "value")),
        Hook("fake_moto.models", "Backend.delete", Use.READ, "labkit.local.example_b",
             "why b"),
        Hook("fake_moto.gone", "backends", Use.READ, "labkit.local.example_c", "why c"),
        Hook("fake_moto.models", "Model", Use.READ, "labkit.local.example_d", "why d",
             fields=("kept", "lost")),
        Hook("fake_moto.models", "Backend.history", Use.ADD, "labkit.local.example_e", "why e",
             provider="history"),
        # These still fit: more parameters after the ones relied on, a field set in __init__.
        Hook("fake_moto.models", "Backend.get", Use.READ, "labkit.local.example_f", "why f",
             params=("self", "name", MORE)),
        Hook("fake_moto.models", "Backend", Use.READ, "labkit.local.example_g", "why g",
             fields=("items", "put")),
    ]
    problems = moto_patches.drift(hooks)
    assert len(problems) == 5, problems
    signature, gone, module_gone, field, added = problems
    assert signature.startswith("fake_moto.models.Backend.put now takes (self, name), "
                                "not (self, name, value)")
    assert "labkit.local.example_a wraps it (why a)" in signature
    assert gone.startswith("fake_moto.models.Backend.delete is gone")
    assert "labkit.local.example_b reads it" in gone
    assert "module fake_moto.gone is gone" in module_gone and "example_c" in module_gone
    assert field.startswith("fake_moto.models.Model no longer has lost:")
    assert "example_d" in field and "kept" not in field
    assert added.startswith("fake_moto.models.Backend.history is now moto's own")
    assert "labkit.local.example_e.history can go" in added


def test_a_table_row_pointing_at_a_moved_moto_attribute_is_named():
    [invoke] = [hook for hook in TABLE if hook.attribute == "LambdaFunction.invoke"]
    moved = dataclasses.replace(invoke, attribute="LambdaFunction.invoke_function")
    [problem] = moto_patches.drift([moved])
    assert problem.startswith("moto.awslambda.models.LambdaFunction.invoke_function is gone")
    assert "labkit.local.awslambda.runtime wraps it" in problem


def test_install_refuses_a_moto_that_moved_and_changes_nothing(monkeypatch):
    from moto.kms.models import KmsBackend

    encrypt = KmsBackend.encrypt
    monkeypatch.delattr(KmsBackend, "enable_key")
    with pytest.raises(RuntimeError, match="pin moto") as refused:
        moto_patches.install(only={"labkit.local.kms.fidelity"})
    assert "moto.kms.models.KmsBackend.enable_key is gone" in str(refused.value)
    assert "labkit.local.kms.fidelity" in str(refused.value)
    assert KmsBackend.encrypt is encrypt  # nothing was patched


def test_install_knows_only_the_labkit_modules_in_the_table():
    with pytest.raises(ValueError, match="labkit.local.nothing"):
        moto_patches.install(only={"labkit.local.nothing"})


# -- installing ----------------------------------------------------------------------------------

def current(hook: Hook):
    owner, name = moto_patches._owner_and_name(hook)
    return owner.__dict__.get(name, "absent")


def test_install_twice_wraps_nothing_twice_and_uninstall_gives_moto_back():
    installed_before = {hook.labkit for hook in TABLE if moto_patches.is_installed(hook)}
    moto_patches.uninstall()
    before = {hook.target: current(hook) for hook in PATCHES}
    try:
        moto_patches.install()
        first = {hook.target: current(hook) for hook in PATCHES}
        assert all(moto_patches.is_installed(hook) for hook in PATCHES)
        assert all(first[target] is not before[target] for target in first)
        moto_patches.install()
        assert all(current(hook) is first[hook.target] for hook in PATCHES)
        # What each wrapper wraps is moto's own, never labkit's first wrapper.
        for hook in PATCHES:
            if hook.use is Use.WRAP:
                assert moto_patches.original(hook) is before[hook.target], hook.target
    finally:
        moto_patches.uninstall()
    assert all(current(hook) is before[hook.target] for hook in PATCHES)
    if installed_before:
        moto_patches.install(only=installed_before)


def test_the_local_cloud_s_services_start_with_the_patches(tmp_path):
    from labkit.local.awslambda import runtime
    from labkit.local.cloudwatch import alarms

    installed_before = {hook.labkit for hook in TABLE if moto_patches.is_installed(hook)}
    services = moto_patches.install("http://127.0.0.1:1", "", tmp_path)
    try:
        assert services.runtime is runtime.installed() is not None
        assert services.alarms is alarms.installed() is not None and services.alarms.running
    finally:
        services.shutdown()
        moto_patches.uninstall()
        if installed_before:
            moto_patches.install(only=installed_before)
    assert runtime.installed() is None and alarms.installed() is None


# -- the table itself ----------------------------------------------------------------------------

def named_parameters(function) -> tuple[tuple[str, ...], bool]:
    """A function's named parameters, and whether it takes any more (``*args``)."""
    parameters = inspect.signature(function, follow_wrapped=False).parameters.values()
    named = tuple(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return named, any(p.kind is p.VAR_POSITIONAL for p in parameters)


@pytest.mark.parametrize("hook", PATCHES, ids=lambda hook: hook.target)
def test_labkit_s_replacement_takes_what_moto_s_callers_pass(hook):
    made = moto_patches.labkit_function(hook)
    if isinstance(made, property):  # stands in for a property of moto's, read the same way
        assert isinstance(moto_patches.original(hook), property)
        return
    assert callable(made)
    if hook.params is None:
        return
    replacement = made(moto_patches.original(hook)) if hook.use is Use.WRAP else made
    if hook.use is Use.REPLACE:
        replacement = inspect.unwrap(replacement)  # a cache around labkit's own function
    named, takes_more = named_parameters(replacement)
    expected = tuple(name for name in hook.params if name != MORE)
    assert named == expected or (takes_more and expected[:len(named)] == named), named


@pytest.mark.parametrize("hook", TABLE, ids=lambda hook: f"{hook.labkit}:{hook.target}")
def test_each_row_is_used_by_the_labkit_module_it_names(hook):
    """The table names no more than labkit uses: a row whose user no longer mentions it goes."""
    source = Path(sys.modules[hook.labkit].__file__ if hook.labkit in sys.modules else
                  LABKIT.parent / (hook.labkit.replace(".", "/") + ".py")).read_text()
    if hook.use is Use.READ:
        assert hook.provider == ""
        names = hook.fields or (hook.attribute.split(".")[-1],)
        missing = [name for name in names if not re.search(rf"\b{re.escape(name)}\b", source)]
        assert missing == [], f"{hook.labkit} does not use {missing} of {hook.target}"
    else:
        assert re.search(rf"^def {re.escape(hook.provider)}\(|^{re.escape(hook.provider)} = ",
                         source, re.MULTILINE) or f"def {hook.provider}(" in source


def test_there_is_one_row_per_moto_attribute_and_labkit_module():
    keys = [(hook.target, hook.labkit) for hook in TABLE]
    assert len(keys) == len(set(keys))
    patched = [hook.target for hook in PATCHES]
    assert len(patched) == len(set(patched))


# -- the table is complete: nothing else in labkit patches moto ----------------------------------

def python_files() -> list[Path]:
    return sorted(path for path in LABKIT.rglob("*.py") if path != LOCAL / "moto_patches.py")


def imported_names(tree: ast.AST, packages: tuple[str, ...]) -> set[str]:
    """The names a module binds to *packages* or to anything imported from them."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names
                         if alias.name.split(".")[0] in packages)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                (node.module or "").split(".")[0] in packages:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def assignments_into(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines that set or delete an attribute of one of *names* (a module or class)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("setattr", "delattr") and node.args and \
                root_name(node.args[0]) in names:
            lines.append(node.lineno)
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        lines += [target.lineno for target in targets
                  if isinstance(target, ast.Attribute) and root_name(target) in names]
    return lines


def test_no_labkit_module_but_moto_patches_assigns_into_moto_or_botocore():
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line in assignments_into(tree, imported_names(tree, ("moto", "botocore"))):
            found.append(f"{path.relative_to(LABKIT.parent)}:{line}")
    assert found == [], "patch moto through labkit/local/moto_patches.py's TABLE instead"


def test_the_scan_sees_the_ways_a_module_can_patch_moto():
    tree = ast.parse(textwrap.dedent('''
        import botocore.session
        from moto.sns.models import Subscription
        from moto.iam import models as iam_models

        def install():
            from moto.kms import models
            models.generate_private_key = None
            setattr(Subscription, "publish", None)
            iam_models.get_account_id_from = None
            botocore.session.create_loader = None

        def harmless(alarm, self):
            alarm.state_value = "OK"
            setattr(self, "_labkit_dead_letter_arn", None)
    '''))
    assert sorted(assignments_into(tree, imported_names(tree, ("moto", "botocore")))) == [
        8, 9, 10, 11]


_FIND_LABKIT_FUNCTIONS = textwrap.dedent('''
    import importlib, json, pkgutil, sys, types
    import labkit.local
    from labkit.local import moto_patches

    for module in pkgutil.walk_packages(labkit.local.__path__, "labkit.local."):
        importlib.import_module(module.name)
    moto_patches.install()
    labkit_dir = sys.argv[1]

    def labkit_made(value):
        try:
            for candidate in (value, getattr(value, "__wrapped__", None),
                              getattr(value, "fget", None)):  # a property's getter
                code = getattr(candidate, "__code__", None)
                if code is not None and code.co_filename.startswith(labkit_dir):
                    return True
        except Exception:  # a lazy object that cannot load here is not labkit's
            pass
        return False

    found = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith(("moto", "botocore")) or not isinstance(module, types.ModuleType):
            continue
        for attribute, value in list(vars(module).items()):
            if labkit_made(value):
                found.add(f"{name}.{attribute}")
            if isinstance(value, type) and value.__module__ == name:
                found.update(f"{name}.{value.__qualname__}.{member}"
                             for member, inner in list(vars(value).items())
                             if labkit_made(inner))
    print(json.dumps(sorted(found)))
''')


def test_what_labkit_put_into_moto_is_exactly_what_the_table_installs():
    """In a fresh process: import every labkit.local module, install, and look through every
    loaded moto and botocore module and class for labkit's functions."""
    done = subprocess.run([sys.executable, "-c", _FIND_LABKIT_FUNCTIONS, str(LABKIT)],
                          capture_output=True, text=True, check=True)
    assert set(json.loads(done.stdout)) == {hook.target for hook in PATCHES}


def defined_private_names() -> set[str]:
    """The private names labkit defines itself: functions, classes, module and class variables,
    and attributes it sets on ``self``."""
    names: set[str] = set()
    for path in python_files() + [LOCAL / "moto_patches.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
    return {name for name in names if name.startswith("_")}


def other_imports(tree: ast.AST) -> set[str]:
    """The names a module binds to imports of anything but moto, botocore and labkit."""
    every = {(alias.asname or alias.name).split(".")[0] for node in ast.walk(tree)
             if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    return every - imported_names(tree, ("moto", "botocore", "labkit")) - {
        alias.asname or alias.name for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0 for alias in node.names}


def test_every_private_moto_name_labkit_reads_is_in_the_table():
    in_table = {part for hook in TABLE for part in hook.attribute.split(".") + list(hook.fields)}
    own = defined_private_names()
    read: dict[str, str] = {}
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not imported_names(tree, ("moto", "botocore")):
            continue
        others = other_imports(tree)  # os._exit is no business of moto's
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and root_name(node) in others:
                continue
            names = [node.attr] if isinstance(node, ast.Attribute) else \
                [alias.name for alias in node.names] if isinstance(node, ast.ImportFrom) and \
                (node.module or "").startswith(("moto", "botocore")) else []
            for name in names:
                if re.fullmatch(r"_[a-z]\w*", name) and name not in own:
                    read.setdefault(name, f"{path.relative_to(LABKIT.parent)}:{node.lineno}")
    missing = {name: where for name, where in read.items() if name not in in_table}
    assert missing == {}, "add these to labkit/local/moto_patches.py's TABLE"
