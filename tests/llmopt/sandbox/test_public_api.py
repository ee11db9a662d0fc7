from __future__ import annotations

import llmopt.sandbox


def test_the_sandbox_exports_exactly_its_public_names() -> None:
    assert llmopt.sandbox.__all__ == [
        "API_KEYS_VARIABLE",
        "BatchItemFault",
        "BatchOptions",
        "Billing",
        "Clock",
        "FaultKind",
        "FaultPlan",
        "FaultRule",
        "ManualClock",
        "ModelBilling",
        "ResponseHold",
        "SandboxOptions",
        "SandboxServer",
        "running_sandbox",
    ]
    assert all(hasattr(llmopt.sandbox, name) for name in llmopt.sandbox.__all__)
