from __future__ import annotations

import pytest

from llmopt.errors import RecordNotFound
from llmopt.sandbox import BatchOptions, SandboxServer
from llmopt.store import BatchStatus, SQLiteStore

from .conftest import Time, ask, batch_client, sdk, words

SLOW = {"batches": BatchOptions(item_seconds=10, parallelism=5)}
pytestmark = pytest.mark.parametrize("sandbox_options", [SLOW])


async def test_synchronous_code_cancels_a_batch_another_client_submitted(
    store: SQLiteStore, time: Time, sandbox: SandboxServer
) -> None:
    producer_sdk = sdk(sandbox)
    [submitted] = await batch_client(producer_sdk, store, time).submit(
        [ask(words(n + 1)) for n in range(20)]
    )
    await producer_sdk.close()
    operator = batch_client(sdk(sandbox), store, time)
    try:
        canceling = operator.cancel_sync(submitted.id)
        with pytest.raises(RecordNotFound):
            operator.cancel_sync("no-such-batch")
    finally:
        operator.close()

    assert canceling.status is BatchStatus.CANCELING
    assert store.get_batch(submitted.id).status is BatchStatus.CANCELING
    assert sandbox.batch_calls().get("cancel") == 1
