"""``kontor serve``: the API (and, later, the scheduler) in one process."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hub.cli.output import console, fail
from hub.context import open_hub
from hub.errors import HubError


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from hub.api.app import create_app

    try:
        hub = open_hub(ctx.obj["config"])  # validate and migrate before accepting requests
    except HubError as exc:
        fail(exc)
    os.environ["KONTOR_CONFIG"] = str(hub.deployment.path)
    console.print(f"Kontor API on http://{host}:{port} — docs at http://{host}:{port}/docs",
                  highlight=False)
    uvicorn.run(create_app(hub), host=host, port=port, log_level="warning")
