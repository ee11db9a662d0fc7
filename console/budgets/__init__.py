"""Budgets: the document's ``budgets`` list, each budget's spend this period, and its alerts.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Budgets page (spend and alerts live) and saving the list
``forms``      the budgets form: the list as JSON, checked by the core
``spend``      each budget's spend in its current period, as the page shows it
=============  ==============================================================
"""
