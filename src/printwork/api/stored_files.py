"""Answering with a stored file, wherever the store keeps it.

A local file goes out as it lies (sendfile, ranges); an object in S3 is streamed through, or,
when PRINTWORK_STORAGE_SIGNED_URL_SECONDS is set, the client is sent to a short-lived signed URL
and fetches it from the store itself.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from printwork.api.context import AppContext


async def stored_file_response(ctx: AppContext, key: str, media_type: str, *, cache_control: str,
                               filename: str | None = None) -> Response:
    """The file at `key`; FileNotFoundError when the store no longer has it."""
    storage = ctx.storage
    path = storage.local_file(key)
    if path is not None:
        if not path.is_file():
            raise FileNotFoundError(key)
        return FileResponse(path, media_type=media_type, filename=filename, headers={"Cache-Control": cache_control})
    seconds = ctx.settings.storage_signed_url_seconds
    if seconds:
        def sign() -> str | None:
            # A file gone from the store is a 404 here, not a redirect to the store's own error.
            if not storage.exists(key):
                raise FileNotFoundError(key)
            return storage.signed_url(key, seconds, media_type, filename)

        url = await ctx.blocking(sign)
        if url is not None:
            # The redirect may be kept only while the URL it names still works.
            return RedirectResponse(url, status_code=307,
                                    headers={"Cache-Control": f"private, max-age={max(0, seconds // 2)}"})
    size, chunks = await ctx.blocking(storage.open_chunks, key)
    headers = {"Cache-Control": cache_control, "Content-Length": str(size)}
    if filename:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(chunks, media_type=media_type, headers=headers)
