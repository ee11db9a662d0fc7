"""How close and how fast the token estimate is.

Run: ``uv run python tests/benchmarks/bench_tokens.py [--repeat R]``

Prints, per provider and per kind of text, the mean and p95 relative error of
``TokenCounter.count_tokens`` (the estimate) against the providers' counting as the
sandbox does it, on real installed text (tests/llmopt/tokens/corpus.py says which);
then the time to count a 100,000-token prompt (prose and code; non-English text; then
the non-English text of a few scripts alone), the best and the median of R runs, beside
the sandbox's regular expression. The sandbox's OpenAI and Ollama
stand-ins count text as its Anthropic one does, so the per-provider rows differ only if
a provider's text counting does.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import time
from pathlib import Path

from llmopt.sandbox._tokens import text_tokens as providers_count
from llmopt.tokens import TokenCounter

MODELS = {"anthropic": "claude-sonnet-4-6", "openAI": "gpt-5.4-mini", "ollama": "llama3.1"}


def load_corpus() -> dict[str, list[str]]:
    path = Path(__file__).parents[1] / "llmopt" / "tokens" / "corpus.py"
    spec = importlib.util.spec_from_file_location("token_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    samples: dict[str, list[str]] = module.corpus()
    return samples


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def prompt_of(texts: list[str], tokens: int) -> str:
    parts: list[str] = []
    total = 0
    while total < tokens:
        for text in texts:
            parts.append(text)
            total += providers_count(text)
            if total >= tokens:
                break
    return "\n\n".join(parts)


def timed_ms(function: object, text: str, repeat: int) -> tuple[float, float]:
    """The best and the median time of ``repeat`` runs, in milliseconds."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(text)  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return min(timings) * 1_000, statistics.median(timings) * 1_000


# The non-English samples of a few scripts, told apart by their letters.
SCRIPTS = {
    "Hindi": "[\u0900-\u097f]",
    "Arabic, Persian": "[\u0600-\u06ff]",
    "CJK": "[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3]",
    "Cyrillic": "[\u0400-\u04ff]",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    corpus = load_corpus()
    counter = TokenCounter()
    print(f"{'provider':10} {'kind':12} {'samples':>7} {'mean err':>9} {'p95 err':>8} method")
    for provider, model in MODELS.items():
        everything: list[float] = []
        for kind, samples in corpus.items():
            errors = [
                abs(counter.count_tokens(s, model) - providers_count(s)) / providers_count(s)
                for s in samples
            ]
            everything += errors
            if errors:
                print(
                    f"{provider:10} {kind:12} {len(errors):7d} {statistics.mean(errors):9.2%} "
                    f"{p95(errors):8.2%} {counter.method(model)}"
                )
        print(
            f"{provider:10} {'all':12} {len(everything):7d} {statistics.mean(everything):9.2%} "
            f"{p95(everything):8.2%}"
        )
    print()
    prompts = [
        ("prose and code", corpus["prose"] + corpus["code"]),
        ("non-English", corpus["non_english"]),
    ]
    for script, letters in SCRIPTS.items():
        texts = [text for text in corpus["non_english"] if re.search(letters, text)]
        if texts:
            prompts.append((f"{script} alone", texts))
    for label, texts in prompts:
        prompt = prompt_of(texts, 100_000)
        count = providers_count(prompt)
        best, median = timed_ms(
            lambda t: counter.count_tokens(t, MODELS["anthropic"]), prompt, args.repeat
        )
        regex_ms, _ = timed_ms(providers_count, prompt, max(3, args.repeat // 4))
        print(
            f"100k-token prompt, {label}: {count:,} tokens, {len(prompt):,} chars: "
            f"estimate best {best:.2f} ms, median {median:.2f} ms "
            f"(regular expression {regex_ms:.1f} ms)"
        )


if __name__ == "__main__":
    main()
