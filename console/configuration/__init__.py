"""Configuration: the ``llm`` entries' optimization flags and the kill switch beside them.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Configuration list, an entry's page, the Rollback page
``forms``      the flags form (the core's rules, labelled) and the rollback form
``summaries``  an entry's optimization in a few words, where it keeps its flags
=============  ==============================================================
"""
