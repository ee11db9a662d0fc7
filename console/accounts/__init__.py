"""Accounts: who may sign in and as what.

=============  ==============================================================
module         holds
=============  ==============================================================
``views``      the Users, Password and API tokens pages
``forms``      their forms
``users``      user changes (create, role, deactivate, passwords), audited
``tokens``     API tokens: issue (shown once), recognise, revoke, audited
``signin``     the sign-in guard: failures counted, audited, lockout page
``lockouts``   who is locked out (sign-in, API tokens) and lifting it
=============  ==============================================================
"""
