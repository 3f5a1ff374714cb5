"""OASIS CAP 1.2, in and out: one namespace, one set of code maps, one writer and one reader.

``codes`` maps our words (category, severity, language) to CAP's and back; ``writer`` turns a
``CapDocument`` into the ``.cap`` every endpoint publishes; ``reader`` parses an incoming alert safely
and checks its header. What an alert means (an operator message, a 避難情報) is read in its domain
(``operators.cap``, ``evacuation.cap``), which needs that domain's services. Imports no domain.
"""
