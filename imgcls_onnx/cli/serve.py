"""Serving and exports: ``serve``, ``serve-web``, ``export-triton``, ``export-web``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..runtime.errors import ImgclsError
from ..serving.server import LATENCY_SESSION_AUTO_MAX_MB, run_server  # nothing heavy: arenas precede numpy
from ..serving.state import DEFAULT_SETTINGS, PROCESS_DEFAULTS, ServeSettings, default_batching
from . import options
from .common import fail

_CPU_BATCHING, _GPU_BATCHING = default_batching("cpu"), default_batching("gpu")


@click.command()
@options.model
@click.option("--host", default=PROCESS_DEFAULTS.host, show_default=True,
              help="Address to bind (loopback by default).")
@click.option("--port", default=PROCESS_DEFAULTS.port, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port.")
@options.device
@options.threads
@click.option("--max-batch-size", default=DEFAULT_SETTINGS.max_batch_size, type=click.IntRange(min=1),
              help=f"Most requests one model run may serve [default: {_CPU_BATCHING[0]} on CPU, "
                   f"{_GPU_BATCHING[0]} on GPU].")
@click.option("--max-wait-ms", default=DEFAULT_SETTINGS.max_wait_ms, type=click.FloatRange(min=0),
              help="Cap on how long a batch may wait to fill, used only under heavy load (half a batch already "
                   "queued); a request that finds the model free runs at once "
                   f"[default: {_CPU_BATCHING[1]:g} on CPU, {_GPU_BATCHING[1]:g} on GPU].")
@click.option("--max-queue", default=DEFAULT_SETTINGS.max_queue, show_default=True, type=click.IntRange(min=1),
              help="Requests that may wait; more are answered 503 with Retry-After.")
@click.option("--max-body-mb", default=DEFAULT_SETTINGS.max_body_mb, show_default=True,
              type=click.FloatRange(min=0.001), help="Largest request body (413 above it, chunked bodies included).")
@click.option("--allow-url-fetch", is_flag=True, default=DEFAULT_SETTINGS.allow_url_fetch,
              help="Accept http(s) URLs in 'image' (never private addresses).")
@click.option("--decode-workers", default=DEFAULT_SETTINGS.decode_workers, show_default=True,
              type=click.IntRange(min=1), help="Threads that decode and preprocess requests.")
@click.option("--malloc-arenas", default=PROCESS_DEFAULTS.malloc_arenas, show_default=True,
              type=click.IntRange(min=0),
              help="glibc malloc arenas for the server's threads (as MALLOC_ARENA_MAX): 2 keeps RSS flat after load "
                   "(at a few percent of throughput under load); 0 leaves glibc's default.")
@click.option("--latency-session", default=PROCESS_DEFAULTS.latency_session, show_default=True,
              type=click.Choice(["auto", "on", "off"]),
              help="On CPU, a second session whose threads spin within a run, for requests that find the model idle "
                   "(+10 % req/s for a lone client). It holds another copy of the weights (about 1.8x the model "
                   f"file), so auto adds it for models up to {LATENCY_SESSION_AUTO_MAX_MB} MB.")
@click.option("--log-level", default=PROCESS_DEFAULTS.log_level, show_default=True,
              help="debug, info, warning or error.")
def serve(model, host, port, device, threads, max_batch_size, max_wait_ms, max_queue, max_body_mb, allow_url_fetch,
          decode_workers, malloc_arenas, latency_session, log_level) -> None:
    """Serve MODEL over HTTP with PaddleX's image-classification API and dynamic batching (serve extra)."""

    def bundle_dir():  # run_server calls this after it limits the malloc arenas (the hub loads numpy)
        from ..hub import obtain_model

        return obtain_model(model)

    settings = ServeSettings(max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue,
                             max_body_mb=max_body_mb, allow_url_fetch=allow_url_fetch, decode_workers=decode_workers)
    try:
        run_server(bundle_dir, settings, host=host, port=port, device=device, threads=threads,
                   malloc_arenas=malloc_arenas, latency_session=latency_session, log_level=log_level)
    except ImgclsError as e:
        raise fail(str(e)) from None


@click.command("export-triton")
@options.model
@options.save_path("repo", "Triton model repository.", required=True)
@click.option("--name", default=None, help="Model name in the repository [default: the bundle's].")
@click.option("--max-batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Triton's max_batch_size.")
@click.option("--instances", default=1, show_default=True, type=click.IntRange(min=1),
              help="Model instances (instance_group count).")
@click.option("--kind", default="KIND_CPU", show_default=True, type=click.Choice(["KIND_CPU", "KIND_GPU"]),
              help="Where Triton runs the instances.")
def export_triton_cmd(model, repo, name, max_batch_size, instances, kind) -> None:
    """Write a Triton model repository (REPO/NAME/1/model.onnx + config.pbtxt) and a client for it."""
    # start-up time: the hub and the export load numpy
    from ..hub import obtain_model
    from ..serving.triton import export_triton

    try:
        target = export_triton(obtain_model(model), Path(repo), name, max_batch_size, instances, kind)
    except (ImgclsError, ValueError) as e:
        raise fail(str(e)) from None
    click.echo(str(target))


@click.command("export-web")
@options.model
@options.save_path("out", "The folder to write the static site into (new or a previous export).", required=True)
@click.option("--ort-web", "ort", default="auto", show_default=True,
              help="Where the page gets onnxruntime-web 1.30.0: 'auto' (a local copy when one is found: "
                   "$IMGCLS_ONNX_ORT_WEB or this checkout's web/node_modules; else the CDN), 'cdn' (jsDelivr, "
                   "pinned, with an integrity hash), or a folder holding the npm package (offline site).")
@click.option("--jpeg-wasm", "jpeg", default="auto", show_default=True,
              help="Where the page gets its JPEG decoder, libjpeg-turbo compiled to WebAssembly (the Python runtime's "
                   "pixels in any browser): 'auto' (a local copy when one is found: $IMGCLS_ONNX_JPEG_WASM or this "
                   "checkout's web/node_modules; else the CDN), 'cdn' (jsDelivr, pinned, hash-checked), 'none' (the "
                   "browser's decoder), or the @cwasm/jpeg-turbo package folder.")
@options.topk(default=5)
@click.option("--serve", "serve_after", is_flag=True,
              help="Serve the site on 127.0.0.1 afterwards (cross-origin isolated, so WASM uses threads).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port for --serve.")
def export_web_cmd(model, out, ort, jpeg, topk, serve_after, port) -> None:
    """Write a static web site that classifies images in the browser (onnxruntime-web; images stay local).

    Serve the folder with any static server; `imgcls-onnx serve-web SITE` adds the headers for threaded WASM."""
    # start-up time: the hub and the export load numpy
    from ..hub import obtain_model
    from ..web_export import export_web

    try:
        summary = export_web(obtain_model(model), out, ort=ort, topk=topk, jpeg=jpeg)
    except ImgclsError as e:
        raise fail(str(e)) from None
    click.echo(json.dumps(summary, indent=1))
    if serve_after:
        _serve_site(out, "127.0.0.1", port)


@click.command("serve-web")
@click.argument("site", type=click.Path(file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def serve_web_cmd(site, host, port) -> None:
    """Serve an export-web SITE with the cross-origin isolation headers threaded WebAssembly needs."""
    try:
        _serve_site(site, host, port)
    except ImgclsError as e:
        raise fail(str(e)) from None


def _serve_site(site, host, port) -> None:
    # start-up time: web_export stands on the runtime (its export takes a model); kept out of --help
    from ..web_export import site_server

    try:
        server = site_server(site, host, port)
    except OSError as e:
        raise fail(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    h, p = server.server_address[:2]
    click.echo(f"serving {site} at http://{h}:{p}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
