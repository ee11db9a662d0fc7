"""Batches: the provider batches in the ledger, followed live, and cancelled by operators.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Batches list, a batch's page, and its cancel
``progress``   how far a batch has got: done of total, elapsed time, an ETA
``table``      what the list's rows and the bars show (``row.html`` draws them)
``cancel``     a person's cancel: recorded and audited; the provider asked
               in the background (also the API's)
=============  ==============================================================
"""
