"""A conservative token estimate: better to refuse a record Bedrock would take than to
start a job that fails hours in on one that is too long.

No tokenizer ships with the Lambda runtime, and each model family has its own. One token
per 3 bytes of UTF-8 over-counts English (about 4 characters a token) and counts CJK text
(3 bytes a character) at one token a character, close to what the tokenizers do. Users have
reported that 6 characters a token still overflowed a 4,096-token limit.
"""

from __future__ import annotations

BYTES_PER_TOKEN = 3


def estimate_tokens(text: str) -> int:
    """Tokens for `text`, rounded up: an upper estimate for the supported model families.

    Raises UnicodeEncodeError when `text` is not Unicode text: a lone surrogate, which JSON's
    `\\ud800` escape gives and no model reads. The scanner reports it at its line; text
    decoded from UTF-8 bytes (plain text files) cannot hold one.
    """
    if text.isascii():
        return -(-len(text) // BYTES_PER_TOKEN)
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)
