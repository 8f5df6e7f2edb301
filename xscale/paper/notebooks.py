"""The paper notebooks: jupytext percent-format ``.py`` files in ``paper/``, executed with nbclient.

Each notebook has one code cell tagged ``parameters`` (papermill's convention). Executing a
notebook inserts a cell tagged ``injected-parameters`` after it that overrides those values,
then runs every cell in a fresh kernel with the build directory as working directory.
"""

from __future__ import annotations

import ast
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from xscale.data.manifest import project_root
from xscale.errors import XscaleError

#: The notebooks in build order (later ones reuse the runs and nulls earlier ones cached).
NOTEBOOKS = ("fig1_workflow", "fig2_vulnerability", "fig3_transcriptome", "fig4_latent", "fig5_prediction",
             "table1_claims")
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


class NotebookError(XscaleError):
    """A paper notebook is malformed or raised while executing (the notebook and cell are named)."""


def notebook_path(name: str) -> Path:
    """``paper/<name>.py`` of the xscale checkout.

    Raises
    ------
    NotebookError
        If ``name`` is not one of :data:`NOTEBOOKS` or its file is missing.
    """
    if name not in NOTEBOOKS:
        raise NotebookError(f"unknown notebook {name!r}; expected one of {', '.join(NOTEBOOKS)}")
    p = project_root() / "paper" / f"{name}.py"
    if not p.is_file():
        raise NotebookError(f"{p}: notebook file missing")
    return p


def read_notebook(path: str | Path):
    """Read a jupytext percent-format ``.py`` file as a notebook (nbformat v4)."""
    import jupytext

    return jupytext.read(Path(path), fmt="py:percent")


def parameter_names(nb, where: str = "notebook") -> tuple[int, list[str]]:
    """Index of the cell tagged ``parameters`` and the names it assigns.

    Raises
    ------
    NotebookError
        If there is no such cell, more than one, or it is not plain assignments.
    """
    found = [i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if len(found) != 1:
        raise NotebookError(f"{where}: expected exactly one cell tagged {PARAMETERS_TAG!r}, found {len(found)}")
    tree = ast.parse(nb.cells[found[0]].source)
    names = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise NotebookError(f"{where}: the parameters cell may hold only 'name = value' lines; "
                                f"line {node.lineno} is not one")
        names.append(node.targets[0].id)
    return found[0], names


def inject_parameters(nb, params: Mapping[str, Any], where: str = "notebook", strict: bool = True):
    """Insert a cell tagged ``injected-parameters`` after the ``parameters`` cell.

    Parameters
    ----------
    nb : NotebookNode
        Modified in place and returned.
    params : mapping
        Name -> value (written with ``repr``).
    where : str
        Notebook name for error messages.
    strict : bool
        Refuse names the parameters cell does not define; False silently leaves them out (a
        build passes one set of values to notebooks that each use a subset).

    Raises
    ------
    NotebookError
        With ``strict``, on a name the parameters cell does not define (the valid ones are listed).
    """
    import nbformat

    index, names = parameter_names(nb, where)
    unknown = sorted(set(params) - set(names))
    if unknown and strict:
        raise NotebookError(f"{where}: unknown parameter(s) {unknown}; the parameters cell defines {names}")
    params = {k: v for k, v in params.items() if k in names}
    source = "# Parameters injected by xscale.paper.notebooks\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    nb.cells.insert(index + 1, cell)
    return nb


@dataclass(frozen=True)
class Executed:
    """An executed notebook.

    Attributes
    ----------
    name : str
    notebook : NotebookNode
        With outputs.
    seconds : float
        Wall-clock execution time.
    """

    name: str
    notebook: Any
    seconds: float


def execute(name: str, params: Mapping[str, Any], workdir: str | Path, timeout: int = 3600,
            strict: bool = True) -> Executed:
    """Run notebook ``name`` with ``params`` injected, in a fresh Python kernel.

    Parameters
    ----------
    name : str
        One of :data:`NOTEBOOKS`.
    params : mapping
        Values for the parameters cell (only the names it defines).
    workdir : path
        The kernel's working directory.
    timeout : int
        Seconds allowed per cell.
    strict : bool
        See :func:`inject_parameters`.

    Returns
    -------
    Executed

    Raises
    ------
    NotebookError
        If the notebook is malformed or a cell raises (the message holds the cell's error).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = inject_parameters(read_notebook(notebook_path(name)), params, name, strict)
    start = time.perf_counter()
    with _kernel_channels() as channels:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", config=channels,
                                resources={"metadata": {"path": str(Path(workdir).resolve())}})
        try:
            client.execute()
        except CellExecutionError as exc:
            raise NotebookError(f"notebook paper/{name}.py failed: {exc}") from exc
    return Executed(name, nb, time.perf_counter() - start)


@contextlib.contextmanager
def _kernel_channels() -> Iterator[Any]:
    """traitlets configuration for the kernel manager: on POSIX, Unix sockets in a private temporary folder.

    Over TCP (jupyter_client's default) the kernel's traffic is unencrypted on the loopback
    interface and ipykernel >= 7 warns so on every start; Unix sockets are reachable only
    through the folder's permissions (0700), and the warning goes. Windows has no IPC transport,
    and a temporary folder with a path too long for a socket keeps TCP. The client still
    creates, owns and shuts down its kernel.
    """
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="xscale-kernel-") as sockets:
        ip = os.path.join(sockets, "kernel")
        if os.name != "posix" or len(os.fsencode(ip)) > 96:  # a socket path holds at most 107 bytes (+ "-N")
            yield Config()
        else:
            yield Config({"KernelManager": {"transport": "ipc", "ip": ip}})
