"""What every command shares besides its options: the exit codes, the one-line error, OpenCV's quiet mode."""
from __future__ import annotations

import click

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(code)


def quiet_opencv() -> None:
    """OpenCV logs decoder warnings ("PNG input buffer is incomplete") on stderr; our one-line errors say it."""
    try:
        # start-up time: OpenCV loads only when a command decodes images
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except Exception:
        pass
