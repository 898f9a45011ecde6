"""SQL text for values meterhouse does not write itself: paths and names from the file system.

A value that can be bound as a parameter is bound (`con.execute(sql, [value])`). Where DuckDB
cannot bind one (a `create view` statement), the value goes through one of these functions,
and nowhere else is such a value put into SQL text. The Spark side has the same two, as Jinja
macros: `spark_string` and `spark_identifier` (macros/spark/sql_text.sql).
"""

from __future__ import annotations

import re
from pathlib import Path

from meterhouse.errors import MeterhouseError

_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GLOB = re.compile(r"[*?\[]")


def is_plain_identifier(name: str) -> bool:
    """True for a name of letters, digits and underscores not starting with a digit: the names
    meterhouse gives its tables and models, the same in every engine and as a folder name."""
    return _PLAIN_IDENTIFIER.fullmatch(name) is not None


def sql_string(value: str) -> str:
    """`value` as a DuckDB string literal: in single quotes, each single quote doubled. DuckDB
    strings are standard SQL strings: a backslash is an ordinary character."""
    return "'" + value.replace("'", "''") + "'"


def duckdb_identifier(name: str) -> str:
    """`name` as a quoted DuckDB identifier: in double quotes, each double quote doubled."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_file(path: Path) -> str:
    """`path`, absolute, as DuckDB's file readers (read_parquet) take it to mean that one file.

    DuckDB expands a leading `~` and reads a path holding `*`, `?` or `[` as a glob pattern,
    which could match other files: the path is made absolute and each of those characters is
    put in brackets (`[*]` matches only `*`). In a glob pattern DuckDB also splits at a
    backslash, which cannot be escaped: a path holding both is refused."""
    text = str(path.absolute())
    if not _GLOB.search(text):
        return text
    if "\\" in text:
        raise MeterhouseError(
            f"{text}: DuckDB cannot read a file whose path holds both a backslash and one of "
            "* ? [. Rename the folder."
        )
    return _GLOB.sub(lambda found: f"[{found.group()}]", text)
