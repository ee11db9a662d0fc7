"""Every action the audit log records, named once, with what each means to a reader.

The audit page offers these as its action filter. The security tests perform every
change the console and llmopt can make and fail when one records an action missing here.
"""

from __future__ import annotations

from llmopt.config import ACTION_UPDATE
from llmopt.failover import ACTION_FORCE
from llmopt.failover import ACTION_RELEASE as CIRCUIT_RELEASE
from llmopt.killswitch import ACTION_ENGAGE, ACTION_RELEASE
from llmopt.migrate import ACTION_MIGRATE, ACTION_REVERSE
from llmopt.routing import ACTION_UPDATE_ROUTING
from llmopt.tokens import ACTION_UPDATE_BUDGETS

from ..responses.edit import ACTION_INVALIDATE_RESPONSES, ACTION_UPDATE_RESPONSES

BATCH_CANCEL = "batch.cancel"
CONFIG_SEED = "config.seed"
USER_CREATE = "user.create"
USER_ROLE = "user.role"
USER_ACTIVATE = "user.activate"
USER_DEACTIVATE = "user.deactivate"
USER_PASSWORD_RESET = "user.password_reset"
USER_PASSWORD_CHANGE = "user.password_change"
TOKEN_CREATE = "token.create"
TOKEN_REVOKE = "token.revoke"
SIGNIN_FAIL = "signin.fail"
LOCKOUT_START = "lockout.start"
LOCKOUT_LIFT = "lockout.lift"
# llmopt.quality's and llmopt.orchestration's action names, spelled here: importing those
# packages loads LangChain, which the console and its commands must start without.
ACTION_UPDATE_QUALITY = "quality.update"
ACTION_UPDATE_ORCHESTRATION = "orchestration.update"
# llmopt.retrieval's, spelled here for the same reason (it needs numpy, an extra).
ACTION_REINDEX_CONTEXT = "retrieval.reindex"
ACTION_DELETE_CONTEXT_DOCUMENT = "retrieval.delete"

AUDIT_ACTIONS: dict[str, str] = {
    ACTION_UPDATE: "flags edited",
    ACTION_ENGAGE: "rollback (kill switch engaged)",
    ACTION_RELEASE: "restore (kill switch released)",
    ACTION_MIGRATE: "flags added by the migration",
    ACTION_REVERSE: "migration reversed",
    CONFIG_SEED: "demo configuration seeded",
    BATCH_CANCEL: "batch cancelled",
    ACTION_UPDATE_ROUTING: "routing settings edited",
    ACTION_FORCE: "circuit forced open or closed",
    CIRCUIT_RELEASE: "circuit force cleared",
    ACTION_UPDATE_BUDGETS: "budgets edited",
    ACTION_UPDATE_RESPONSES: "response cache settings edited",
    ACTION_INVALIDATE_RESPONSES: "stored answers invalidated",
    ACTION_UPDATE_QUALITY: "quality monitoring settings edited",
    ACTION_UPDATE_ORCHESTRATION: "an entry's orchestration strategy edited",
    ACTION_REINDEX_CONTEXT: "retrieval index re-embedded",
    ACTION_DELETE_CONTEXT_DOCUMENT: "document deleted from a retrieval index",
    TOKEN_CREATE: "API token issued",
    TOKEN_REVOKE: "API token revoked",
    USER_CREATE: "user created",
    USER_ROLE: "role changed",
    USER_DEACTIVATE: "user deactivated",
    USER_ACTIVATE: "user reactivated",
    USER_PASSWORD_RESET: "password reset by an admin",
    USER_PASSWORD_CHANGE: "own password changed",
    SIGNIN_FAIL: "failed sign-in (wrong password or unknown user)",
    LOCKOUT_START: "locked out after repeated failed sign-ins or refused API tokens",
    LOCKOUT_LIFT: "lockout lifted by an admin",
}
