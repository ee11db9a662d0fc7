"""Plain-text renderings shared by the management commands."""

from __future__ import annotations

from llmopt.killswitch import KillSwitchState


def describe_switch(state: KillSwitchState) -> str:
    """One line saying whether optimization is on, and who set it when and why."""
    if state.engaged:
        head = "kill switch ENGAGED: all optimization is off"
    else:
        head = "kill switch released: each entry's own flags apply"
    details = []
    if state.actor:
        details.append(f"by {state.actor}")
    if state.changed_at:
        details.append(f"at {state.changed_at:%Y-%m-%d %H:%M:%S %Z}")
    if state.reason:
        details.append(f"reason: {state.reason}")
    if state.problem:
        details.append(state.problem)
    return head + (f" ({'; '.join(details)})" if details else "")
