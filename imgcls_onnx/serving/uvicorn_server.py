"""uvicorn, run the way ``imgcls-onnx serve`` runs it: the draining SIGTERM below, a 30 s graceful shutdown, no
uvicorn access log (``serving.guard`` writes one JSON line per request), and uvicorn's own choice of event loop and
HTTP parser (uvloop and httptools with the serve extra), reported by /health."""

import asyncio

import uvicorn

from .state import PROCESS_DEFAULTS


class DrainingServer(uvicorn.Server):
    """uvicorn's Server with a cleaner SIGTERM. uvicorn alone closes the listening socket at once (connections in the
    kernel's accept queue are reset) and then closes every connection whose request it has not parsed yet: those
    clients sent a request and get no answer. Here the server keeps accepting for 0.2 s (what is already on its way
    is taken in and answered), then stops accepting, then lets requests already sent on accepted connections be read
    (at most 1 s), and only then shuts connections down; every accepted request gets its answer."""

    async def shutdown(self, sockets=None):
        await asyncio.sleep(0.2)
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while loop.time() < deadline:
            if all(getattr(c, "cycle", None) is not None for c in self.server_state.connections):
                break
            await asyncio.sleep(0.02)
        await super().shutdown(sockets=None)


def serve_app(app, host: str = PROCESS_DEFAULTS.host, port: int = PROCESS_DEFAULTS.port,
              log_level: str = PROCESS_DEFAULTS.log_level, malloc_arenas: int | None = None) -> None:
    """Run an app from ``create_app`` until SIGINT / SIGTERM. ``malloc_arenas``: the glibc arena limit in force
    (None: glibc's default), reported by /health beside the HTTP parser."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=30)
    config.load()  # uvicorn's choice (http "auto"): httptools when installed (the serve extra); /health reports it
    app.state.serving.server_stack.update(http=config.http_protocol_class.__name__, malloc_arenas=malloc_arenas)
    DrainingServer(config).run()
