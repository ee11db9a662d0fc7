"""Responses: the response cache's statistics per entry, its settings, and invalidation.

The response cache serves whole answers without calling the model; it is not prompt
caching, whose hit rates are on the Statistics page.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Responses page (statistics live, settings per entry,
               invalidation)
``forms``      the settings form (the core's rules) and the invalidation form
``edit``       saving an entry's ``responseCache`` (validated, optimistic,
               audited) and invalidating answers (audited)
``overview``   what the page and the API show per entry
=============  ==============================================================
"""
