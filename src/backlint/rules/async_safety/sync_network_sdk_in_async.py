"""BKL104 sync-network-sdk-in-async."""

from __future__ import annotations

from backlint.rules.async_safety import BlockingClientRule
from backlint.semantics.async_clients import NETWORK_PACKAGES


class SyncNetworkSdkInAsync(BlockingClientRule):
    """A blocking SDK call (boto3, smtplib, Django email or cache) inside an async function.

    What it flags:
    Inside an `async def`, a call that does network I/O through a synchronous
    SDK: boto3/botocore clients, resources, paginators and waiters
    (`s3.put_object()`, `bucket.upload_file()`, `waiter.wait()`); smtplib
    (`smtplib.SMTP(host)`, `server.sendmail()`); Django's `send_mail`,
    `send_mass_mail`, `mail_admins`, `mail_managers` and `EmailMessage.send()`;
    Django's cache (`cache.get/set/delete/...`, `caches["x"].get(...)`),
    suggesting `aget/aset/...` when the project's declared Django version has
    them (4.0+). Clients are followed as for BKL103: module level (also
    imported from another module), attribute chains, `with` targets,
    annotations, `self.<attr>`, project factory functions.
    Option `extra-blocking-calls` adds names of your own, each with what to use
    instead.

    Why:
    The SDK waits for the remote service on the event loop's thread: an S3
    upload or an SMTP handshake takes hundreds of milliseconds during which the
    worker serves no other request.

    Example:
    ```python
    import boto3

    s3 = boto3.client("s3")

    async def upload_avatar(user_id: int, data: bytes) -> None:
        s3.put_object(Bucket="avatars", Key=str(user_id), Body=data)
    ```

    Use instead:
    ```python
    import asyncio

    import boto3

    s3 = boto3.client("s3")

    async def upload_avatar(user_id: int, data: bytes) -> None:
        await asyncio.to_thread(s3.put_object, Bucket="avatars", Key=str(user_id), Body=data)
    ```

    Not flagged:
    Plain HTTP clients (`requests`, `urllib`), `time.sleep` and `open`: ruff's
    ASYNC rules own those. Making a client (`boto3.client("s3")`,
    `s3.get_paginator(...)`, `generate_presigned_url()`: no network I/O);
    calls handed uncalled to `asyncio.to_thread` or `sync_to_async`; code in a
    nested `def` or `lambda`; the cache's own `a*` methods; an awaited call.
    A client whose origin backlint cannot follow is not seen (missed alarm).

    Fix:
    None: use the async alternative named in the message (aioboto3,
    aiosmtplib, `cache.aget()`), or run the call with `asyncio.to_thread` /
    `sync_to_async`.
    """

    code = "BKL104"
    name = "sync-network-sdk-in-async"
    family = "network"
    packages = NETWORK_PACKAGES
