"""`amtspuls serve`: the HTTP server (API, tracking, dashboard)."""

from __future__ import annotations

import typer

from amtspuls.cli.common import state


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8000, "--port"),
    ) -> None:
        """Serve the API and dashboard (loopback by default)."""
        import uvicorn

        from amtspuls.serve.app import create_app

        settings = state(ctx).settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning",
                    proxy_headers=False)
