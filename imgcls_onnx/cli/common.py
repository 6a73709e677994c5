"""What every command shares besides its options: the exit codes, the one-line error, the settings check."""
from __future__ import annotations

import os
import warnings

import click

from ..runtime.errors import ImgclsWarning

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(code)


def show_warnings_as_lines() -> None:
    """Print the library's warnings (``ImgclsWarning``: random weights, int8 on this CPU, a missing font, ...) as one
    ``warning: ...`` line each on stderr, as the errors are, whatever $PYTHONWARNINGS says (they are part of the
    command's output; the library says each once); other warnings keep Python's format and filters."""
    warnings.filterwarnings("default", category=ImgclsWarning)
    python_format = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ImgclsWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            python_format(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def check_settings() -> None:
    """The one runtime setting ($IMGCLS_ONNX_KERNEL), checked before any command runs: a bad value is one error line
    and exit 2 (serve does not start). Unset, nothing is imported (start-up time)."""
    if os.environ.get("IMGCLS_ONNX_KERNEL", "").strip():
        from ..runtime.kernel import KernelSettingError, from_env

        try:
            from_env()
        except KernelSettingError as e:
            raise fail(str(e)) from None


def print_version(ctx: click.Context, _param, value: bool) -> None:
    """--version: the package's version and the preprocessing kernel in force (compiled or numpy)."""
    if not value or ctx.resilient_parsing:
        return
    from ..runtime.kernel import KernelSettingError, from_env

    try:
        kernel = f"{from_env().name} preprocessing kernel"
    except KernelSettingError as e:
        raise fail(str(e)) from None
    from importlib.metadata import version  # 30 ms of start-up that every other command would pay

    click.echo(f"imgcls-onnx, version {version('imgcls-onnx')} ({kernel})")
    ctx.exit()
