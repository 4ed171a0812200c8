"""The asset store the settings choose: the local folder, or an S3-compatible bucket."""

from __future__ import annotations

from printwork.config import Settings
from printwork.core.assets.storage import AssetStorage, LocalStorage


def open_asset_storage(settings: Settings) -> AssetStorage:
    if not settings.storage_url:
        return LocalStorage(settings.files_dir)
    from printwork.core.assets.s3_storage import S3Storage, parse_s3_url

    bucket, prefix = parse_s3_url(settings.storage_url)
    secret = settings.s3_secret_access_key
    return S3Storage(
        bucket, prefix, settings.data_dir / "scratch", endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region, access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
    )
