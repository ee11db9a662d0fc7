"""What the demo's traffic asks: one long shared system prompt and varied questions.

The system prompt is a made-up outdoor shop's support handbook, well over the
1,024-token minimum below which Claude Sonnet caches nothing, so the wrapper's
breakpoint on it pays: every call after the first reads it from the cache.
"""

from __future__ import annotations

import random

_POLICIES = (
    "Greet the customer by name when it is known, answer in plain language, and keep "
    "replies under five sentences unless the customer asks for detail.",
    "Returns are accepted within 60 days of delivery for unused items in their original "
    "packaging; worn footwear may be returned within 30 days if it failed in normal use.",
    "Refunds go back to the original payment method within five business days of the "
    "parcel reaching our warehouse; store credit is issued at once if the customer prefers.",
    "Exchanges for a different size ship free of charge, once per order; further exchanges "
    "are charged at the standard shipping rate of the destination country.",
    "Standard shipping takes three to five business days within the country and seven to "
    "twelve abroad; express shipping takes one to two business days and is tracked.",
    "Never promise a delivery date that the carrier has not confirmed; quote the tracking "
    "page instead and offer to open a carrier investigation after five days without a scan.",
    "Warranty claims need the order number and a photo of the fault; we replace the item or "
    "refund it in full, and the customer keeps the faulty one unless we ask for it back.",
    "Do not give medical, legal or safety-critical advice about climbing, avalanche or "
    "water equipment beyond what the manufacturer's manual states; point to the manual.",
    "Price matching applies to identical items sold new by a national retailer within 14 "
    "days of purchase; marketplace sellers and clearance prices are excluded.",
    "Loyalty members earn one point per currency unit spent and can redeem 500 points for a "
    "voucher worth 25; points expire 24 months after they were earned.",
    "Gift cards never expire, cannot be exchanged for cash, and can be combined with one "
    "promotional code per order; lost gift cards are replaced only with proof of purchase.",
    "Escalate to a human agent when the customer is angry after two replies, mentions an "
    "injury, a chargeback or a lawyer, or asks for something these policies do not cover.",
    "Repairs of zips, buckles and seams are free for the first two years on our own brand; "
    "other brands are repaired at cost, quoted before any work starts.",
    "Rental gear must be returned clean and dry; late returns are charged one extra day per "
    "day late, and damage beyond normal wear is charged at the published repair rates.",
)

_CATEGORIES = ("tent", "backpack", "jacket", "boot", "sleeping bag", "stove", "headlamp", "pole")
_NAMES = ("Ridge", "Summit", "Alder", "Cirrus", "Tarn", "Basalt", "Juniper", "Fjord", "Cobalt")

PRODUCTS: tuple[str, ...] = tuple(
    f"{name} {category}" for category in _CATEGORIES for name in _NAMES
)


def _catalogue() -> str:
    rows = []
    for number, product in enumerate(PRODUCTS, start=1):
        price = 29 + (number * 37) % 420
        warranty = 1 + number % 5
        rows.append(
            f"- SKU OS-{1000 + number}: {product.title()}, price {price}.00, "
            f"{warranty}-year warranty, {'in stock' if number % 4 else 'back-ordered'}"
        )
    return "\n".join(rows)


SYSTEM_PROMPT = (
    "You are the support assistant of Open Sky Outfitters, an outdoor equipment shop.\n\n"
    "Policies you must follow:\n"
    + "\n".join(f"{n}. {policy}" for n, policy in enumerate(_POLICIES, start=1))
    + "\n\nCatalogue (SKU, product, price, warranty, availability):\n"
    + _catalogue()
)

_QUESTIONS = (
    "Does the {product} come with a warranty, and how long is it?",
    "I bought the {product} three weeks ago and the zip broke. What can I do?",
    "Is the {product} in stock, and how fast can you ship it abroad?",
    "Can I return the {product} if I already took it on one trip?",
    "Another shop sells the {product} for less. Will you match the price?",
    "How many loyalty points do I earn if I buy the {product}?",
    "Can I rent the {product} for a weekend instead of buying it?",
    "My {product} arrived damaged. Who pays for the return shipping?",
    "Can I pay for the {product} with two gift cards and a promo code?",
    "What size exchange options do I have for the {product}?",
)

_REVIEWS = (
    "Used the {product} for a week in the rain and it held up, but it is heavier than listed.",
    "The {product} arrived a day late and the box was crushed; the item itself was fine.",
    "Great value. The {product} packs small and the instructions were clear.",
    "Returned the {product}: the fit was wrong and the exchange took two weeks.",
    "Third season with the {product}, still going strong after a seam repair you did free.",
)


def question(rng: random.Random) -> str:
    """A customer question about a random product."""
    return rng.choice(_QUESTIONS).format(product=rng.choice(PRODUCTS))


def review_task(rng: random.Random) -> str:
    """Offline work a batch suits: sort a customer review for the support team."""
    review = rng.choice(_REVIEWS).format(product=rng.choice(PRODUCTS))
    return f"Classify this review as praise, complaint or question, in one word: {review}"
