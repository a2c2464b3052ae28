"""`amtspuls user …`: dashboard users, their roles per site, API tokens, the audit log."""

from __future__ import annotations

import secrets
import sys

import typer

from amtspuls.cli.common import emit_json, state
from amtspuls.errors import UserError


def register(app: typer.Typer) -> None:
    user_app = typer.Typer(help="Benutzer, Rollen und API-Tokens verwalten.",
                           no_args_is_help=True)
    app.add_typer(user_app, name="user")

    @user_app.command("add")
    def user_add(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="User name (a–z, 0–9, . _ - @)"),
        role: str = typer.Option(..., "--role", help="admin | analyst | viewer"),
        site: str = typer.Option(None, "--site", help="Only this site (default: every site)"),
        password_stdin: bool = typer.Option(False, "--password-stdin",
                                            help="Read the password from standard input"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Add a user (or give an existing one a role). Without --password-stdin a new
        user gets a random password, printed once."""
        from amtspuls.serve.auth import add_user
        from amtspuls.store import users as us

        password: str | None = None
        generated = False
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise UserError("--password-stdin: no password on standard input")
        store = state(ctx).store()
        if password is None and us.get_user(store, name.strip().lower()) is None:
            password = secrets.token_urlsafe(12)
            generated = True
        user = add_user(store, name, role, password, site, actor="cli")
        out = {"name": user.name, "roles": _roles(store, user.roles)}
        if generated:
            out["password"] = password
        if json_out:
            emit_json(out)
        else:
            typer.echo(f"{user.name}\t{', '.join(f'{s}: {r}' for s, r in out['roles'].items())}")
            if generated:
                typer.echo(f"password: {password}")

    @user_app.command("token")
    def user_token(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="User name"),
        label: str = typer.Option("api", "--label", help="What the token is for"),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Create an API token for /api/v1 (shown once; send it as 'Authorization: Bearer …')."""
        from amtspuls.serve.auth import issue_token

        token, token_id = issue_token(state(ctx).store(), name, label, actor="cli")
        if json_out:
            emit_json({"name": name, "token": token, "id": token_id})
        else:
            typer.echo(token)

    @user_app.command("list")
    def user_list(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        """List users and their roles."""
        from amtspuls.store import users as us

        store = state(ctx).store()
        rows = [{"name": u.name, "disabled": u.disabled, "roles": _roles(store, u.roles)}
                for u in us.list_users(store)]
        if json_out:
            emit_json(rows)
        else:
            for r in rows:
                roles = ", ".join(f"{s}: {v}" for s, v in r["roles"].items())
                typer.echo(f"{r['name']}\t{roles}{'  (gesperrt)' if r['disabled'] else ''}")

    @user_app.command("remove")
    def user_remove(ctx: typer.Context, name: str = typer.Argument(...),
                    json_out: bool = typer.Option(False, "--json")) -> None:
        """Remove a user with their sessions and tokens."""
        from amtspuls.store import users as us

        store = state(ctx).store()
        user = us.get_user(store, name.strip().lower())
        if user is None:
            raise UserError(f"unknown user {name!r}")
        us.delete_user(store, user.id)
        us.audit(store, "user.remove", actor="cli", target=user.name)
        if json_out:
            emit_json({"removed": user.name})

    @user_app.command("audit")
    def user_audit(ctx: typer.Context, limit: int = typer.Option(50, "--limit"),
                   json_out: bool = typer.Option(False, "--json")) -> None:
        """The audit log: logins and administrative changes, newest first."""
        from amtspuls.store import users as us

        rows = us.list_audit(state(ctx).store(), limit)
        if json_out:
            emit_json(rows)
        else:
            for r in rows:
                typer.echo(f"{r['ts']:%Y-%m-%d %H:%M:%S}\t{'ok' if r['ok'] else 'FAIL'}\t"
                           f"{r['action']}\t{r['actor'] or '-'}\t{r['target'] or '-'}")


def _roles(store, roles: dict[int, str]) -> dict[str, str]:
    names = {s.id: s.domain for s in store.list_sites()}
    return {("*" if sid == 0 else names.get(sid, str(sid))): role
            for sid, role in sorted(roles.items())}
