"""Model providers: what a tier asks and how it is answered.

Owns the contract (``completion``: Provider, Request, Completion), the OpenAI-compatible client
(``openai_provider``) with its call accounting (``calls``) and runaway detection (``runaway``),
and the choice of provider for a tier (``factory``). May import ``harness.config``,
``harness.errors`` and ``harness.modes``.
"""
