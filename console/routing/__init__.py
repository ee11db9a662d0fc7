"""Routing: the document's ``routing`` object, the entries' circuits, and what routing did.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Routing page (settings, circuits, incidents, statistics,
               decisions; live fragments) and forcing a circuit
``forms``      the routing settings form (the core's rules) and the force form
``overview``   what the page and the API show: circuits per entry, last hour's
               statistics, recent incidents and decisions
=============  ==============================================================
"""
