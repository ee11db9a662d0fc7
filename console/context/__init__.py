"""Context: the retrieval indexes beside the store, a search that shows what a prompt
would get, and re-indexing and deleting documents for operators (audited).

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Context page (indexes live, search, re-index, delete)
``forms``      the search form and the two audited action forms
``indexes``    finding and opening the indexes; the only door to
               ``llmopt.retrieval`` (numpy), so the console loads without it
``actions``    search, re-index and delete, shared by the page and the API
=============  ==============================================================
"""
