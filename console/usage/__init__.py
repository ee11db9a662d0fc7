"""Usage: what the optimization saves, as the Overview and Statistics pages show it.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Overview (and its live part) and Statistics pages
``statistics`` the numbers, summed by the store (also the API's)
``charts``     line charts as inline SVG, drawn on the server
=============  ==============================================================
"""
