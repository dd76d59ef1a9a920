import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from config.db_roles import (
    RuntimeRoleError,
    role_name_check,
    runtime_role_can_create,
    runtime_role_create,
    runtime_role_exists,
    runtime_role_grant,
)


class Command(BaseCommand):
    help = (
        "Give the runtime database role (DATABASE_RUNTIME_ROLE) its rights: rows of every "
        "table, no TRUNCATE, no trigger or table changes, the timeline append-only. "
        "With --create, create it first. Run as the owner of the tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", nargs="?", default="", help="default: DATABASE_RUNTIME_ROLE")
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the role (LOGIN, nothing else) if it does not exist",
        )
        parser.add_argument(
            "--password-env",
            default="DATABASE_RUNTIME_PASSWORD",
            help="environment variable holding the new role's password (with --create)",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(
        self, *args: Any, role: str, create: bool, password_env: str, database: str, **options: Any
    ) -> None:
        role = role or settings.DATABASE_RUNTIME_ROLE
        if not role:
            raise CommandError("Name the role, or set DATABASE_RUNTIME_ROLE.")
        try:
            role_name_check(role)
        except RuntimeRoleError as error:
            raise CommandError(str(error)) from error
        if connections[database].vendor != "postgresql":
            raise CommandError("Database roles exist on PostgreSQL only; SQLite has none.")
        if not runtime_role_exists(role=role, using=database):
            if not create:
                raise CommandError(f"Role {role} does not exist (add --create to create it).")
            password = os.environ.get(password_env, "")
            if not password:
                raise CommandError(f"Set {password_env} to the new role's password.")
            try:
                runtime_role_create(role=role, password=password, using=database)
            except RuntimeRoleError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"Created role {role}.")
        try:
            statements = runtime_role_grant(role=role, using=database)
        except RuntimeRoleError as error:
            raise CommandError(str(error)) from error
        for statement in statements:
            self.stdout.write(statement)
        if runtime_role_can_create(role=role, using=database):
            self.stderr.write(
                f"Role {role} can still create objects in the schema through PUBLIC: run "
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC as the schema's owner."
            )
        self.stdout.write(f"Role {role} has its runtime rights.")
