"""Quality: scored answers per entry and model, degradation, A/B tests, and each entry's
orchestration strategy.

The scores come from the core's quality tracker (``llmopt.quality``), which scores
routed answers in the background into per-minute roll-ups; this package only reads them,
and edits the document's ``quality`` object and entries' ``configuration.orchestration``
through the core's validated, audited updates.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Quality page (scores live, settings, strategies per entry)
``forms``      the ``quality`` settings form and an entry's strategy form
               (the core's rules, applied on saving)
``overview``   what the page and ``/api/quality`` show
``chart``      an entry's mean score per hour, as inline SVG
=============  ==============================================================
"""
