"""Internal: how the Rust side completes asyncio futures (scheduled with call_soon_threadsafe)."""


def complete(fut, ok, value):
    """Set `fut`'s result (``ok``) or exception, unless it was cancelled or completed meanwhile."""
    if fut.done():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)
