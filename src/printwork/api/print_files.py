"""A print file as a lab downloads it: through the lab API, or by an operator working the lab's queue."""

from __future__ import annotations

from starlette.responses import Response

from printwork.api.context import AppContext
from printwork.api.stored_files import stored_file_response
from printwork.core.assets.storage import print_file_key, print_file_pdf_key
from printwork.core.errors import EntityNotFound
from printwork.core.labs import service as labs
from printwork.core.orders.domain import asset_public_id


async def lab_print_file_response(ctx: AppContext, lab_code: str, asset_id: int) -> Response:
    """The file, only when the asset belongs to a shipment sent to that lab."""
    found = await ctx.in_session(lambda s: labs.print_file_owner(s, lab_code, asset_id))
    if found is None:
        raise EntityNotFound("no such print file for this lab")
    order_id, original_format = found
    is_pdf = original_format == "pdf"
    key = (print_file_pdf_key if is_pdf else print_file_key)(order_id, asset_id)
    try:
        return await stored_file_response(ctx, key, "application/pdf" if is_pdf else "image/jpeg",
                                          cache_control="private, no-store",
                                          filename=f"{asset_public_id(asset_id)}.{'pdf' if is_pdf else 'jpg'}")
    except FileNotFoundError:
        raise EntityNotFound("the print file is no longer kept") from None
