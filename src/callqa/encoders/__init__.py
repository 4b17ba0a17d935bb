"""Sentence encoders for semantic criteria (plugins of entry point group ``callqa.encoders``).

Like ``callqa.asr``, this package sits outside the core: the rubric engine asks for an encoder
by name through ``callqa.rubric.semantic.get_encoder`` and never imports a model library itself.
"""
