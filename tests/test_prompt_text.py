"""The comparable form of a prompt: what we typed against what Claude Code recorded."""

from __future__ import annotations

from orc.record.prompt_text import comparable, prompt_key, same_prompt, unwrap_pasted

ENVELOPED = '\n\n<pasted_content id="a1b2">\nline one\n    tabbed\nlast \\\n</pasted_content id="a1b2">\n'


def test_an_envelope_is_replaced_by_its_exact_inside() -> None:
    assert unwrap_pasted(ENVELOPED) == "\n\nline one\n    tabbed\nlast \\\n"
    assert same_prompt(ENVELOPED, "line one\n\ttabbed\nlast \\ ")


def test_a_different_text_or_an_envelope_with_mismatched_ids_is_not_the_same() -> None:
    assert not same_prompt(ENVELOPED, "line one\n\ttabbed\nlast")
    broken = ENVELOPED.replace('</pasted_content id="a1b2">', '</pasted_content id="zzzz">')
    assert unwrap_pasted(broken) == broken


def test_the_key_is_the_hash_of_the_comparable_form() -> None:
    assert prompt_key("hello\t") == prompt_key("hello") != prompt_key("hello!")
    assert comparable("  spaced out \n") == "spaced out"
