"""Reading playbook notebooks: the ``parameters`` cell, task cells and output stripping."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from workbench.errors import ValidationError

#: The tag papermill (and Workbench) look for.
PARAMETERS_TAG = "parameters"
#: Cells Workbench adds to output notebooks carry this tag.
STATUS_TAG = "workbench-run-status"

_NO_LITERAL = object()


@dataclass(frozen=True)
class NotebookParameter:
    """One assignment in a notebook's ``parameters`` cell.

    Attributes:
        name: The variable name.
        value: The literal default (``None`` if ``literal`` is False).
        literal: Whether the default is a Python literal Workbench could read.
        line: 1-based line within the cell.
        annotation: The type annotation's source, if any.
    """

    name: str
    value: Any
    literal: bool
    line: int
    annotation: str | None = None


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a notebook (nbformat 4).

    Raises:
        ValidationError: When the file is missing or not a notebook.
    """
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise ValidationError(
            "the playbook's notebook does not exist",
            file=path,
            field="notebook",
            hint="create it, or set 'notebook:' in playbook.yaml to the notebook's file name",
        ) from None
    except Exception as exc:  # nbformat raises several JSON / schema errors
        raise ValidationError(
            f"not a readable Jupyter notebook: {exc}",
            file=path,
            hint="open and re-save it in JupyterLab, or recreate it with `workbench playbook new`",
        ) from None


def cell_tags(cell: NotebookNode) -> list[str]:
    """The cell's tags (``metadata.tags``)."""
    return list(cell.get("metadata", {}).get("tags", []))


def parameters_cell(nb: NotebookNode) -> tuple[int, NotebookNode] | None:
    """(index, cell) of the first code cell tagged ``parameters``, or ``None``."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and PARAMETERS_TAG in cell_tags(cell):
            return index, cell
    return None


def parse_parameters_source(source: str) -> list[NotebookParameter]:
    """The top-level ``name = literal`` (or ``name: type = literal``) assignments of a parameters cell.

    Raises:
        SyntaxError: When the cell is not valid Python.
    """
    out: list[NotebookParameter] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value_node, annotation = node.targets[0].id, node.value, None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value_node, annotation = node.target.id, node.value, ast.unparse(node.annotation)
        else:
            continue
        try:
            value, literal = ast.literal_eval(value_node), True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value, literal = None, False
        out.append(NotebookParameter(name, value, literal, node.lineno, annotation))
    return out


def unstripped_cells(nb: NotebookNode) -> list[int]:
    """Indexes of code cells that still carry outputs or an execution count."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]


def strip_outputs(nb: NotebookNode) -> NotebookNode:
    """Remove outputs and execution counts from every code cell (in place; returns ``nb``)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def task_of_cell(nb: NotebookNode, index: int, tags_to_tasks: dict[str, str]) -> str | None:
    """The task a cell belongs to: its own task tag, else the nearest tagged cell above it."""
    for i in range(min(index, len(nb.cells) - 1), -1, -1):
        for tag in cell_tags(nb.cells[i]):
            if tag in tags_to_tasks:
                return tags_to_tasks[tag]
    return None
