"""The token breakdown of one LLM call.

Convention (the same as genai-prices): `input_tokens` is the whole prompt, and it INCLUDES the
cache tokens. `cache_read_tokens` and `cache_write_tokens` are the parts of that input which were
read from or written to the provider's prompt cache, so each is priced at its own rate and the
rest of the input (`uncached_input_tokens`) at the input rate. An Anthropic response reports
`input_tokens` without the cache parts: the caller adds them (input = input + cache_read +
cache_creation) before recording. Because the parts are inside the total, the cache tokens
together can never exceed `input_tokens`; a breakdown where they do is refused, naming the field,
instead of being priced as if the caller meant something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from quota_sidecar.domain.errors import InvalidInput

# The bound of every count, from the one place all surfaces read it: far beyond a real call,
# and small enough that token x price stays a modest exact integer product.
from quota_sidecar.domain.validation import MAX_TOKENS

__all__ = ["MAX_TOKENS", "TokenUsage"]


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one call; input includes the cache tokens (see the module docstring)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(name, f"must be a whole number of tokens, got {value!r}")
            if not 0 <= value <= MAX_TOKENS:
                raise InvalidInput(name, f"must be between 0 and {MAX_TOKENS}, got {value}")
        cached = self.cache_read_tokens + self.cache_write_tokens
        if cached > self.input_tokens:
            field = "cache_read_tokens" if self.cache_read_tokens else "cache_write_tokens"
            if self.cache_read_tokens and self.cache_write_tokens:
                field = "cache_write_tokens"
            raise InvalidInput(
                field,
                f"cache_read_tokens + cache_write_tokens ({cached}) exceed input_tokens "
                f"({self.input_tokens}); input_tokens includes the cache tokens",
            )

    @property
    def uncached_input_tokens(self) -> int:
        """The input tokens that are neither cache reads nor cache writes."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens

    @property
    def has_tokens(self) -> bool:
        return self.input_tokens > 0 or self.output_tokens > 0
