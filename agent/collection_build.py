"""Generate the Ansible collection's module_utils from ``agent/`` (never a hand copy).

``python -m agent.collection_build`` reads the root modules listed in
``ansible_collections/gda/bhyve/module_utils_roots.txt``, follows their ``agent.*`` imports (every
import statement, the lazy ones inside functions too) and writes that closure, with each parent
package's ``__init__.py``, under ``ansible_collections/gda/bhyve/plugins/module_utils/gda/``:

* ``from agent.x import y`` becomes ``from ansible_collections.gda.bhyve.plugins.module_utils.gda.x
  import y`` (the statements only: docstrings and comments keep naming ``agent``);
* the package files the core loads with ``importlib.resources.files("agent")`` (the shell scripts,
  ``agent/scripts/**/*.sh``) become one generated module, ``gda/_package_files.py`` (AnsiballZ ships
  only ``.py``); a module's ``from importlib import resources`` is pointed at it;
* every import outside ``agent`` must be the standard library: the module runs on the managed host's
  Python, which has neither pydantic nor paramiko. A third-party import stops the build and names the
  chain of imports that pulled it in.

``--out DIR`` writes elsewhere (the test regenerates into a temporary folder and compares);
``--check`` compares with the committed copy and prints the differences instead of writing.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import agent

AGENT_DIR = Path(agent.__file__).resolve().parent
REPO_DIR = AGENT_DIR.parent
COLLECTION_DIR = REPO_DIR / "ansible_collections" / "gda" / "bhyve"
ROOTS_FILE = COLLECTION_DIR / "module_utils_roots.txt"
OUT_DIR = COLLECTION_DIR / "plugins" / "module_utils" / "gda"
PREFIX = "ansible_collections.gda.bhyve.plugins.module_utils.gda"
PACKAGE_FILES_MODULE = "_package_files"
PACKAGE_FILE_GLOBS = ("scripts/*.sh", "scripts/lib/*.sh")
REFRESH = "python -m agent.collection_build"
HEADER = f"# GENERATED from {{source}} by `{REFRESH}`: do not edit.\n"


class BuildError(Exception):
    """The closure cannot be shipped as module_utils (a third-party import, an unknown module)."""


@dataclass(frozen=True)
class Module:
    name: str  # agent.core.marker
    path: Path  # .../agent/core/marker.py

    @property
    def relative(self) -> Path:
        return self.path.relative_to(AGENT_DIR)


def read_roots(path: Path = ROOTS_FILE) -> list[str]:
    roots = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            roots.append(name)
    return roots


def module_path(name: str) -> Path | None:
    """The source of ``agent[.x.y]`` (a module file or a package's ``__init__.py``), or None."""
    parts = name.split(".")[1:]
    base = AGENT_DIR.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def walk(tree: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` without the bodies of ``if TYPE_CHECKING:`` (never run: their imports are neither
    followed nor rewritten, so AnsiballZ does not look for them)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if _is_type_checking(node):
            assert isinstance(node, ast.If)
            todo += node.orelse
            continue
        todo += ast.iter_child_nodes(node)


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names) of every absolute import statement (``import a.b`` gives ("a.b", [])), the lazy
    ones in functions too."""
    found: list[tuple[str, list[str]]] = []
    for node in walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise BuildError(f"line {node.lineno}: a relative import (use absolute agent.* imports)")
            found.append((node.module or "", [a.name for a in node.names]))
    return found


def closure(roots: list[str]) -> list[Module]:
    """The root modules, everything they import from ``agent``, and the parent packages, sorted."""
    chain: dict[str, str] = {r: "" for r in roots}  # module -> the module that imported it
    todo = list(roots)
    done: dict[str, Module] = {}

    def why(name: str) -> str:
        steps = [name]
        while chain.get(steps[-1]):
            steps.append(chain[steps[-1]])
        return " <- ".join(steps)

    def want(name: str, by: str) -> None:
        if name not in chain:
            chain[name] = by
            todo.append(name)

    while todo:
        name = todo.pop()
        if name in done:
            continue
        path = module_path(name)
        if path is None:
            raise BuildError(f"no source for {name} ({why(name)})")
        done[name] = Module(name, path)
        parent = name.rpartition(".")[0]
        if parent:
            want(parent, name)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            imports = _imports(tree)
        except BuildError as e:
            raise BuildError(f"{path}: {e}") from None
        for module, names in imports:
            top = module.split(".")[0]
            if top == "agent":
                want(module, name)
                for n in names:  # from agent.core import marker: a submodule
                    if module_path(f"{module}.{n}") is not None:
                        want(f"{module}.{n}", name)
            elif top != "__future__" and top not in sys.stdlib_module_names:
                raise BuildError(
                    f"{name} imports {module}, which is not in the standard library: the module_utils run "
                    f"on the managed host's Python without it (import chain: {why(name)}); move that "
                    "import out of the flow the roots need"
                )
    return sorted(done.values(), key=lambda m: m.name)


def _rewrite_line(line: str, col: int, keyword: str, module: str) -> str:
    head = f"{keyword} {module}"
    if line[col : col + len(head)] != head:
        raise BuildError(f"cannot rewrite {line.strip()!r}: expected {head!r} at column {col}")
    return line[:col] + f"{keyword} {PREFIX}{module[len('agent') :]}" + line[col + len(head) :]


def rewrite(module: Module) -> str:
    """The module's source with its ``agent`` imports pointed at the collection."""
    text = module.path.read_text(encoding="utf-8")
    tree = ast.parse(text, str(module.path))
    lines = text.splitlines(keepends=True)
    uses_resources = False
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "agent":
            i = node.lineno - 1
            lines[i] = _rewrite_line(lines[i], node.col_offset, "from", node.module)
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "agent" for a in node.names):
            raise BuildError(f"{module.name} line {node.lineno}: `import agent...` cannot be rewritten")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "importlib"
            and (any(a.name == "resources" for a in node.names))
        ):
            if len(node.names) != 1 or node.names[0].asname:
                raise BuildError(f"{module.name} line {node.lineno}: import resources on its own line")
            i = node.lineno - 1
            head = "from importlib import resources"
            if lines[i].strip() != head:
                raise BuildError(f"{module.name} line {node.lineno}: expected {head!r}")
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i] = f"{indent}from {PREFIX} import {PACKAGE_FILES_MODULE} as resources\n"
            uses_resources = True
    if uses_resources:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "resources"
                and node.attr != "files"
            ):
                raise BuildError(f"{module.name} line {node.lineno}: only resources.files() is embedded")
    body = "".join(lines).rstrip("\n")  # (an empty __init__.py: the header alone)
    return HEADER.format(source=f"agent/{module.relative.as_posix()}") + (body + "\n" if body else "")


PACKAGE_FILES_CODE = '''

class PackageFile:
    """The little of ``importlib.resources``' Traversable the core uses, over :data:`FILES`."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self.name = path.rsplit("/", 1)[-1]

    def joinpath(self, *parts: str) -> "PackageFile":
        return PackageFile("/".join(p for p in (self.path, *parts) if p))

    __truediv__ = joinpath

    def is_file(self) -> bool:
        return self.path in FILES

    def is_dir(self) -> bool:
        return any(name.startswith(self.path + "/") for name in FILES) or not self.path

    def iterdir(self) -> "list[PackageFile]":
        prefix = self.path + "/" if self.path else ""
        children = {n[len(prefix) :].split("/", 1)[0] for n in FILES if n.startswith(prefix)}
        return [PackageFile(prefix + c) for c in sorted(children)]

    def read_text(self, encoding: str = "utf-8") -> str:
        try:
            return FILES[self.path]
        except KeyError:
            raise FileNotFoundError(self.path) from None


def files(package: str) -> PackageFile:
    """The package's embedded files (only ``agent``'s are shipped)."""
    if package != "agent":
        raise ModuleNotFoundError(package)
    return PackageFile()
'''


def package_files_module() -> str:
    paths = sorted({p for pattern in PACKAGE_FILE_GLOBS for p in AGENT_DIR.glob(pattern)})
    entries = ""
    for p in paths:  # one string literal a line of the script: readable diffs
        text = p.read_text(encoding="utf-8")
        lines = "".join(f"        {line!r}\n" for line in text.splitlines(keepends=True))
        value = f"(\n{lines}    )" if lines else '""'
        entries += f"    {p.relative_to(AGENT_DIR).as_posix()!r}: {value},\n"
    return (
        HEADER.format(source=", ".join(f"agent/{g}" for g in PACKAGE_FILE_GLOBS))
        + '"""agent\'s package files (the shell scripts), embedded: AnsiballZ ships only Python."""\n\n'
        + "from __future__ import annotations\n\n"
        + f"FILES = {{\n{entries}}}\n"
        + PACKAGE_FILES_CODE
    )


def render(roots: list[str]) -> dict[str, str]:
    """Relative path -> content of every generated file."""
    out = {m.relative.as_posix(): rewrite(m) for m in closure(roots)}
    out[f"{PACKAGE_FILES_MODULE}.py"] = package_files_module()
    return out


def existing(out_dir: Path) -> dict[str, str]:
    if not out_dir.is_dir():
        return {}
    return {
        p.relative_to(out_dir).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(out_dir.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def differences(want: dict[str, str], have: dict[str, str]) -> list[str]:
    """A unified diff per file that differs, is missing or is stale."""
    lines: list[str] = []
    for name in sorted(set(want) | set(have)):
        a, b = have.get(name), want.get(name)
        if a != b:
            lines += difflib.unified_diff(
                (a or "").splitlines(keepends=True),
                (b or "").splitlines(keepends=True),
                f"committed/{name}" if a is not None else "/dev/null",
                f"generated/{name}" if b is not None else "/dev/null",
            )
    return lines


def write(files: dict[str, str], out_dir: Path) -> None:
    """Replace ``out_dir`` with ``files`` (refusing when it holds a file this build did not generate)."""
    for name, text in existing(out_dir).items():
        if not text.startswith("# GENERATED from"):
            raise BuildError(f"{out_dir / name} was not generated; move it out of {out_dir} first")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for name, text in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REFRESH, description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", type=Path, default=ROOTS_FILE, help="the root module list")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write (default: the collection)")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    args = parser.parse_args(argv)
    if not args.roots.is_file():
        print(f"error: no {args.roots}: run this from the repository (a source checkout)", file=sys.stderr)
        return 2
    try:
        files = render(read_roots(args.roots))
        if args.check:
            diff = differences(files, existing(args.out))
            if diff:
                sys.stdout.writelines(diff)
                print(f"\n{args.out} is out of date: run `{REFRESH}`", file=sys.stderr)
                return 1
            return 0
        write(files, args.out)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
