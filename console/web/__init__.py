"""What every page of the console shares: the signed-in request type and the access check
(``access``), the live-refresh intervals (``polling``), the free-text form field
(``forms``), the client's address and the middleware that answers before any view
(``no_store``, ``body_limits``)."""
