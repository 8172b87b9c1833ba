"""Key pairs: the list (name, type, fingerprint), import of a public key, a generated key pair whose private
key is shown once (the API answers it once and stores it nowhere; the page is no-store, as every dashboard
page), and delete with confirmation. Every change is the API's `os-keypairs`, with its rules and refusals."""
from __future__ import annotations

import typing as t

from starlette.requests import Request
from starlette.routing import Route

from stratus_cli.dashboard.client import Api, Refusal
from stratus_cli.dashboard.pages import Page, form_page, page, redirect
from stratus_cli.dashboard.session import Session, one

Form = t.Mapping[str, list[str]]
# os-keypairs' fields as the form names its inputs (an import's and a create's name share the field)
INPUTS = {"name": "name", "public_key": "public_key"}


async def _listing(api: Api, status: int = 200, form: t.Optional[str] = None,
                   values: t.Optional[dict[str, str]] = None, errors: t.Optional[dict[str, str]] = None,
                   refused: t.Optional[str] = None) -> Page:
    """The list and the two forms; ``form`` says which form a refusal belongs to (import, create)."""
    pairs = [p["keypair"] for p in (await api.get("/v2.1/os-keypairs"))["keypairs"]]
    return Page("keypairs.html", {"keypairs": sorted(pairs, key=lambda p: p["name"]), "form": form,
                                  "values": values or {}, "errors": errors or {}, "refused": refused}, status)


async def _list(request: Request, session: Session, api: Api) -> Page:
    return await _listing(api)


def _refused(exc: Refusal) -> tuple[dict[str, str], t.Optional[str]]:
    """The refusal at the input its field names, else about the form as a whole."""
    at = INPUTS.get(exc.field or "")
    return ({at: exc.message}, None) if at else ({}, exc.message)


async def _import(request: Request, session: Session, api: Api, form: Form) -> Page:
    name, public_key = one(form, "name"), one(form, "public_key")
    try:
        await api.post("/v2.1/os-keypairs", {"keypair": {"name": name, "public_key": public_key, "type": "ssh"}})
    except Refusal as exc:
        if exc.status == 401:
            raise
        errors, refused = _refused(exc)
        return await _listing(api, exc.status, "import", {"name": name, "public_key": public_key}, errors, refused)
    return Page(response=redirect("/dashboard/keypairs"))


async def _create(request: Request, session: Session, api: Api, form: Form) -> Page:
    """A generated key pair: its private key on this answer only."""
    name = one(form, "name")
    try:
        reply = await api.post("/v2.1/os-keypairs", {"keypair": {"name": name, "type": "ssh"}})
    except Refusal as exc:
        if exc.status == 401:
            raise
        errors, refused = _refused(exc)
        return await _listing(api, exc.status, "create", {"name": name}, errors, refused)
    return Page("keypair_created.html", {"keypair": reply.body["keypair"]}, 201)


async def _delete(request: Request, session: Session, api: Api, form: Form) -> Page:
    # the name goes in the API's path as given: a name with a / matches no route there (404), never another
    await api.delete("/v2.1/os-keypairs/" + one(form, "name"))
    return Page(response=redirect("/dashboard/keypairs"))


ROUTES = [
    Route("/keypairs", page(_list), methods=["GET"]),
    Route("/keypairs/import", form_page(_import), methods=["POST"]),
    Route("/keypairs/create", form_page(_create), methods=["POST"]),
    Route("/keypairs/delete", form_page(_delete), methods=["POST"]),
]
