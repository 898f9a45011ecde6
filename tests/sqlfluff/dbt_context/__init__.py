"""dbt's Jinja context, as much of it as the project's SQL uses, for sqlfluff's jinja templater.

`make sqllint` lints the SQL with sqlfluff's jinja templater: no dbt compile, no profile, no
warehouse (docs/decisions/0014). `.sqlfluff` names this package as the templater's
library_path, so every public name here is a Jinja global while sqlfluff renders a model, a
test, an analysis or a macro file. The names stand in for dbt's as on the Spark target, whose
SQL sqlfluff's databricks dialect parses whole (its duckdb dialect has no `* except (...)`,
the form both engines share, docs/scale-out.md):

- the project's macros (macros/**/*.sql), each callable from any other, with dbt's `return()`
  (sqlfluff's own load_macros_from_path cannot call a macro of another file, and has no
  `return`);
- `adapter.dispatch` (spark__, then default__), `var()` from dbt_project.yml's vars,
  `env_var()`, `target`, `exceptions`, `execute` (false, as when dbt parses);
- dbt's cross-database macros that the project calls (`dbt.date_trunc`, ...): the project's
  spark__ form where it has one, as dbt dispatches, else dbt-spark's SQL.

sqlfluff lints only the SQL written in a file, not what a macro renders: a stand-in must give
SQL of the right shape, not the exact SQL. `ref`, `source`, `this`, `config` and
`is_incremental` (always true) are sqlfluff's own (apply_dbt_builtins).
"""

import os
import sys
import types
from pathlib import Path
from typing import Any

import jinja2.nodes
import jinja2.runtime
import yaml
from jinja2.exceptions import TemplateRuntimeError
from jinja2.sandbox import SandboxedEnvironment
from sqlfluff.core.templaters.builtins.dbt import DBT_BUILTINS
from sqlfluff.core.templaters.jinja import DBTTestExtension

_PROJECT = Path(__file__).resolve().parents[3]
# sqlfluff runs this module again for every file it lints: what must happen once a process (the
# patch below) or is worth keeping (the compiled macros) lives in one module of the process.
_ONCE: dict[str, Any] = vars(
    sys.modules.setdefault("_meterhouse_sqlfluff", types.ModuleType("_meterhouse_sqlfluff"))
)
_VARS: dict[str, Any] = yaml.safe_load((_PROJECT / "dbt_project.yml").read_text())["vars"]
_NO_DEFAULT = object()


class _MacroReturn(Exception):
    """dbt's `return(value)`: ends the macro, whose call gives `value` (not rendered text)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


_RETURN: type[_MacroReturn] = _ONCE.setdefault("MacroReturn", _MacroReturn)


def _return(value: Any) -> None:
    raise _RETURN(value)


def _invoke_returning(self: jinja2.runtime.Macro, arguments: list[Any], autoescape: bool) -> Any:
    try:
        return _plain_invoke(self, arguments, autoescape)
    except _RETURN as returned:
        return returned.value


# A macro calls its neighbours in the same file directly (Jinja closures), not through a
# stand-in: `return` is caught in every Jinja macro call.
if "plain_invoke" not in _ONCE:
    _ONCE["plain_invoke"] = jinja2.runtime.Macro._invoke
    jinja2.runtime.Macro._invoke = _invoke_returning  # type: ignore[method-assign]
_plain_invoke = _ONCE["plain_invoke"]


def var(name: str, default: Any = _NO_DEFAULT) -> Any:
    if name in _VARS:
        return _VARS[name]
    if default is _NO_DEFAULT:
        raise TemplateRuntimeError(f"var: no var '{name}' in dbt_project.yml and no default")
    return default


def env_var(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise TemplateRuntimeError(message)


class _Target:
    type = "spark"
    name = "spark"
    schema = "main"


class _DbtSpark:
    """dbt's cross-database macros that the project calls, as dbt-spark renders them."""

    @staticmethod
    def date_trunc(datepart: str, date: str) -> str:
        return f"date_trunc('{datepart}', {date})"

    @staticmethod
    def concat(fields: list[str]) -> str:
        return f"concat({', '.join(fields)})"

    @staticmethod
    def type_string() -> str:
        return "string"


class _CrossDatabase:
    """`dbt.<macro>`: the project's spark__<macro> where it has one (dbt looks in the root
    project first), else dbt-spark's."""

    def __getattr__(self, name: str) -> Any:
        if "spark__" + name in _MACROS:
            return _MACROS["spark__" + name]
        return getattr(_DbtSpark, name)


class _Macro:
    """A project macro, looked up when called: any macro file may call any other."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _MACROS[self.name](*args, **kwargs)


class _Adapter:
    @staticmethod
    def dispatch(name: str, macro_namespace: str | None = None) -> Any:
        for prefix in ("spark__", "default__"):
            if prefix + name in _MACROS:
                return _MACROS[prefix + name]
        raise TemplateRuntimeError(f"adapter.dispatch: no spark__ or default__ {name}")


# What a model or macro sees besides the project's macros and sqlfluff's dbt builtins.
_STAND_INS: dict[str, Any] = {
    "var": var,
    "env_var": env_var,
    "return": _return,
    "exceptions": _Exceptions(),
    "target": _Target(),
    "dbt": _CrossDatabase(),
    "adapter": _Adapter(),
    "execute": False,
}


def _load_macros() -> dict[str, jinja2.runtime.Macro]:
    """Every macro of macros/**/*.sql by name; `{% test %}` blocks as test_<name>, as in dbt."""
    sources = [path.read_text() for path in sorted((_PROJECT / "macros").rglob("*.sql"))]
    if _ONCE.get("sources") == sources:
        return _ONCE["macros"]  # type: ignore[no-any-return]
    environment = SandboxedEnvironment(extensions=["jinja2.ext.do", DBTTestExtension])
    context: dict[str, Any] = {**DBT_BUILTINS, **_STAND_INS}
    for source in sources:
        for node in environment.parse(source).find_all(jinja2.nodes.Macro):
            context[node.name] = _Macro(node.name)
    macros = {}
    for source in sources:
        module = environment.from_string(source, globals=context).module
        macros.update(
            {k: v for k, v in vars(module).items() if isinstance(v, jinja2.runtime.Macro)}
        )
    _ONCE.update(sources=sources, macros=macros)
    return macros


_MACROS = _load_macros()
globals().update(_STAND_INS)
globals().update({name: _Macro(name) for name in _MACROS})
