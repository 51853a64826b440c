"""The sandbox's refusal: an exception that carries the API's error (status, message, param, code,
type), answered by the app in the flavour's dialect (``flavor.error_body``) wherever it is raised."""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.flavor import OPENAI, Flavor


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self, flavor: Flavor = OPENAI) -> dict[str, Any]:
        return flavor.error_body(self.message, self.param, self.code, self.kind)
