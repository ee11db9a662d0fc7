from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import llmopt

PINNED = [
    "AIConfigDocument",
    "ArangoStore",
    "AuditEvent",
    "AuditRecord",
    "BatchCanceled",
    "BatchError",
    "BatchRecord",
    "BatchStatus",
    "BudgetExceeded",
    "CacheManager",
    "CachePlan",
    "CacheStats",
    "CallCost",
    "ConfigError",
    "ConflictError",
    "ContextRetriever",
    "Document",
    "DocumentName",
    "FailoverHandler",
    "FieldProblem",
    "FlagWatcher",
    "KillSwitchState",
    "LLMCacheLayer",
    "LLMEntry",
    "LLMOptError",
    "LLMQualityMonitor",
    "LLMRouter",
    "MigrationError",
    "MigrationReport",
    "MultiLLMOrchestrator",
    "NoEligibleEntry",
    "NoHealthyEntry",
    "OptimizationConfig",
    "OptimizationError",
    "OptimizedLLMWrapper",
    "PrefixMemory",
    "PromptEngineer",
    "ProviderCapabilities",
    "ProviderError",
    "RecordNotFound",
    "RoutedChatModel",
    "SQLiteStore",
    "SemanticChunker",
    "Store",
    "StoreError",
    "StoredResult",
    "TokenCounter",
    "TokenUsage",
    "UsageRecorder",
    "UsageRollup",
    "cost_of",
    "engage_kill_switch",
    "get_generator_model",
    "get_routed_model",
    "load_document",
    "migrate",
    "open_store",
    "plan_breakpoints",
    "read_kill_switch",
    "redact",
    "release_kill_switch",
    "reverse_migration",
    "store_from_env",
    "update_entry_flags",
]


def test_the_public_names_are_pinned_and_sorted() -> None:
    assert llmopt.__all__ == PINNED
    assert sorted(PINNED, key=lambda name: (not name[0].isupper(), name)) == PINNED


def test_every_public_name_exists() -> None:
    for name in llmopt.__all__:
        assert getattr(llmopt, name) is not None


def test_every_error_descends_from_the_one_root() -> None:
    errors = [llmopt.ConfigError, llmopt.StoreError, llmopt.ConflictError, llmopt.RecordNotFound]
    errors += [llmopt.MigrationError, llmopt.ProviderError]
    assert all(issubclass(error, llmopt.LLMOptError) for error in errors)


def test_importing_llmopt_never_imports_django() -> None:
    code = (
        "import sys, llmopt, llmopt.config, llmopt.store, llmopt.providers, llmopt.migrate, "
        "llmopt.killswitch, llmopt.caching, llmopt.wrapper, llmopt.sandbox; "
        "bad = sorted(m for m in sys.modules "
        "if m == 'django' or m.startswith(('django.', 'ninja', 'celery')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Each package's public names, pinned here in one place: a name added or removed is a
# decision about the API, taken in this file.
PACKAGES: dict[str, list[str]] = {
    "llmopt.batching": [
        "AnthropicBatchClient",
        "BatchOutcome",
        "BatchRequest",
        "InFlight",
        "fingerprint",
    ],
    "llmopt.caching": [
        "BREAKPOINT_LITERAL",
        "LOOKBACK_BLOCKS",
        "Breakpoint",
        "CacheManager",
        "CachePlan",
        "PrefixMemory",
        "plan_breakpoints",
    ],
    "llmopt.chunking": ["STRATEGIES", "SemanticChunker", "detect_language"],
    "llmopt.failover": [
        "ACTION_FORCE",
        "ACTION_RELEASE",
        "KIND_CLOSED",
        "KIND_FAILOVER",
        "KIND_FORCED",
        "KIND_OPENED",
        "METADATA_KEY",
        "Attempt",
        "Backoff",
        "CircuitBoard",
        "CircuitBreakerSettings",
        "ErrorClass",
        "FailoverHandler",
        "NoHealthyEntry",
        "aretry_with_backoff",
        "circuit_board_for",
        "classify_error",
        "classify_response",
        "retry_after_of",
        "retry_with_backoff",
    ],
    "llmopt.providers": [
        "KNOWN_PROVIDERS",
        "PRICES_CHECKED",
        "BatchLimits",
        "CachingStyle",
        "CallCost",
        "ProviderCapabilities",
        "TokenUsage",
        "cost_of",
        "find_openai_model",
        "get_batch_limits",
        "get_cache_config",
        "supports_batching",
        "supports_caching",
    ],
    "llmopt.embeddings": [
        "EMBEDDINGS_MISSING",
        "WordLlamaEmbeddings",
        "default_embeddings",
        "load_wordllama_offline",
    ],
    "llmopt.orchestration": [
        "ACTION_UPDATE_ORCHESTRATION",
        "CONSENSUS_METHODS",
        "ORCHESTRATION",
        "ORCHESTRATION_KEY",
        "OrchestratedChatModel",
        "OrchestrationSettings",
        "TaskResult",
        "orchestration_of",
        "update_orchestration",
        "CallRecord",
        "CascadeResult",
        "ConsensusResult",
        "MultiLLMOrchestrator",
        "ParallelResult",
        "Scorer",
        "Similarity",
        "jaccard_similarity",
        "normalise_answer",
        "rank_results",
        "usable_answer_score",
    ],
    "llmopt.prompts": [
        "TEMPLATES",
        "AssembledPrompt",
        "EmbeddingSimilarity",
        "Example",
        "LexicalSimilarity",
        "PromptBlock",
        "PromptEngineer",
        "PromptRequest",
        "ReferenceDocument",
        "SimilarityScorer",
        "TaskTemplate",
        "family_of",
        "infer_prompt_task",
        "output_instruction",
        "schema_of",
    ],
    "llmopt.quality": [
        "ACTION_UPDATE_QUALITY",
        "DEFAULT_WEIGHTS",
        "QUALITY",
        "SIGNIFICANCE",
        "ABResult",
        "ABTest",
        "Degradation",
        "DegradationSettings",
        "QualitySettings",
        "QualitySummary",
        "QualityTracker",
        "TestResult",
        "alert_body",
        "answer_flags",
        "compare_arms",
        "draw_arm",
        "judge_degradation",
        "masked_quality",
        "quality_tracker_for",
        "two_proportion_z_test",
        "update_quality",
        "welch_t_test",
        "window_start",
        "CheckResult",
        "LLMQualityMonitor",
        "QualityScore",
        "check_code",
        "check_completeness",
        "check_refusal_and_safety",
        "check_relevance",
        "check_support",
        "combine",
        "is_truncated",
        "judge_response",
        "leaked_secrets",
        "validate_json_schema",
    ],
    "llmopt.responses": [
        "ACTION_INVALIDATE",
        "METADATA_KEY",
        "RESPONSE_CACHE",
        "URL_VARIABLE",
        "CacheHit",
        "CacheLookup",
        "CanonicalRequest",
        "EntryStats",
        "LLMCacheLayer",
        "LangChainResponseCache",
        "ResponseBackend",
        "ResponseCacheSettings",
        "SQLiteResponses",
        "StoredAnswer",
        "backend_for",
        "canonical_request",
        "response_cache_for",
        "settings_of",
    ],
    "llmopt.retrieval": [
        "ACTION_DELETE_DOCUMENT",
        "ACTION_REINDEX",
        "ArangoVectorIndex",
        "ContextRetriever",
        "DEFAULT_EMBEDDER",
        "DocumentInfo",
        "EmbedderMismatchError",
        "IndexInfo",
        "IndexReport",
        "IndexedChunk",
        "LLMOptRetriever",
        "ReindexReport",
        "RetrievedContext",
        "SQLiteVectorIndex",
        "SearchHit",
        "SearchMode",
        "VectorIndex",
        "assemble_context",
        "default_index_path",
        "embedder_name",
        "list_indexes",
        "read_document_infos",
        "read_index_info",
        "reciprocal_rank_fusion",
    ],
    "llmopt.routing": [
        "ACTION_UPDATE_ROUTING",
        "ROUTE_KEY",
        "Candidate",
        "CandidateReport",
        "EntryRouting",
        "LLMRouter",
        "ModelFacts",
        "Performance",
        "PerformanceBook",
        "RequestProfile",
        "RouteDecision",
        "RoutedChatModel",
        "RoutingRule",
        "RoutingSettings",
        "TaskKind",
        "candidates_of",
        "get_routed_model",
        "infer_task",
        "model_facts",
        "profile_request",
        "update_routing",
    ],
    "llmopt.sandbox": [
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
    ],
    "llmopt.tokens": [
        "ACTION_UPDATE_BUDGETS",
        "Admission",
        "BudgetExceeded",
        "BudgetGuard",
        "BudgetSettings",
        "BudgetStatus",
        "Method",
        "ModelUsage",
        "TokenCounter",
        "WebhookSender",
        "masked_budgets",
        "masked_webhook",
        "update_budgets",
    ],
}


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exports_exactly_its_pinned_names(package: str) -> None:
    module = importlib.import_module(package)

    assert module.__all__ == PACKAGES[package]
    assert all(hasattr(module, name) for name in module.__all__)


@pytest.mark.parametrize(
    "package", ["llmopt.batching", "llmopt.caching", "llmopt.providers", "llmopt.responses"]
)
def test_these_packages_load_neither_django_nor_langchain(package: str) -> None:
    code = (
        f"import sys, {package}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'langchain_core'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
