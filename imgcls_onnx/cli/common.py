"""What every command shares besides its options: the exit codes, the one-line error, the settings check."""
from __future__ import annotations

import click

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(code)


def check_settings() -> None:
    """The one runtime setting ($IMGCLS_ONNX_KERNEL), checked before any command runs: a bad value is one error line
    and exit 2 (serve does not start). Unset, nothing is imported (start-up time)."""
    import os

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
    from importlib.metadata import version

    from ..runtime.kernel import KernelSettingError, from_env

    try:
        kernel = f"{from_env().name} preprocessing kernel"
    except KernelSettingError as e:
        raise fail(str(e)) from None
    click.echo(f"imgcls-onnx, version {version('imgcls-onnx')} ({kernel})")
    ctx.exit()
